"""Pack the guest agent into one runnable ``.pyz`` for guest images.

The guest needs only ``python3``: ``python3 watcher-adaptive-guest-agent
.pyz --channel file:/var/lib/watcher-adaptive/profile.jsonl``.
"""
from __future__ import annotations

import shutil
import tempfile
import zipapp
from pathlib import Path

import watcher_adaptive

_MAIN = """import sys
from watcher_adaptive.profiler.guest.agent import main
sys.exit(main())
"""


def build(target: Path) -> Path:
    """Write the zipapp to ``target``; only the guest package (standard
    library code) and its two parent ``__init__`` files go in."""
    root = Path(watcher_adaptive.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        guest = staging / "watcher_adaptive" / "profiler" / "guest"
        guest.mkdir(parents=True)
        shutil.copy(root / "__init__.py", staging / "watcher_adaptive")
        shutil.copy(root / "profiler" / "__init__.py", guest.parent)
        for path in sorted((root / "profiler" / "guest").glob("*.py")):
            shutil.copy(path, guest)
        (staging / "__main__.py").write_text(_MAIN)
        zipapp.create_archive(staging, target,
                              interpreter="/usr/bin/env python3",
                              compressed=True)
    return Path(target)

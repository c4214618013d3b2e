"""The ``migrate begin`` markers the libvirt qemu hook leaves
(:mod:`nova_hooks.cmd.qemu_hook`): read once per incoming guest, then
removed; stale ones (the migration never came) are swept."""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Optional

LOG = logging.getLogger(__name__)
#: a marker older than this belongs to a migration that never arrived
STALE_S = 3600.0


def take(marker_dir: str, instance_uuid: str) -> Optional[dict]:
    """The marker of ``instance_uuid`` (and remove it), or ``None``."""
    path = os.path.join(marker_dir, f"{instance_uuid}.migrate")
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        LOG.warning("hook marker %s unreadable: %s", path, exc)
        data = None
    try:
        os.unlink(path)
    except OSError:
        pass
    if not isinstance(data, dict) or not isinstance(data.get("ts"),
                                                    (int, float)):
        return None
    return data


def sweep(marker_dir: str, now: Optional[float] = None) -> int:
    """Remove markers older than :data:`STALE_S`; how many went."""
    now = time.time() if now is None else now
    removed = 0
    try:
        names = os.listdir(marker_dir)
    except OSError:
        return 0
    for name in names:
        if not name.endswith(".migrate"):
            continue
        path = os.path.join(marker_dir, name)
        try:
            if now - os.stat(path).st_mtime > STALE_S:
                os.unlink(path)
                removed += 1
        except OSError:
            continue
    return removed

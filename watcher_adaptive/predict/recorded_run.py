"""Read a run recorded by ``tools/record_profile_run.py``.

One JSON document a line (``.jsonl``, or ``.jsonl.gz``): the guest
agent's record under ``record`` (its features under ``f``) and the
workload ``phase`` running.  A file that is not that says so with its
line number, as a ``ValueError`` the command line prints in one line.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path


def read(path: Path, min_records: int = 1
         ) -> tuple[list[dict[str, float]], list[str]]:
    """The features and the phase of each record, in order.

    :raises ValueError: a line that is not a record, or fewer than
        ``min_records`` records.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    feats: list[dict[str, float]] = []
    phases: list[str] = []
    try:
        with opener(path, "rt") as f:
            for number, line in enumerate(f, start=1):
                try:
                    doc = json.loads(line)
                    feats.append(dict(doc["record"]["f"]))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(
                        f"{path}: line {number}: not a recorded guest-agent "
                        f"record ({type(exc).__name__}: {exc})") from None
                phases.append(str(doc.get("phase", "")))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not readable: {exc}") from None
    if len(feats) < min_records:
        raise ValueError(f"{path}: {len(feats)} records, at least "
                         f"{min_records} needed")
    return feats, phases

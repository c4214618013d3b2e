"""A small slice of the embedded PlanetLab day, for tests that run the
main job's code path (``watcher-adaptive simulate``) in seconds."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from watcher_adaptive.traces import load_embedded

#: the 60 busiest VMs of the embedded day over its first 8 hours: small
#: enough to replay in seconds, busy enough that the baselines migrate
VMS, SAMPLES = 60, 96


def write_planetlab_slice(parent: Path, vms: int = VMS,
                          samples: int = SAMPLES) -> Path:
    """Write the slice in the PlanetLab layout (one file per VM, integer
    CPU % per line) under ``parent/20110303``; returns that directory."""
    day = load_embedded("planetlab")
    rows = np.argsort(-day.cpu[:, :samples].mean(axis=1),
                      kind="stable")[:vms]
    trace = parent / "20110303"
    trace.mkdir()
    for row in sorted(rows):
        percent = np.rint(day.cpu[row, :samples] * 100).astype(int)
        (trace / day.vm_ids[row]).write_text(
            "".join(f"{p}\n" for p in percent))
    return trace

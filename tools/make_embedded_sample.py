#!/usr/bin/env python3
"""Rebuild the embedded default traces from the shared trace collection.

The package ships ``watcher_adaptive/data/embedded_traces.npz`` so that it
runs without ``../shared``.  It holds:

* the whole PlanetLab development day 20110303 (1,052 VMs x 288 samples,
  integer CPU %), names in sorted order: a replay on it equals a replay on
  the original directory;
* 40 Bitbrains Rnd development VMs (odd files 1, 3, …, 79) after the
  loader's cleaning and 300 s resampling: CPU in 0.01 % steps (uint16),
  memory and I/O columns as float16 (3 significant digits).

Usage: python tools/make_embedded_sample.py [SHARED_TRACES_DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from watcher_adaptive.traces import bitbrains
from watcher_adaptive.traces import embedded
from watcher_adaptive.traces import planetlab

PLANETLAB_DAY = "20110303"
BITBRAINS_FILES = [f"{n}.csv.gz" for n in range(1, 80, 2)]


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else \
        Path(__file__).resolve().parents[2] / "shared" / "traces"
    day = planetlab.load_planetlab_day(root / "planetlab" / PLANETLAB_DAY)
    bb = bitbrains.load_bitbrains(
        [root / "bitbrains-rnd" / "2013-7" / f for f in BITBRAINS_FILES],
        name="bitbrains:embedded")
    arrays = {
        "planetlab_day": np.array(PLANETLAB_DAY),
        "planetlab_ids": np.array(day.vm_ids),
        "planetlab_percent": np.round(day.cpu * 100).astype(np.uint8),
        "bitbrains_ids": np.array(bb.vm_ids),
        "bitbrains_cpu_centipercent": np.round(bb.cpu * 10000).astype(
            np.uint16),
        "bitbrains_memory_mb": bb.memory_mb.astype(np.float16),
        "bitbrains_vm_cores": bb.vm_cores,
        "bitbrains_vm_cpu_mhz": bb.vm_cpu_mhz,
        "bitbrains_vm_memory_mb": bb.vm_memory_mb,
        "bitbrains_start_epoch_s": np.array(bb.start_epoch_s),
        "bitbrains_report": np.array("\n".join(bb.report.lines())),
    }
    for key, value in bb.extra.items():
        arrays[f"bitbrains_{key}"] = value.astype(np.float16)
    out = embedded.DATA_FILE
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

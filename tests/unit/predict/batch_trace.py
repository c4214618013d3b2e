"""A fleet whose behaviour profile announces its demand: every VM runs
batch jobs at random times, each an hour of writing (the job's read and
stage phase: the disk write share rises, the CPU does not) followed by an
hour of compute while it keeps writing.  From the CPU history alone the
compute hour comes unannounced; from the trailing hour's disk write share
it does not.  Shared by the unit and functional tests of the profile
evidence."""
from __future__ import annotations

import numpy as np

from watcher_adaptive.evaluate import membership
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor
from watcher_adaptive.traces.model import TraceSet

QUIET_CPU = 0.15        # of a VM's size, between jobs
BUSY_CPU = 0.85         # in a job's compute hour
WRITING, READING = 0.9, 0.1     # disk write share in and out of a job


def trace(n_vms: int = 20, days: int = 3, seed: int = 0) -> TraceSet:
    rng = np.random.default_rng(seed)
    t = days * 288
    cpu = QUIET_CPU + 0.03 * rng.standard_normal((n_vms, t))
    write = np.full((n_vms, t), READING * 100.0)
    for v in range(n_vms):
        s = int(rng.integers(0, 40))
        while s < t:
            write[v, s:s + 24] = WRITING * 100.0
            cpu[v, s + 12:s + 24] = BUSY_CPU + 0.03 * rng.standard_normal(
                cpu[v, s + 12:s + 24].shape)
            s += 24 + int(rng.integers(24, 90))
    return TraceSet(name="synthetic:batch", interval_s=300.0,
                    vm_ids=tuple(f"vm{i}" for i in range(n_vms)),
                    cpu=np.clip(cpu, 0.0, 1.0).astype(np.float32),
                    extra={"disk_write_kbs": write,
                           "disk_read_kbs": 100.0 - write},
                    start_epoch_s=1.7e9)


def trained(horizon_s: float = 1800.0) -> predictor.Predictor:
    """The product's predictor fitted on :func:`trace` (about 5 s)."""
    fleet = trace()
    h = int(round(horizon_s / fleet.interval_s))
    vm = dataset.vm_rows(fleet, h, np.full(fleet.n_vms, 1000.0),
                         max_rows=4_000)
    host = dataset.host_rows(fleet, h,
                             membership.LrMmtMembership()(fleet))
    return predictor.Predictor(horizon_s, interval_s=fleet.interval_s,
                               max_train_rows=4_000).fit(
        vm, host, [fleet.name])


def profile(n_vms: int, write_share: float) -> np.ndarray:
    """``(n_vms, 3)`` behaviour columns (``online.PROFILE_COLUMNS``) of
    VMs reporting only their disk write share."""
    out = np.full((n_vms, 3), np.nan)
    out[:, 1] = write_share
    return out

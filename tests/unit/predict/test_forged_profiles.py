"""A guest that forges its behaviour profile to look idle (to attract
VMs) or busy (to get its neighbours moved away): how far a forged
profile moves the forecast without the check, and that with
``max_profile_shift`` no VM's forecast moves further than the bound from
what the hypervisor's own measurements predict."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.evaluate import membership
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import online
from watcher_adaptive.predict import predictor as P
from watcher_adaptive.traces import load_embedded

BOUND = 0.15            # [watcher_strategies.adaptive_migration] default
TRAIN_SAMPLES = 10 * 288


@pytest.fixture(scope="module")
def trained():
    trace = load_embedded("bitbrains")
    h = int(round(1800.0 / trace.interval_s))
    # trained on the first 10 days (a model of the month took 3 times as
    # long, most of it in the LR-MMT replay for the host rows); the
    # forged profiles are forecast at the end of the month
    days = trace.head(TRAIN_SAMPLES)
    vm = dataset.vm_rows(days, h, np.full(days.n_vms, 1000.0),
                         max_rows=6_000)
    host = dataset.host_rows(days, h, membership.LrMmtMembership()(days))
    model = P.Predictor(1800.0, interval_s=trace.interval_s,
                        max_train_rows=6_000).fit(vm, host, [trace.name])
    return model, trace


def _forecast(model, trace, profile, bound=None, seen=None):
    t0 = trace.cpu.shape[1] - 12
    history = trace.cpu[:, :t0].astype(float)
    size = np.full(trace.n_vms, 2.0)

    def distrust(mask, shift):
        seen.append((mask.copy(), shift.copy()))

    return online.model_forecast(
        model, history, size, 0.9, 1800.0, trace.interval_s,
        trace.start_epoch_s + t0 * trace.interval_s, profile,
        max_profile_shift=bound,
        on_distrust=None if seen is None else distrust), size


@pytest.mark.hardening("forged-profile")
@pytest.mark.parametrize("bound", [BOUND, 0.02])
@pytest.mark.parametrize("look, value", [("idle", 0.0), ("busy", 1.0)])
def test_a_forged_profile_moves_no_forecast_beyond_the_bound(
        trained, look, value, bound, hardening):
    model, trace = trained
    plain, size = _forecast(model, trace, None)
    forged = np.full((trace.n_vms, 3), value)
    unchecked, _ = _forecast(model, trace, forged)
    damage = np.abs(unchecked.upper - plain.upper) / size
    seen: list = []
    checked, _ = _forecast(model, trace, forged, bound, seen)
    kept = np.abs(checked.upper - plain.upper) / size
    print(f"\nforged {look} profiles on {trace.n_vms} VMs: P90 moved up "
          f"to {damage.max():.3f} of a VM's size without the check "
          f"(mean {damage.mean():.3f}), at most {kept.max():.3f} with a "
          f"bound of {bound}")
    assert kept.max() <= bound + 1e-9
    assert np.all(np.abs(checked.expected - plain.expected) / size
                  <= bound + 1e-9)
    if damage.max() > bound:
        # every VM moved beyond the bound was reported as distrusted
        assert seen, "on_distrust was not called"
        mask, shift = seen[0]
        assert np.all(mask[damage > bound])
        assert np.all(shift[mask] > bound)
    hardening.record(
        happened=f"every VM of the Bitbrains development model forging a "
        f"{look} profile: P90 moved up to {damage.max():.3f} of a VM's "
        f"size unchecked (mean {damage.mean():.3f}); with "
        f"max_profile_shift = {bound} at most {kept.max():.3f}, "
        f"{int(seen[0][0].sum()) if seen else 0} VM(s) distrusted and "
        f"forecast from the hypervisor's history alone",
        lost=f"nothing; residual risk: a forger shades its own forecast "
        f"by up to {bound} of its size")


@pytest.mark.hardening("forged-profile")
def test_honest_profiles_are_kept(trained, hardening):
    model, trace = trained
    t0 = trace.cpu.shape[1] - 12
    honest, _ = dataset._profile_columns(
        trace, np.arange(trace.n_vms), np.full(trace.n_vms, t0 - 1))
    seen: list = []
    with_profile, size = _forecast(model, trace, honest, BOUND, seen)
    without_check, _ = _forecast(model, trace, honest)
    distrusted = seen[0][0] if seen else np.zeros(trace.n_vms, bool)
    print(f"\nhonest profiles distrusted: {int(distrusted.sum())} of "
          f"{trace.n_vms}")
    # the check only ever replaces a VM's forecast by its profile-less one
    same = np.isclose(with_profile.upper, without_check.upper)
    assert np.all(same | distrusted)
    hardening.record(
        happened=f"honest profiles: {int(distrusted.sum())} of "
        f"{trace.n_vms} VMs distrusted by the bound", lost="nothing")

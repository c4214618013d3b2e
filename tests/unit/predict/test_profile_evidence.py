"""The evidence a move's reason names: how far each VM's behaviour
profile moved its upper forecast, against the same model on its usage
history alone."""
from __future__ import annotations

import numpy as np
import pytest

from tests.unit.predict import batch_trace
from watcher_adaptive.predict import online

SIZE = 2.0


@pytest.fixture(scope="module")
def model():
    return batch_trace.trained()


def _forecast(model, profile, bound=None):
    n = 4 if profile is None else profile.shape[0]
    history = np.full((n, 12), batch_trace.QUIET_CPU)
    return online.model_forecast(
        model, history, np.full(n, SIZE), 0.9, 1800.0, 300.0,
        1.7e9 + 5 * 86400, profile, max_profile_shift=bound)


def test_a_profile_announcing_a_job_raises_the_forecast_by_its_shift(
        model):
    alone = _forecast(model, None)
    assert alone.profile_shift is None          # no profile in use
    writing = _forecast(model, batch_trace.profile(4, batch_trace.WRITING))
    reading = _forecast(model, batch_trace.profile(4, batch_trace.READING))
    # the shift is exactly what the profile added to the upper forecast
    np.testing.assert_allclose(writing.profile_shift,
                               writing.upper - alone.upper)
    np.testing.assert_allclose(reading.profile_shift,
                               reading.upper - alone.upper)
    # a write share that announces a job's compute hour raises it far
    # more than one that does not
    assert np.all(writing.profile_shift > 0.25 * SIZE)
    assert np.all(writing.profile_shift > reading.profile_shift + 0.2)


def test_a_vm_without_a_profile_has_no_evidence_and_a_distrusted_one_none_kept(
        model):
    profile = batch_trace.profile(3, batch_trace.WRITING)
    profile[1] = np.nan                          # this VM reported nothing
    unchecked = _forecast(model, profile)
    assert np.isnan(unchecked.profile_shift[1])
    assert np.isfinite(unchecked.profile_shift[[0, 2]]).all()
    # a bound the announcement exceeds: the profile is not believed, the
    # forecast is the history's alone and so is its shift
    bounded = _forecast(model, profile, bound=0.05)
    assert np.all(bounded.profile_shift[[0, 2]] == 0.0)

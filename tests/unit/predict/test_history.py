"""The training job's incremental history."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.predict import history

STEP = 300


def test_merge_appends_new_samples_and_instances_and_trims():
    h = history.empty(STEP)
    t1 = np.arange(0, 4) * STEP
    h = history.merge(h, ["a", "b"], t1, np.full((2, 4), 0.5),
                      np.full((2, 4), 100.0), np.array([2.0, 4.0]),
                      keep_s=10 * STEP)
    assert h.resource_ids == ("a", "b") and h.times.tolist() == t1.tolist()
    # next run: later samples, a new instance, b has gone quiet
    t2 = np.arange(4, 12) * STEP
    cpu = np.vstack([np.full(8, 1.0), np.full(8, np.nan), np.full(8, 2.0)])
    h = history.merge(h, ["a", "b", "c"], t2, cpu, np.full((3, 8), 50.0),
                      np.array([2.0, 4.0, 8.0]), keep_s=10 * STEP)
    # retention: the last 10 samples only
    assert h.times.tolist() == (np.arange(2, 12) * STEP).tolist()
    a, b, c = (h.resource_ids.index(r) for r in "abc")
    assert h.cpu_cores[a, 0] == 0.5 and h.cpu_cores[a, -1] == 1.0
    assert np.isnan(h.cpu_cores[c, 0]) and h.cpu_cores[c, -1] == 2.0
    assert h.vcpus[c] == 8.0
    trace = h.to_trace()
    assert trace.cpu[c, -1] == pytest.approx(0.25)
    # b's samples fall out of the retention with the next run
    h = history.merge(h, ["a"], np.array([12 * STEP]), np.ones((1, 1)),
                      np.ones((1, 1)), np.array([2.0]), keep_s=5 * STEP)
    assert "b" not in h.resource_ids


def test_save_load_round_trip_and_interval_mismatch(tmp_path):
    h = history.merge(history.empty(STEP), ["a"], np.array([0, STEP]),
                      np.array([[0.1, 0.2]]), np.array([[1.0, 2.0]]),
                      np.array([2.0]), keep_s=3600)
    path = tmp_path / "hist.npz"
    history.save(h, path)
    back = history.load(path, STEP)
    assert back.resource_ids == ("a",)
    np.testing.assert_allclose(back.cpu_cores, h.cpu_cores)
    with pytest.raises(ValueError, match="300 s"):
        history.load(path, 60)
    assert history.load(tmp_path / "missing.npz", STEP).newest is None

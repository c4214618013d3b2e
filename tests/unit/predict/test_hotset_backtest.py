"""The hot-set backtest's bookkeeping on small runs: no look-ahead in
the history features, every method scored on the same migrations."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from watcher_adaptive.core import hotset
from watcher_adaptive.predict import hotset_backtest as hb

RUN = Path(__file__).parents[3] / "tools" / "data" / "profile-run.jsonl.gz"


def test_history_features_only_see_earlier_migrations():
    data = hb.synthetic_migrations(n_vms=5, per_vm=4, seed=3)
    n_col = hotset.FEATURES.index("hist_n")
    last_col = hotset.FEATURES.index("hist_last")
    for vm in set(data["vms"]):
        rows = [i for i, v in enumerate(data["vms"]) if v == vm]
        assert [data["X"][i, n_col] for i in rows] == [0, 1, 2, 3]
        for prev, cur in zip(rows, rows[1:], strict=False):
            assert data["X"][cur, last_col] == data["y"][prev]


def test_recorded_run_migrations():
    data = hb.recorded_migrations(RUN, every=20)
    assert len(data["y"]) == len(data["types"]) > 20
    assert np.all((data["y"] > 0) & (data["y"] < 1))
    assert "working-set ratio" in data["source"]


def test_evaluate_scores_every_method_on_the_same_migrations():
    data = hb.synthetic_migrations(n_vms=30, per_vm=5, seed=2)
    out = hb.evaluate(data)
    assert set(out["mae"]) == {"model", "class_default", "static", "last"}
    assert 0 < out["test_migrations"] < out["migrations"]
    assert all(v >= 0 for v in out["mae"].values())
    assert out["model_beats_class_default"] == (
        out["mae"]["model"] < out["mae"]["class_default"])
    assert "synthetic" in hb.table([out])

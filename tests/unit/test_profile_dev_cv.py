"""tools/profile_dev_cv.py: the gate is chosen on development runs only,
a kind left out is never fitted on, and the choice keeps the held-out
goal before it looks for gain."""
from __future__ import annotations

import types

import numpy as np
import pytest

from tests import tool_module
from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import app_backtest as ab


@pytest.fixture(scope="module")
def cv():
    return tool_module.load("profile_dev_cv")


def _run(kind: str, seed: int, split: str = "development"):
    return types.SimpleNamespace(kind=kind, seed=seed, split=split,
                                 name=f"{kind}-{seed}")


def test_a_kind_left_out_is_never_fitted_on_and_same_kind_needs_a_sibling(
        cv):
    runs = [_run("redis", 1), _run("redis", 2), _run("etl", 1),
            _run("nginx", 1)]
    folds = cv.folds(runs)
    assert len(folds["other_kind"]) == 4
    for left_out, fitted in folds["other_kind"]:
        assert all(r.kind != left_out.kind for r in fitted)
    # only the redis runs have another seed of their kind
    assert [r.name for r, _ in folds["same_kind"]] == ["redis-1", "redis-2"]
    for left_out, fitted in folds["same_kind"]:
        assert left_out not in fitted
        assert any(r.kind == left_out.kind for r in fitted)


def test_no_evaluation_run_is_scored(cv):
    runs = [_run("redis", 1), _run("etl", 1), _run("nginx", 5, "evaluation")]
    with pytest.raises(ProfileDataError, match="development runs only"):
        cv.score(runs, (60,), cv.GRID[:1], 10)


def _scores(other: list[float], same: list[float] | None) -> dict:
    def cell(g):
        return {"gain": g, "profile_share": 0.5}
    out = {"other_kind": {h: [cell(g) for g in other]
                          for h in ("60", "300")}}
    if same is not None:
        out["same_kind"] = {h: [cell(g) for g in same]
                            for h in ("60", "300")}
    return out


def test_the_choice_keeps_the_held_out_goal_then_takes_the_gain(cv):
    grid = [ab.GateSettings(margin=m) for m in (0.1, 0.2, 0.3)]
    # the most gain comes with a setting that hurts an unseen kind
    assert cv.choose(_scores([-0.05, -0.01, 0.0], [0.30, 0.20, 0.10]),
                     grid) == 1
    # without a same-kind fold, the unseen kinds' gain decides
    assert cv.choose(_scores([-0.05, -0.01, 0.0], None), grid) == 2


def test_with_no_setting_safe_the_least_harmful_is_chosen(cv):
    grid = [ab.GateSettings(margin=m) for m in (0.1, 0.2)]
    assert cv.choose(_scores([-0.09, -0.03], [0.30, 0.01]), grid) == 1


def test_never_is_in_the_grid_and_never_lets_profiles_answer(cv):
    assert cv.NEVER in cv.GRID
    y = np.array([1.0, 2.0, 3.0] * 20)
    use = ab.gate(y, y + 5.0, y, np.arange(y.size), 1,
                  np.zeros(y.size, dtype=bool), cv.NEVER)
    assert not use.any()        # even a perfect profile model is not used

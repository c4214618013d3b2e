"""The behaviour-profile data set's split: evaluation runs and the
held-out kind never reach a fit."""
from __future__ import annotations

import pytest

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import profile_split as split


def test_every_run_is_in_exactly_one_split():
    seen = [run for name in split.SPLITS for run in split.runs(name)]
    assert len(seen) == len(set(seen))
    # six seeds of every kind but the held-out one, which has two
    assert len(seen) == 6 * (len(split.KINDS) - 1) + 2


@pytest.mark.parametrize("kind, seed, expected", [
    ("redis", 1, "development"), ("redis", 4, "development"),
    ("redis", 5, "evaluation"), ("etl", 6, "evaluation"),
    ("ml-training", 1, "held_out_kind"), ("ml-training", 2, "held_out_kind"),
])
def test_split_of_a_run(kind, seed, expected):
    assert split.split_of(kind, seed) == expected


def test_only_development_runs_may_be_fitted():
    fit = [run for name in split.SPLITS for run in split.runs(name)
           if split.may_fit(*run)]
    assert fit == split.runs("development")
    assert not any(kind == split.HELD_OUT_KIND for kind, _ in fit)
    assert not any(seed in split.EVALUATION_SEEDS for _, seed in fit)


@pytest.mark.parametrize("kind, seed", [
    ("ml-training", 3), ("ml-training", 5), ("redis", 7), ("redis", 0),
    ("mysql", 1)])
def test_a_run_outside_the_data_set_is_refused(kind, seed):
    with pytest.raises(ProfileDataError):
        split.split_of(kind, seed)

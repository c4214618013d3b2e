"""Which recorded application runs may fit a model, tune it, or only be
reported on.

The behaviour-profile data set holds one 15-minute run per application
kind and seed.  Seeds 1-4 of a kind are *development* (fit and tune),
seeds 5-6 *evaluation* (report only); one kind, the ML training loop, is
held out entirely (seeds 1-2, never fitted or tuned on), so that the
report also says what profiles do for an application no model has seen.
The split is fixed here, once, and everything that reads the data set
asks this module, so that no caller can let an evaluation run into a
fit by choosing its own seeds.
"""
from __future__ import annotations

from typing import Literal

from watcher_adaptive.exceptions import ProfileDataError

#: the application kinds recorded, the held-out one last
KINDS = ("postgres", "nginx", "redis", "etl", "idle-cron", "compile",
         "backup", "ml-training")
#: the kind no fit or tuning ever sees
HELD_OUT_KIND = "ml-training"
DEVELOPMENT_SEEDS = (1, 2, 3, 4)
EVALUATION_SEEDS = (5, 6)
HELD_OUT_SEEDS = (1, 2)

Split = Literal["development", "evaluation", "held_out_kind"]
SPLITS: tuple[Split, ...] = ("development", "evaluation", "held_out_kind")


def split_of(kind: str, seed: int) -> Split:
    """The split the run of ``kind`` with ``seed`` belongs to.

    :raises ProfileDataError: for a kind or seed outside the data set.
    """
    if kind not in KINDS:
        raise ProfileDataError(f"unknown application kind {kind!r}; "
                               f"known: {', '.join(KINDS)}")
    if kind == HELD_OUT_KIND:
        if seed in HELD_OUT_SEEDS:
            return "held_out_kind"
    elif seed in DEVELOPMENT_SEEDS:
        return "development"
    elif seed in EVALUATION_SEEDS:
        return "evaluation"
    raise ProfileDataError(f"{kind} has no seed {seed} in the data set")


def runs(split: Split) -> list[tuple[str, int]]:
    """Every (kind, seed) of ``split``, in a stable order."""
    if split not in SPLITS:
        raise ProfileDataError(f"unknown split {split!r}")
    seeds = sorted(set(DEVELOPMENT_SEEDS + EVALUATION_SEEDS
                       + HELD_OUT_SEEDS))
    return [(kind, seed) for kind in KINDS for seed in seeds
            if _member(kind, seed, split)]


def may_fit(kind: str, seed: int) -> bool:
    """Whether a model may be fitted or tuned on this run."""
    return split_of(kind, seed) == "development"


def _member(kind: str, seed: int, split: Split) -> bool:
    try:
        return split_of(kind, seed) == split
    except ProfileDataError:
        return False

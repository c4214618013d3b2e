"""Choose the behaviour-profile gate and the cold-start prior's shape on
development runs only.

The gate (:class:`watcher_adaptive.predict.app_backtest.GateSettings`)
decides per run and origin whether the model with profiles answers.  The
backtest judges it in two situations, and both are played here on the
development runs alone, each run in turn left out of fitting:

``other_kind``
    fitted on the development runs of the *other* kinds: a kind the
    models never saw, as the held-out kind is (goal: gain >= -0.02);
``same_kind``
    fitted on every other development run, its own kind's other seeds
    included: a new guest of a known kind, as the evaluation runs are
    (goal: gain >= 0.15); only runs whose kind has another development
    seed take part.

Every setting of the grid is scored in both; the chosen one is the
setting with the highest ``same_kind`` gain at 300 s among those whose
``other_kind`` gain holds -0.02 at every horizon (without a
``same_kind`` fold yet: the highest ``other_kind`` gain at 300 s).  The
grid holds :data:`NEVER` (profiles never answer), which always holds the
goal, so the choice may be to leave profiles out.  The
cold-start priors of each shape
(:data:`~watcher_adaptive.predict.app_backtest.PRIOR_SHAPES`) are scored
in the same folds (mean absolute error over the first 10 minutes of the
class prior and of the fleet prior).  The evaluation and held-out runs
are never read.

    python tools/profile_dev_cv.py [--data DIR] [--max-iter N]

Prints a table, its verdict first, then one JSON line (the scores of
every setting and the choice).
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any
from typing import Sequence

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import app_backtest as ab
from watcher_adaptive.predict import app_dataset

HELD_OUT_GOAL = -0.02
#: the profile model never answers: gain 0 everywhere, the setting to
#: fall back on when no other keeps an unseen kind's loss
NEVER = ab.NEVER
GRID = [ab.GateSettings(window, least, margin, prior)
        for window, least, margin, prior in itertools.product(
            (30, 150), (10, 30), (0.1, 0.2, 0.3), (True, False))
        if least <= window] + [NEVER]


def folds(runs: Sequence[app_dataset.AppRun]
          ) -> dict[str, list[tuple[app_dataset.AppRun,
                                    list[app_dataset.AppRun]]]]:
    """Per situation, (the run left out, the runs fitted on)."""
    return {
        "other_kind": [(r, [o for o in runs if o.kind != r.kind])
                       for r in runs],
        "same_kind": [(r, [o for o in runs if o is not r]) for r in runs
                      if any(o.kind == r.kind and o is not r
                             for o in runs)]}


def score(runs: Sequence[app_dataset.AppRun], horizons: Sequence[int],
          grid: Sequence[ab.GateSettings], max_iter: int,
          say=print) -> dict[str, Any]:
    """Every setting's pooled scores per situation and horizon."""
    if any(r.split != "development" for r in runs):
        raise ProfileDataError("the gate is chosen on development runs "
                               "only")
    out: dict[str, Any] = {}
    for situation, pairs in folds(runs).items():
        pairs = [(r, fit) for r, fit in pairs if len({o.kind for o in fit})
                 >= 2]
        out[situation] = {}
        for h in horizons:
            started = time.monotonic()
            parts: dict[int, list] = {i: [] for i in range(len(grid))}
            for left_out, fit_runs in pairs:
                models = ab.fit(fit_runs, h, max_iter)
                for i, settings in enumerate(grid):
                    p = ab.forecast(models, left_out, h, settings)
                    if p["y"].size:
                        parts[i].append(p)
            out[situation][str(h)] = [
                ab._scores(parts[i]) if parts[i] else None
                for i in range(len(grid))]
            say(f"{situation}, {h} s: {len(pairs)} fold(s) in "
                f"{time.monotonic() - started:.0f} s")
    return out


def cold_start(runs: Sequence[app_dataset.AppRun]) -> dict[str, Any]:
    """Per situation and prior shape, the class and fleet priors' mean
    absolute error over the left-out runs' first 10 minutes."""
    out: dict[str, Any] = {}
    for situation, pairs in folds(runs).items():
        out[situation] = {}
        for shape in ab.PRIOR_SHAPES:
            got = [ab.cold_start(fit, [r], shape) for r, fit in pairs]
            out[situation][shape] = None if not got else {
                key: float(sum(g[key] for g in got) / len(got))
                for key in ("first_10min_mae_class_prior",
                            "first_10min_mae_fleet_prior")}
    return out


def choose(scores: dict[str, Any], grid: Sequence[ab.GateSettings]
           ) -> int:
    """The index of the chosen setting (see the module docstring)."""
    def gain(situation: str, h: str, i: int) -> float:
        s = scores.get(situation, {}).get(h, [None] * len(grid))[i]
        return float("nan") if s is None else float(s["gain"])

    horizons = list(scores["other_kind"])
    worst = [min(gain("other_kind", h, i) for h in horizons)
             for i in range(len(grid))]
    safe = [i for i in range(len(grid)) if worst[i] >= HELD_OUT_GOAL] or \
        [max(range(len(grid)), key=lambda i: worst[i])]
    last = horizons[-1]
    judged = "same_kind" if any(
        s is not None for s in scores.get("same_kind", {}).get(last, [])) \
        else "other_kind"

    def key(i: int) -> tuple[float, float]:
        g = gain(judged, last, i)
        return (g if g == g else -1e9, -i)
    return max(safe, key=key)


def table(scores: dict[str, Any], grid: Sequence[ab.GateSettings],
          chosen: int) -> str:
    lines = [f"chosen: {_label(grid[chosen])}",
             f"{'window/least/margin/prior':<28}"
             + "".join(f"{s[:5]} {h:>3}s " for s in scores
                       for h in scores[s])]
    for i, settings in enumerate(grid):
        cells = []
        for situation in scores:
            for h in scores[situation]:
                s = scores[situation][h][i]
                cells.append("     -     " if s is None else
                             f"{s['gain']:>6.3f}/{s['profile_share']:.2f}")
        mark = " <" if i == chosen else ""
        lines.append(f"{_label(settings):<28}" + " ".join(cells) + mark)
    return "\n".join(lines)


def _label(s: ab.GateSettings) -> str:
    if s == NEVER:
        return "never"
    return (f"{s.window}/{s.least}/{s.margin:g}/"
            f"{'class' if s.class_prior else 'none'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args(argv)
    try:
        root = args.data or app_dataset.source_tree_data()
        runs = [r for r in app_dataset.read_dir(root)
                if r.split == "development"]
        if len({r.kind for r in runs}) < 3:
            raise ProfileDataError(
                f"{root}: development runs of {len({r.kind for r in runs})}"
                " kind(s); the folds need at least 3")
        scores = score(runs, ab.HORIZONS_S, GRID, args.max_iter,
                       say=lambda m: print(m, file=sys.stderr, flush=True))
    except ProfileDataError as exc:
        print(f"profile_dev_cv: {exc}", file=sys.stderr)
        return 2
    chosen = choose(scores, GRID)
    priors = cold_start(runs)
    print(table(scores, GRID, chosen))
    for situation, by_shape in priors.items():
        for shape, s in by_shape.items():
            if s is not None:
                print(f"cold start, {situation}, {shape}: class prior "
                      f"{s['first_10min_mae_class_prior']:.4f}, fleet "
                      f"prior {s['first_10min_mae_fleet_prior']:.4f} cores")
    print(json.dumps({"runs": [r.name for r in runs],
                      "grid": [dataclasses.asdict(g) for g in GRID],
                      "scores": scores,
                      "chosen": dataclasses.asdict(GRID[chosen]),
                      "cold_start": priors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

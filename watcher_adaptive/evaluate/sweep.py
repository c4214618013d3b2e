"""Run every setting of every strategy on every trace, in parallel, and
say which baseline settings an ``adaptive`` setting dominates.

Each run (one setting on one trace) is independent: joblib hands them to
``jobs`` worker processes (``jobs=1``: one after the other, here), each
run builds its strategy afresh from its ``--strategies`` entry, and a
run that raises is recorded with its error while the others go on.  The
document (:func:`document`) does not depend on the order runs finish
in, so any ``jobs`` gives the same ``points``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from typing import Any
from typing import Callable
from typing import Iterator
from typing import Optional
from typing import Sequence

from watcher_adaptive.evaluate import grid as grid_mod
from watcher_adaptive.evaluate import pareto
from watcher_adaptive.evaluate import strategies as with_models
from watcher_adaptive.replay import runner
from watcher_adaptive.traces.model import TraceSet

#: the strategy whose front the sweep draws, and the ones it must cover
OURS = "adaptive"
BASELINES = ("lr-mmt", "thr-mmt")
#: what a point holds besides its identity (the document's schema)
FIGURES = ("energy_kwh", "migrations", "slav", "served_fraction")


@dataclasses.dataclass(frozen=True)
class Task:
    """One run: ``setting`` on ``trace`` in ``world``."""

    id: str
    setting: grid_mod.Setting
    trace: TraceSet
    world: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one run gave: its figures, or the error that stopped it.

    :param figures: :data:`FIGURES` by name, ``None`` for a failed run.
    :param notes: the run's own notes (failed audits...).
    """

    id: str
    figures: Optional[dict[str, float]]
    error: Optional[str]
    wall_s: float
    audits: int = 0
    failed_audits: int = 0
    #: the worker's CPU time for the run: on a shared machine the wall
    #: time says more about the others than about the run
    cpu_s: float = 0.0


#: ``run(task) -> Outcome``; the sweep's default is :func:`replay`
RunFn = Callable[[Task], Outcome]


def point_id(trace: str, spec: str) -> str:
    """A point's id: the trace, a space, the ``--strategies`` entry."""
    return f"{trace} {spec}"


def tasks(traces: Sequence[TraceSet],
          settings: Sequence[grid_mod.Setting], world: str) -> list[Task]:
    """Every setting on every trace, trace by trace (consecutive runs of
    one worker then share its cluster model)."""
    # NOTE(wa): the loaders' extra columns (disk, network) are not
    # replayed; leaving them out keeps what each run ships to its
    # worker to the CPU and memory arrays
    slim = [dataclasses.replace(t, extra={}) for t in traces]
    return [Task(point_id(t.name, s.spec), s, t, world)
            for t in slim for s in settings]


def run(all_tasks: Sequence[Task], jobs: int,
        on_done: Optional[Callable[[Outcome], None]] = None,
        run_one: Optional[RunFn] = None) -> list[Outcome]:
    """Run ``all_tasks`` in ``jobs`` processes; the outcomes in the
    order of ``all_tasks`` whatever order they finish in.

    :param on_done: called in this process as each run finishes.
    :param run_one: what runs a task (default :func:`replay`); a run
        that raises is recorded as failed with the exception's text.
    """
    from joblib import Parallel
    from joblib import delayed

    do = run_one or replay
    done: dict[str, Outcome] = {}
    # NOTE(wa): the baselines of a trace go first: they take several
    # times as long as adaptive's runs, and a long run started last
    # leaves the other workers idle at the end
    traces = {name: i for i, name in enumerate(dict.fromkeys(
        t.trace.name for t in all_tasks))}
    order = sorted(all_tasks, key=lambda t: (traces[t.trace.name],
                                             t.setting.family == OURS))
    results: Iterator[Outcome] = Parallel(
        n_jobs=jobs, return_as="generator_unordered")(
            delayed(_guarded)(do, task) for task in order)
    for outcome in results:
        done[outcome.id] = outcome
        if on_done is not None:
            on_done(outcome)
    return [done[t.id] for t in all_tasks]


def _guarded(do: RunFn, task: Task) -> Outcome:
    started = time.perf_counter()
    try:
        return do(task)
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        return Outcome(task.id, None, f"{type(exc).__name__}: {exc}",
                       time.perf_counter() - started)


#: the last cluster model built in this process, by trace and world:
#: a worker's runs of one trace share it (the runner does the same for
#: the strategies of one ``simulate``)
_SCENARIO: dict[tuple[str, str], runner.Scenario] = {}


def replay(task: Task) -> Outcome:
    """Replay ``task``'s setting on its trace (the engine records a
    strategy that raises as a failed run)."""
    key = (_fingerprint(task.trace), task.world)
    scenario = _SCENARIO.get(key)
    if scenario is None:
        _SCENARIO.clear()
        scenario = _SCENARIO[key] = runner.build_scenario(
            task.trace, None, task.world)
    strategy = with_models.build_strategies(task.setting.spec)[0]
    cpu = time.process_time()
    result = scenario.engine.run(strategy)
    cpu = time.process_time() - cpu
    m = result.metrics
    figures = None if m is None else {
        "energy_kwh": float(m.energy_kwh), "migrations": int(m.migrations),
        "slav": float(m.slav), "served_fraction": float(m.served_fraction)}
    return Outcome(task.id, figures, result.error, result.wall_s,
                   result.audits, result.failed_audits, cpu)


def _fingerprint(trace: TraceSet) -> str:
    """The trace's name and a digest of its demand: two traces of one
    name (tests, edited files) never share a cluster model."""
    digest = hashlib.blake2b(trace.cpu.tobytes(), digest_size=12)
    return f"{trace.name}/{trace.cpu.shape}/{digest.hexdigest()}"


def document(all_tasks: Sequence[Task], outcomes: Sequence[Outcome],
             floors: dict[str, float]) -> dict[str, Any]:
    """``sweep.json``: ``points`` (in the order of ``all_tasks``),
    ``frontier`` (per trace, the ids on adaptive's front), ``dominance``
    (per LR-MMT and THR-MMT point, the id of an adaptive point of its
    trace that is no worse on energy, SLAV and migrations, or null),
    ``traces`` (each with its ``fluid_bound_kwh``), ``runs`` (each
    point's wall time and audits: the part that differs between two
    sweeps of the same settings), with each run's ``cpu_s``."""
    points, runs = [], {}
    for task, out in zip(all_tasks, outcomes, strict=True):
        figures = out.figures or dict.fromkeys(FIGURES)
        points.append({"id": task.id, "strategy": task.setting.family,
                       "params": dict(task.setting.params),
                       "trace": task.trace.name, **figures,
                       "error": out.error})
        runs[task.id] = {"wall_s": round(out.wall_s, 3),
                         "cpu_s": round(out.cpu_s, 3),
                         "audits": out.audits,
                         "failed_audits": out.failed_audits}
    compared = [as_point(p) for p in points]
    dominance = pareto.dominance(compared, OURS, BASELINES)
    traces = list(dict.fromkeys(t.trace.name for t in all_tasks))
    return {
        "points": points,
        "frontier": pareto.fronts(compared, OURS),
        "dominance": dominance,
        "summary": summary(points, dominance),
        "traces": [{"name": name, "fluid_bound_kwh": floors.get(name)}
                   for name in traces],
        "runs": runs,
    }


def as_point(p: dict[str, Any]) -> pareto.Point:
    """A ``sweep.json`` point as the front compares it (NaN for the
    figures of a failed run)."""
    def number(key: str) -> float:
        return math.nan if p[key] is None else float(p[key])

    return pareto.Point(id=p["id"], strategy=p["strategy"],
                        trace=p["trace"], energy_kwh=number("energy_kwh"),
                        slav=number("slav"),
                        migrations=number("migrations"))


def summary(points: Sequence[dict[str, Any]],
            dominance: dict[str, Optional[str]]) -> dict[str, Any]:
    """Per trace and baseline, how many of its points are dominated (and
    how many failed), and the totals: the verdict's figures."""
    per_trace: dict[str, dict[str, dict[str, int]]] = {}
    for p in points:
        if p["id"] not in dominance:
            continue
        counts = per_trace.setdefault(p["trace"], {}).setdefault(
            p["strategy"], {"points": 0, "dominated": 0, "failed": 0})
        counts["points"] += 1
        counts["dominated"] += dominance[p["id"]] is not None
        counts["failed"] += p["error"] is not None
    total = sum(c["points"] for t in per_trace.values() for c in t.values())
    won = sum(c["dominated"] for t in per_trace.values()
              for c in t.values())
    return {"baseline_points": total, "dominated": won,
            "per_trace": per_trace}

"""Schedules for the behaviour-profile recordings: what an application
does, minute by minute, in one 15-minute run.

A schedule is data: generated once per (kind, seed), written to a file
(:func:`to_dict`), and read back by the recorder, so that a recording
can be redone exactly.  The shapes are those of real services,
compressed in time, so that behaviour *leads* demand as it does in
production, which the profile features must be able to exploit:

* request-driven kinds (``postgres``, ``nginx``, ``redis``) follow a
  compressed day: quiet, a ramp in which the request rate rises before
  the CPU saturates, a peak, a decline; some runs add a batch window (a
  report, a snapshot) whose read phase starts it;
* batch kinds (``etl``, ``backup``, ``compile``, ``ml-training``) run
  jobs that follow each other, each starting with its read phase (bulk
  read, file walk, source fetch, data loading) before its CPU phase;
* ``idle-cron`` idles with short jobs at nearly regular intervals.

Phases last 1-10 minutes with seeded jitter in length and intensity.
Intensity (``level_from`` -> ``level_to``, linear within the phase) is a
fraction of what the recorder drives the kind with at most (its
request rate, its parallelism).  Pure: numpy only, deterministic per
(kind, seed).
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Callable
from typing import Mapping

import numpy as np

from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import profile_split

#: one run's length and the bounds of a phase's
RUN_S = 900
PHASE_MIN_S = 60
PHASE_MAX_S = 600
FORMAT = 1

#: each kind's phase names, the reads (which lead) first
PHASES: dict[str, tuple[str, ...]] = {
    "postgres": ("quiet", "ramp", "peak", "decline", "report_read",
                 "report"),
    "nginx": ("quiet", "ramp", "peak", "decline"),
    "redis": ("quiet", "ramp", "peak", "decline", "snapshot"),
    "etl": ("wait", "read", "transform", "write"),
    "backup": ("wait", "walk", "compress", "write"),
    "compile": ("wait", "fetch", "compile", "link"),
    "ml-training": ("wait", "load", "train", "checkpoint"),
    "idle-cron": ("idle", "cron"),
}
#: phases that saturate CPU and what must come right before each
LEADS = {"peak": "ramp", "report": "report_read", "transform": "read",
         "compress": "walk", "compile": "fetch", "train": "load"}


@dataclasses.dataclass(frozen=True)
class Phase:
    """``name`` from ``start_s`` for ``duration_s`` seconds, intensity
    going linearly from ``level_from`` to ``level_to`` (0-1)."""

    name: str
    start_s: int
    duration_s: int
    level_from: float
    level_to: float

    def level_at(self, t_s: float) -> float:
        """Intensity at ``t_s`` seconds into the run (within the phase)."""
        frac = min(max((t_s - self.start_s) / self.duration_s, 0.0), 1.0)
        return self.level_from + (self.level_to - self.level_from) * frac


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One run of one application kind."""

    kind: str
    seed: int
    phases: tuple[Phase, ...]

    @property
    def duration_s(self) -> int:
        return sum(p.duration_s for p in self.phases)

    def phase_at(self, t_s: float) -> Phase:
        """The phase running ``t_s`` seconds into the run."""
        for phase in self.phases:
            if t_s < phase.start_s + phase.duration_s:
                return phase
        return self.phases[-1]


def generate(kind: str, seed: int) -> Schedule:
    """The schedule of ``kind``'s run ``seed`` (a run of the data set:
    :func:`~watcher_adaptive.predict.profile_split.split_of` knows it).

    :raises ProfileDataError: for a kind or seed outside the data set.
    """
    profile_split.split_of(kind, seed)
    # the kind's position keeps two kinds' runs of one seed apart
    rng = np.random.default_rng([seed, profile_split.KINDS.index(kind)])
    steps = _TEMPLATES[kind](rng)
    weights = np.array([w for _, w, _, _ in steps], dtype=float)
    weights *= rng.uniform(0.75, 1.25, size=len(weights))  # jitter
    durations = _durations(weights)
    phases, start = [], 0
    for (name, _, lo, hi), length in zip(steps, durations, strict=True):
        phases.append(Phase(name, start, int(length),
                            round(float(lo), 3), round(float(hi), 3)))
        start += int(length)
    _check(kind, tuple(phases))
    return Schedule(kind, seed, tuple(phases))


def to_dict(schedule: Schedule) -> dict[str, Any]:
    """The file form of ``schedule`` (JSON-ready)."""
    return {"format": FORMAT, "kind": schedule.kind, "seed": schedule.seed,
            "duration_s": schedule.duration_s,
            "phases": [dataclasses.asdict(p) for p in schedule.phases]}


def from_dict(doc: Mapping[str, Any]) -> Schedule:
    """A schedule read back from :func:`to_dict`'s form, checked.

    :raises ProfileDataError: a schedule no recording could follow (an
        unknown format, kind or phase, a gap, a phase out of bounds).
    """
    try:
        if doc["format"] != FORMAT:
            raise ProfileDataError(f"schedule format {doc['format']!r}; "
                                   f"this version reads {FORMAT}")
        kind, seed = str(doc["kind"]), int(doc["seed"])
        phases = tuple(Phase(str(p["name"]), int(p["start_s"]),
                             int(p["duration_s"]), float(p["level_from"]),
                             float(p["level_to"])) for p in doc["phases"])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ProfileDataError):
            raise
        raise ProfileDataError(f"not a schedule: {exc!r}") from None
    profile_split.split_of(kind, seed)
    _check(kind, phases)
    return Schedule(kind, seed, phases)


def _check(kind: str, phases: tuple[Phase, ...]) -> None:
    start = 0
    for p in phases:
        where = f"{kind} phase {p.name!r} at {p.start_s} s"
        if p.name not in PHASES[kind]:
            raise ProfileDataError(f"{where}: not a phase of {kind}")
        if p.start_s != start:
            raise ProfileDataError(f"{where}: expected to start at {start} s")
        if not PHASE_MIN_S <= p.duration_s <= PHASE_MAX_S:
            raise ProfileDataError(
                f"{where}: {p.duration_s} s is outside "
                f"{PHASE_MIN_S}-{PHASE_MAX_S} s")
        if not (0.0 <= p.level_from <= 1.0 and 0.0 <= p.level_to <= 1.0):
            raise ProfileDataError(f"{where}: a level outside 0-1")
        start += p.duration_s
    if start != RUN_S:
        raise ProfileDataError(f"{kind}: the phases last {start} s, "
                               f"not {RUN_S}")


def _durations(weights: np.ndarray) -> np.ndarray:
    """Whole seconds in proportion to ``weights``, each within the phase
    bounds, summing to :data:`RUN_S` (bounded water-filling)."""
    n = len(weights)
    if not n * PHASE_MIN_S <= RUN_S <= n * PHASE_MAX_S:
        raise ProfileDataError(f"{n} phases cannot fill {RUN_S} s")
    out = np.zeros(n)
    free = np.ones(n, dtype=bool)
    left = float(RUN_S)
    while free.any():
        share = left * weights[free] / weights[free].sum()
        out[free] = share
        low, high = out < PHASE_MIN_S, out > PHASE_MAX_S
        clip = free & (low | high)
        if not clip.any():
            break
        out[free & low] = PHASE_MIN_S
        out[free & high] = PHASE_MAX_S
        free &= ~clip
        left = RUN_S - out[~free].sum()
    whole = np.floor(out).astype(int)
    # the seconds lost to rounding go to the phases with room, longest
    # first
    for i in np.argsort(-out, kind="stable"):
        if whole.sum() == RUN_S:
            break
        if whole[i] < PHASE_MAX_S:
            whole[i] += 1
    return whole


# --- the kinds' templates: (name, weight, level_from, level_to) --------
Step = tuple[str, float, float, float]


def _day(rng: np.random.Generator, batch: str | None) -> list[Step]:
    """A compressed day of a request-driven service."""
    quiet = rng.uniform(0.05, 0.15)
    peak = rng.uniform(0.7, 1.0)
    evening = rng.uniform(0.1, 0.3)
    steps: list[Step] = [
        ("quiet", rng.uniform(1.0, 2.0), quiet, quiet),
        ("ramp", rng.uniform(1.5, 2.5), quiet, peak),
        ("peak", rng.uniform(1.5, 3.0), peak, peak),
        ("decline", rng.uniform(1.0, 2.0), peak, evening)]
    if batch == "report" and rng.random() < 0.75:
        level = rng.uniform(0.5, 0.9)
        steps += [("report_read", rng.uniform(0.7, 1.2), level, level),
                  ("report", rng.uniform(1.0, 1.5), level, level)]
    elif batch == "snapshot" and rng.random() < 0.75:
        steps.append(("snapshot", rng.uniform(0.7, 1.0), 1.0, 1.0))
    if len(steps) == 4 or rng.random() < 0.5:
        steps.append(("quiet", rng.uniform(0.8, 1.5), evening, evening))
    return steps


def _jobs(read: str, work: str, write: str) -> Callable[
        [np.random.Generator], list[Step]]:
    """Jobs that follow each other: (wait,) read, work, write."""
    def template(rng: np.random.Generator) -> list[Step]:
        steps: list[Step] = []
        for _ in range(int(rng.integers(1, 3))):
            if not steps or rng.random() < 0.7:
                steps.append(("wait", rng.uniform(0.8, 1.5), 0.02, 0.02))
            steps += [(read, rng.uniform(0.8, 1.5), *_flat(rng, 0.6, 1.0)),
                      (work, rng.uniform(1.5, 3.0), *_flat(rng, 0.7, 1.0)),
                      (write, rng.uniform(0.6, 1.2), *_flat(rng, 0.5, 0.9))]
        return steps
    return template


def _flat(rng: np.random.Generator, lo: float,
          hi: float) -> tuple[float, float]:
    level = rng.uniform(lo, hi)
    return level, level


def _cron(rng: np.random.Generator) -> list[Step]:
    """Idle with a job every 3-5 minutes."""
    steps: list[Step] = []
    for _ in range(int(rng.integers(3, 5))):
        steps.append(("idle", rng.uniform(2.0, 4.0), 0.02, 0.02))
        steps.append(("cron", 1.0, *_flat(rng, 0.4, 0.8)))
    return steps


_TEMPLATES: dict[str, Callable[[np.random.Generator], list[Step]]] = {
    "postgres": lambda rng: _day(rng, "report"),
    "nginx": lambda rng: _day(rng, None),
    "redis": lambda rng: _day(rng, "snapshot"),
    "etl": _jobs("read", "transform", "write"),
    "backup": _jobs("walk", "compress", "write"),
    "compile": _jobs("fetch", "compile", "link"),
    "ml-training": _jobs("load", "train", "checkpoint"),
    "idle-cron": _cron,
}

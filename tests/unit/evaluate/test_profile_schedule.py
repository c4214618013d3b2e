"""Recording schedules: data, deterministic per seed, shaped so that
behaviour leads demand."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from watcher_adaptive.evaluate import profile_schedule as ps
from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.predict import profile_split

RUNS = [run for name in profile_split.SPLITS
        for run in profile_split.runs(name)]
SHIPPED = Path(__file__).resolve().parents[3] / "tools" / "data" / \
    "profile-schedules"


def test_a_seed_gives_the_same_schedule_every_time():
    assert ps.generate("postgres", 3) == ps.generate("postgres", 3)


def test_seeds_and_kinds_give_different_schedules():
    lengths = {tuple(p.duration_s for p in ps.generate("etl", s).phases)
               for s in range(1, 7)}
    assert len(lengths) == 6
    assert ps.generate("redis", 1).phases != ps.generate("nginx", 1).phases


@pytest.mark.parametrize("kind, seed", RUNS)
def test_phases_fill_the_run_within_their_bounds(kind, seed):
    schedule = ps.generate(kind, seed)
    assert schedule.duration_s == ps.RUN_S
    start = 0
    for phase in schedule.phases:
        assert phase.start_s == start
        assert ps.PHASE_MIN_S <= phase.duration_s <= ps.PHASE_MAX_S
        start += phase.duration_s


@pytest.mark.parametrize("kind, seed", RUNS)
def test_behaviour_leads_each_saturating_phase(kind, seed):
    phases = ps.generate(kind, seed).phases
    for before, phase in itertools.pairwise((None,) + phases):
        lead = ps.LEADS.get(phase.name)
        if lead is not None:
            assert before is not None and before.name == lead, \
                f"{kind}-{seed}: {phase.name} at {phase.start_s} s"
    for ramp, peak in itertools.pairwise(phases):
        if peak.name == "peak":
            # the request rate has risen to the peak's when it starts
            assert ramp.level_to == peak.level_from > ramp.level_from


def test_level_is_linear_within_a_phase():
    ramp = ps.Phase("ramp", 100, 200, 0.1, 0.9)
    assert ramp.level_at(100) == pytest.approx(0.1)
    assert ramp.level_at(200) == pytest.approx(0.5)
    assert ramp.level_at(300) == pytest.approx(0.9)


def test_a_schedule_survives_its_file_form():
    schedule = ps.generate("backup", 5)
    doc = json.loads(json.dumps(ps.to_dict(schedule)))
    assert ps.from_dict(doc) == schedule
    assert schedule.phase_at(0) == schedule.phases[0]
    assert schedule.phase_at(ps.RUN_S - 1) == schedule.phases[-1]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format=2), "format"),
    (lambda d: d.update(kind="mysql"), "unknown application kind"),
    (lambda d: d["phases"][1].update(start_s=7), "expected to start"),
    (lambda d: d["phases"][0].update(name="peak"), "not a phase"),
    (lambda d: d["phases"][0].update(level_to=1.5), "level outside"),
    (lambda d: d["phases"].pop(), "not 900"),
    (lambda d: d.pop("phases"), "not a schedule"),
])
def test_a_bad_schedule_file_is_refused_with_the_reason(change, message):
    doc = ps.to_dict(ps.generate("idle-cron", 2))
    change(doc)
    with pytest.raises(ProfileDataError, match=message):
        ps.from_dict(doc)


def test_the_shipped_schedule_files_are_the_generators():
    files = sorted(SHIPPED.glob("*.json"))
    assert len(files) == len(RUNS)
    for kind, seed in RUNS:
        doc = json.loads((SHIPPED / f"{kind}-{seed}.json").read_text())
        assert ps.from_dict(doc) == ps.generate(kind, seed), \
            f"{kind}-{seed}.json: rerun tools/make_profile_schedules.py"

"""The sweep: grids expanded and checked, runs in parallel, failures
recorded, the same points whatever the number of processes."""
from __future__ import annotations

import json

import pytest

from tests import replay_slice
from watcher_adaptive.cmd import main as cli
from watcher_adaptive.evaluate import grid
from watcher_adaptive.evaluate import sweep
from watcher_adaptive.exceptions import GridError
from watcher_adaptive.exceptions import UnknownStrategy
from watcher_adaptive.traces import resolve


def _grid(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return grid.load(path)


def test_grid_expands_products_and_keeps_defaults_elsewhere(tmp_path):
    tables = _grid(tmp_path, "[adaptive]\ntarget = [0.8, 0.9]\n"
                             "per_hour = [100, 1000]\n"
                             "[lr-mmt]\nsafety = 1.1\n")
    got = grid.settings("adaptive,lr-mmt,thr-mmt,dvfs,lr-mmt:1.3", tables)
    assert [s.spec for s in got[:5]] == [
        "adaptive:target=0.8+per_hour=100",
        "adaptive:target=0.8+per_hour=1000",
        "adaptive:target=0.9+per_hour=100",
        "adaptive:target=0.9+per_hour=1000", "lr-mmt:1.1"]
    assert got[0].params == {"target": 0.8, "per_hour": 100}
    # thr-mmt had no table: the shipped grid; dvfs and a given setting
    # run once
    thr = [s for s in got if s.family == "thr-mmt"]
    assert [s.params["threshold"] for s in thr] == [0.7, 0.75, 0.8, 0.85,
                                                    0.9]
    assert [(s.family, s.spec, dict(s.params)) for s in got[-2:]] == [
        ("dvfs", "dvfs", {}), ("lr-mmt", "lr-mmt:1.3", {})]


def test_shipped_grid_has_what_the_issue_asks():
    got = grid.settings("adaptive,lr-mmt,thr-mmt", grid.load(None))
    by = {f: [s for s in got if s.family == f]
          for f in ("adaptive", "lr-mmt", "thr-mmt")}
    assert len(by["adaptive"]) >= 8
    safety = [s.params["safety"] for s in by["lr-mmt"]]
    assert min(safety) == 1.0 and max(safety) == 1.4
    threshold = [s.params["threshold"] for s in by["thr-mmt"]]
    assert min(threshold) == 0.7 and max(threshold) == 0.9


@pytest.mark.parametrize("text, strategies, message", [
    ("[lr_mmt]\nsafety = [1.0]\n", "lr-mmt", "unknown strategy [lr_mmt]"),
    ("[lr-mmt]\nsafty = [1.0]\n", "lr-mmt", "unknown parameter 'safty'"),
    ("[adaptive]\nquantil = [0.9]\n", "adaptive", "unknown key 'quantil'"),
    ("[adaptive]\nquantile = [0.2]\n", "adaptive", "quantile must be"),
    ("[lr-mmt]\nsafety = ['x']\n", "lr-mmt", "must be a number"),
    ("[lr-mmt]\nsafety = [true]\n", "lr-mmt", "list of numbers"),
    ("[dvfs]\nx = [1]\n", "dvfs", "takes none"),
    ("[lr-mmt]\nsafety = [1.1, 1.1]\n", "lr-mmt", "given twice"),
    ("lr-mmt = 3\n", "lr-mmt", "must be a table"),
    ("[lr-mmt\n", "lr-mmt", "not TOML"),
])
def test_bad_grids_are_refused(tmp_path, text, strategies, message):
    with pytest.raises(GridError, match=message.replace("[", r"\[")):
        grid.settings(strategies, _grid(tmp_path, text))


def test_unknown_strategy_entry_is_refused():
    with pytest.raises(UnknownStrategy, match="nope"):
        grid.settings("adaptive,nope", grid.load(None))


@pytest.fixture(scope="module")
def tiny_trace(tmp_path_factory):
    """20 busy PlanetLab VMs over 4 hours, written and loaded as a day."""
    folder = replay_slice.write_planetlab_slice(
        tmp_path_factory.mktemp("sweep-trace"), vms=20, samples=48)
    return resolve.resolve_trace(str(folder))


SMALL = ("[adaptive]\nper_hour = [20, 1000]\n[lr-mmt]\nsafety = [1.1]\n"
         "[thr-mmt]\nthreshold = [0.8]\n")


def test_jobs_1_and_2_give_identical_points(tmp_path, tiny_trace):
    settings = grid.settings("adaptive,lr-mmt,thr-mmt,dvfs",
                             _grid(tmp_path, SMALL))
    todo = sweep.tasks([tiny_trace], settings, "realistic")
    docs = [sweep.document(todo, sweep.run(todo, jobs), {})
            for jobs in (1, 2)]
    assert docs[0]["points"] == docs[1]["points"]
    assert [p["id"] for p in docs[0]["points"]] == [t.id for t in todo]
    assert all(p["error"] is None and p["energy_kwh"] > 0
               for p in docs[0]["points"])
    assert docs[0]["frontier"] == docs[1]["frontier"]
    assert set(docs[0]["dominance"]) == {
        f"{tiny_trace.name} lr-mmt:1.1", f"{tiny_trace.name} thr-mmt:0.8"}


def _raise_on_lr(task):
    if task.setting.family == "lr-mmt":
        raise RuntimeError(f"boom in {task.setting.spec}")
    return sweep.Outcome(task.id, {"energy_kwh": 1.0, "migrations": 0,
                                   "slav": 0.0, "served_fraction": 1.0},
                         None, 0.1)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(
        tmp_path, tiny_trace, jobs):
    settings = grid.settings("adaptive,lr-mmt,thr-mmt",
                             _grid(tmp_path, SMALL))
    todo = sweep.tasks([tiny_trace], settings, "realistic")
    seen = []
    outcomes = sweep.run(todo, jobs, on_done=seen.append,
                         run_one=_raise_on_lr)
    doc = sweep.document(todo, outcomes, {tiny_trace.name: 0.5})
    failed = [p for p in doc["points"] if p["error"]]
    assert [p["id"] for p in failed] == [f"{tiny_trace.name} lr-mmt:1.1"]
    assert failed[0]["error"] == "RuntimeError: boom in lr-mmt:1.1"
    assert failed[0]["energy_kwh"] is None
    assert len(seen) == len(todo) == len(doc["points"])
    # the failed baseline is not dominated; the other one is (adaptive
    # matched it exactly here)
    assert doc["dominance"] == {f"{tiny_trace.name} lr-mmt:1.1": None,
                                f"{tiny_trace.name} thr-mmt:0.8":
                                f"{tiny_trace.name} adaptive:per_hour=20"}
    counts = doc["summary"]["per_trace"][tiny_trace.name]
    assert counts["lr-mmt"] == {"points": 1, "dominated": 0, "failed": 1}


def test_cli_writes_the_report(tmp_path, capsys):
    (tmp_path / "g.toml").write_text(SMALL)
    day = replay_slice.write_planetlab_slice(tmp_path, vms=20, samples=48)
    out = tmp_path / "out"
    code = cli.main(["sweep", "--trace", str(day),
                     "--grid", str(tmp_path / "g.toml"), "--jobs", "1",
                     "--no-progress", "--output", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["points"]) == 4 and doc["constraints"] == "realistic"
    assert doc["traces"][0]["fluid_bound_kwh"] > 0
    for name in ("sweep.html", "pareto-energy-slav.png",
                 "pareto-energy-migrations.png"):
        assert (out / name).stat().st_size > 0
    page = (out / "sweep.html").read_text()
    assert page.index("Verdict") < page.index("pareto-energy-slav.png")
    assert "of the 2 lr-mmt and thr-mmt points" in stdout


@pytest.mark.parametrize("grid_text, argv, message", [
    ("[lr-mmt]\nsafty = [1]\n", [], "unknown parameter 'safty'"),
    ("[nope]\nx = [1]\n", [], "unknown strategy [nope]"),
    ("", ["--strategies", "adaptive,nope"], "unknown strategy 'nope'"),
    ("", ["--trace", "/no/such/dir"], "neither a trace name"),
])
def test_cli_bad_input_is_one_line_exit_2_before_any_run(
        tmp_path, capsys, grid_text, argv, message):
    path = tmp_path / "g.toml"
    path.write_text(grid_text)
    code = cli.main(["sweep", "--grid", str(path), "--output",
                     str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "sweep.json").exists()


def test_cli_refuses_zero_jobs(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sweep", "--jobs", "0"])
    assert stop.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err

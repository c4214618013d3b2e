"""``adaptive:model=PATH``: the replay plans on a trained model that the
evaluation layer gives it, without importing the predictor itself."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from watcher_adaptive.cmd import main as cli
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.evaluate import strategies
from watcher_adaptive.replay import adaptive
from watcher_adaptive.replay import registry
from watcher_adaptive.replay import runner
from watcher_adaptive.traces import load_embedded


@pytest.fixture(scope="module")
def small_day():
    day = load_embedded("planetlab")
    return day.subset(np.arange(0, 1052, 26))      # 41 VMs


@pytest.fixture(scope="module")
def half_day(small_day):
    """21 VMs, the first 12 hours: enough to train for 30 minutes."""
    part = small_day.subset(np.arange(0, small_day.n_vms, 2))
    return dataclasses.replace(part, cpu=part.cpu[:, :144])


def test_model_entries_get_the_model_forecast():
    built = strategies.build_strategies(
        "adaptive:model=/nowhere/m+threshold=0.9,adaptive,lr-mmt")
    model, plain = built[0], built[1]
    assert isinstance(model.model, strategies.ModelForecast)
    assert model.model.path == "/nowhere/m"
    assert plain.model is None and plain.model_path is None
    assert "model /nowhere/m" in model.describe()


def test_the_replay_alone_refuses_a_model_it_was_not_given(small_day):
    strategy = registry.build_strategies("adaptive:model=/nowhere/m")[0]
    run = runner.run_all(small_day, [strategy])[0]
    # every audit fails (as with a model file that cannot be read), and
    # the run's notes say why
    assert run.audits > 0 and run.failed_audits == run.audits
    assert run.metrics.migrations == 0
    assert any("evaluate.strategies.build_strategies" in n
               for n in run.notes)


def test_a_given_model_forecasts_every_audit(small_day):
    calls = []

    def model(history, vm_size, quantile, horizon_s, interval_s):
        calls.append((history.shape, quantile, horizon_s, interval_s))
        # the VM's whole size: every host that holds a VM looks loaded
        return DemandForecast(expected=vm_size * 0.2, upper=vm_size * 0.3,
                              quantile=quantile, horizon_s=horizon_s,
                              source="stub",
                              cold_start=np.zeros(vm_size.size, bool))

    strategy = adaptive.AdaptiveReplay(model=model)
    assert "a trained model" in strategy.describe()
    run = runner.run_all(small_day, [strategy])[0]
    assert run.metrics is not None, run.error
    assert calls and all(c[0][0] == small_day.n_vms for c in calls)
    assert {c[1:] for c in calls} == {(strategy.quantile,
                                       strategy.horizon_s, 300.0)}


def _csv(path, trace):
    t0 = 1_299_110_400
    rows = ["t," + ",".join(f"vm{i}" for i in range(trace.n_vms))]
    for k in range(trace.n_samples):
        rows.append(f"{t0 + 300 * k}," + ",".join(
            f"{v * 100:.2f}" for v in trace.cpu[:, k]))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_backtest_saves_a_model_that_simulate_plans_on(half_day, tmp_path,
                                                       capsys):
    """The command line end to end: ``backtest --save-model`` trains
    (with the host membership of an LR-MMT replay), ``simulate
    --strategies adaptive:model=PATH`` plans on the saved model."""
    trace = _csv(tmp_path / "day.csv", half_day)
    model = tmp_path / "m"
    assert cli.main(["backtest", "--trace", str(trace), "--output",
                     str(tmp_path / "bt"), "--save-model",
                     str(model)]) == 0
    doc = json.loads((tmp_path / "bt" / "results.json").read_text())
    # a .csv trace's membership comes from a replay in the realistic world
    assert list(doc["constraints"].values()) == ["realistic"]
    assert (tmp_path / "m.joblib").exists()
    capsys.readouterr()
    out = tmp_path / "sim"
    assert cli.main(["simulate", "--trace", str(trace), "--strategies",
                     f"adaptive:model={model},adaptive", "--output",
                     str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "FAILED" not in printed
    runs = json.loads((out / "results.json").read_text())["strategies"]
    assert list(runs) == [f"adaptive:model={model}", "adaptive"]
    planned = runs[f"adaptive:model={model}"]
    assert planned["error"] is None
    assert planned["audits"] > 0 and planned["failed_audits"] == 0
    assert f"model {model}" in planned["description"]

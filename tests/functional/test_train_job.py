"""The periodic training job against a real Gnocchi, and the strategy
planning on the model it saved."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.functional.conftest import wait_for_measures
from tests.unit.strategy import builders
from tests.unit.strategy.builders import AUDIT
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.cmd import main as cli

pytestmark = pytest.mark.functional
STEP = 300


def test_train_job_reads_incrementally_and_the_strategy_uses_its_model(
        tmp_path, gnocchi_endpoint, gnocchi_client, gnocchi_instances,
        capsys):
    rng = np.random.default_rng(5)
    n, t = 12, 72
    ids = gnocchi_instances.new(n)
    writer = gnocchi.GnocchiWriter(gnocchi_client)
    writer.ensure_instances([{"id": i, "vcpus": 2} for i in ids])
    now = int(time.time()) // STEP * STEP
    times = np.arange(now - t * STEP, now, STEP).astype("datetime64[s]")
    level = rng.uniform(0.2, 1.6, (n, 1))
    cores = np.clip(level + rng.normal(0, 0.15, (n, t)), 0, 2)
    writer.push_usage(ids, times, cores, np.full((n, t), 1024.0))
    # the job and the strategy read both metrics
    wait_for_measures(gnocchi_client, {
        (rid, metric): t for rid in ids for metric in ("cpu",
                                                        "memory.usage")})
    hist, model = tmp_path / "history.npz", tmp_path / "model"
    argv = ["train", "--gnocchi", gnocchi_endpoint, "--history", str(hist),
            "--model", str(model), "--hours", str(t * STEP / 3600 + 1)]
    step_before = int(time.time()) // STEP
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "model:" in out and model.with_suffix(".joblib").exists()
    first = np.load(hist)
    assert set(ids) <= set(first["ids"].tolist())
    # the second run asks only for what is newer than its history: its
    # grid is the first's plus the steps the clock crossed meanwhile
    # (Gnocchi may hold every other test's instances too: the runs can
    # take minutes)
    assert cli.main(argv) == 0
    crossed = int(time.time()) // STEP - step_before
    second = np.load(hist)
    size = first["times"].size
    assert size <= second["times"].size <= size + crossed
    assert np.array_equal(second["times"][:size], first["times"])

    # the audit plans on that model (same horizon and granularity)
    hosts = {"cmp-1": {}, "cmp-2": {}}
    vms = {rid: {"host": "cmp-1" if k < 6 else "cmp-2", "uuid": rid}
           for k, rid in enumerate(ids)}
    from watcher.common import utils
    from watcher.decision_engine.loading import default

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    strategy = default.DefaultStrategyLoader().load("adaptive_migration")
    params: dict = dict(AUDIT)
    utils.StrictDefaultValidatingDraft4Validator(
        strategy.get_schema()).validate(params)
    strategy.input_parameters.update(params)
    strategy.config.journal_path = str(tmp_path / "moves.json")
    # Watcher's own action: the plain-migrate path (the default is
    # adaptive_migrate, tested where it is set)
    strategy.config.action_type = "migrate"
    strategy.config.model_path = str(model)
    strategy._usage_source = gnocchi.GnocchiMetricSource(gnocchi_client)
    strategy._compute_model = builders.make_model(hosts, vms)
    strategy.execute()
    assert strategy.forecast.source == "model", strategy.fallback_reason
    assert np.all(np.isfinite(strategy.forecast.upper))
    assert not strategy.forecast.cold_start.any()

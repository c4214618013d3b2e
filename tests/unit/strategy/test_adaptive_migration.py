"""The Watcher plugin through Watcher's own loader, schema validation
and action schema, on hand-built compute models."""
from __future__ import annotations

import json
import logging

import jsonschema
import numpy as np
import pytest

from tests.unit.strategy import builders
from tests.unit.strategy.builders import AUDIT

pytest.importorskip("watcher")


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


def load_strategy(tmp_path, source, **params):
    from watcher.common import utils
    from watcher.decision_engine.loading import default

    params = {**AUDIT, **params}

    strategy = default.DefaultStrategyLoader().load("adaptive_migration",
                                                    osc=None)
    # how Watcher fills defaults before an audit runs
    utils.StrictDefaultValidatingDraft4Validator(
        strategy.get_schema()).validate(params)
    strategy.input_parameters = utils.Struct(params)
    strategy.config.journal_path = str(tmp_path / "moves.json")
    # Watcher's own action: the plain-migrate path (the default is
    # adaptive_migrate, tested where it is set)
    strategy.config.action_type = "migrate"
    strategy._usage_source = source
    return strategy


def hot_cluster():
    hosts = {"cmp-1": {}, "cmp-2": {}, "cmp-3": {}}
    # cmp-1: 8 cores, five 2-vCPU VMs climbing to 90 % -> 9 cores
    vms = {f"busy-{i}": {"host": "cmp-1"} for i in range(5)}
    vms.update({"calm-a": {"host": "cmp-2"}, "calm-b": {"host": "cmp-3"}})
    rising = [0.5 + 0.04 * k for k in range(11)] + [0.9]
    cpu = {builders.vm_uuid(f"busy-{i}"): rising for i in range(5)}
    cpu.update({builders.vm_uuid("calm-a"): [0.1] * 12,
                builders.vm_uuid("calm-b"): [0.1] * 12})
    return builders.make_model(hosts, vms), cpu


def test_loads_through_watcher_loader_with_valid_defaults(tmp_path):
    strategy = load_strategy(tmp_path, builders.RecordingSource({}))
    assert strategy.get_name() == "adaptive_migration"
    assert strategy.get_goal_name() == "workload_balancing"
    assert strategy.input_parameters.horizon == 1800
    assert strategy.input_parameters.quantile == 0.9


def test_default_action_is_our_own_adaptive_migrate():
    """Unset, ``action_type`` is the product's own action, as the
    DevStack plugin and the docs set it; ``migrate`` stays a choice."""
    from watcher.decision_engine.loading import default

    strategy = default.DefaultStrategyLoader().load("adaptive_migration",
                                                    osc=None)
    assert strategy.config.action_type == "adaptive_migrate"
    opt = {o.name: o for o in strategy.get_config_opts()}["action_type"]
    assert set(opt.type.choices) == {"migrate", "adaptive_migrate"}
    for prop in strategy.get_schema()["properties"].values():
        assert prop["description"] and "default" in prop


def test_about_to_overload_gives_valid_live_migrations(tmp_path):
    from watcher.applier.actions import migration

    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                             horizon=1800)
    strategy._compute_model = model
    solution = strategy.execute()
    actions = solution.actions
    assert actions, "an overloading host must get a plan"
    schema = migration.Migrate(config={}).schema
    for action in actions:
        assert action["action_type"] == "migrate"
        jsonschema.validate(action["input_parameters"], schema)
        params = action["input_parameters"]
        assert params["migration_type"] == "live"
        assert params["source_node"] == "cmp-1"
        assert params["destination_node"] in ("cmp-2", "cmp-3")
    why = strategy.explanations[0]
    assert why["reason"] == "overload"
    assert why["source_load_before"] > 0.9
    # moves continue until the source is back under the target
    assert strategy.explanations[-1]["source_load_after"] <= 0.8 + 1e-9
    assert why["horizon_s"] == 1800
    indicators = {i.name: i.value for i in
                  solution.efficacy.indicators}
    assert indicators["instance_migrations_count"] == len(actions)
    # the journal remembers the moves for the next audit's cooldown
    moved = json.loads((tmp_path / "moves.json").read_text())
    assert set(moved) == {a["input_parameters"]["resource_id"]
                          for a in actions}


def test_cooldown_blocks_a_second_audit(tmp_path):
    model, cpu = hot_cluster()
    first = load_strategy(tmp_path, builders.RecordingSource(cpu))
    first._compute_model = model
    n_first = len(first.execute().actions)
    # same (unchanged) model again: the moved VMs are cooling down, and
    # the hourly budget counts the first audit's moves
    second = load_strategy(tmp_path, builders.RecordingSource(cpu),
                           max_migrations_per_hour=n_first)
    second._compute_model = model
    assert second.execute().actions == []
    assert dict(second.plan.skipped).get("budget", 0) >= 1


def test_calm_cluster_gives_an_empty_plan(tmp_path):
    hosts = {"cmp-1": {}, "cmp-2": {}}
    vms = {f"vm-{i}": {"host": f"cmp-{1 + i % 2}"} for i in range(6)}
    cpu = {builders.vm_uuid(f"vm-{i}"): [0.2, 0.25, 0.2] * 4
           for i in range(6)}
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._compute_model = builders.make_model(hosts, vms)
    assert strategy.execute().actions == []
    assert strategy.plan.hosts_at_risk_before == 0


def test_locked_excluded_and_pinned_instances_stay(tmp_path):
    model, cpu = hot_cluster()
    for inst in model.get_all_instances().values():
        if inst.name == "busy-0":
            inst.locked = True
        elif inst.name == "busy-1":
            inst.watcher_exclude = True
        elif inst.name == "busy-2":
            inst.flavor_extra_specs = {"hw:cpu_policy": "dedicated"}
        elif inst.name == "busy-3":
            inst.metadata = {"optimize": "false"}
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._compute_model = model
    moved = {a["input_parameters"]["resource_name"]
             for a in strategy.execute().actions}
    assert moved <= {"busy-4"}
    assert moved, "the one free VM still relieves the host"


def test_disabled_host_receives_nothing(tmp_path):
    model, cpu = hot_cluster()
    for node in model.get_all_compute_nodes().values():
        if node.hostname == "cmp-2":
            node.status = "disabled"
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._compute_model = model
    targets = {a["input_parameters"]["destination_node"]
               for a in strategy.execute().actions}
    assert targets == {"cmp-3"}


def test_unusable_model_falls_back_to_the_online_forecasters_and_logs(
        tmp_path, caplog):
    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy.config.model_path = str(tmp_path / "missing-model")
    strategy._compute_model = model
    with caplog.at_level(logging.WARNING):
        actions = strategy.execute().actions
    assert actions
    # with an hour of evidence the reactive rule speaks for every VM
    assert strategy.forecast.source == "reactive"
    assert set(strategy.forecast.forecaster) == {"reactive"}
    assert "missing-model" in strategy.fallback_reason
    assert "the online forecasters instead" in caplog.text


def test_unusable_forecaster_state_falls_back_to_the_reactive_rule(
        tmp_path, caplog):
    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    # where the state would be written is a directory
    (tmp_path / "moves.forecasters.npz" / "x").mkdir(parents=True)
    strategy._compute_model = model
    with caplog.at_level(logging.WARNING):
        actions = strategy.execute().actions
    assert actions
    assert strategy.forecast.source == "reactive"
    assert strategy.forecast.forecaster is None
    assert "online forecasters unusable" in strategy.fallback_reason
    assert "reactive rule on recent usage" in caplog.text


def test_unreachable_usage_fails_the_audit_with_the_reason(tmp_path):
    model, _ = hot_cluster()
    strategy = load_strategy(tmp_path, builders.BrokenSource())
    strategy._compute_model = model
    with pytest.raises(ConnectionError, match="unreachable"):
        strategy.execute()


def test_instance_without_usage_is_counted_full_and_not_moved(tmp_path):
    model, cpu = hot_cluster()
    del cpu[builders.vm_uuid("busy-4")]
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._compute_model = model
    moved = {a["input_parameters"]["resource_name"]
             for a in strategy.execute().actions}
    assert "busy-4" not in moved and moved


@pytest.mark.parametrize("params", [
    {"horizon": 60},
    {"quantile": 1.5},
    {"explain": "everything"},
    {"no_such_parameter": 1},
])
def test_wrong_audit_parameters_are_rejected_by_the_schema(params):
    from watcher.common import exception
    from watcher.common import utils

    from watcher_adaptive.strategy import adaptive_migration

    with pytest.raises((jsonschema.ValidationError,
                        exception.AuditParameterNotAllowed)):
        utils.StrictDefaultValidatingDraft4Validator(
            adaptive_migration.AdaptiveMigration.get_schema()).validate(
                dict(params))


def test_contradictory_parameters_are_rejected_with_their_names(tmp_path):
    from watcher_adaptive.exceptions import PolicyError

    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                             target_utilization=0.95,
                             overload_threshold=0.9)
    strategy._compute_model = model
    with pytest.raises(PolicyError, match="target_utilization"):
        strategy.execute()


def test_plan_listeners_receive_the_forecasts_and_a_failing_one_is_skipped(
        tmp_path, caplog):
    from stevedore import extension

    received = []

    def broken(_plan):
        raise RuntimeError("listener down")

    manager = extension.ExtensionManager.make_test_instance([
        extension.Extension("broken", None, broken, None),
        extension.Extension("agent", None, received.append, None)])
    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._listeners = manager
    strategy._compute_model = model
    with caplog.at_level(logging.ERROR):
        actions = strategy.execute().actions
    assert len(received) == 1 and len(received[0]) == len(actions)
    assert {"instance", "upper_cpu_cores", "horizon_s",
            "profile"} <= set(received[0][0])
    assert "listener down" in caplog.text


def _snapshot_and_params(strategy, model):
    from watcher_adaptive.strategy import cluster
    from watcher_adaptive.strategy import schema

    snapshot, _ = cluster.build_snapshot(model, {})
    return snapshot, schema.to_parameters(dict(strategy.input_parameters))


def test_behaviour_profiles_feed_the_model_columns(tmp_path):
    import datetime

    import numpy as np

    model, cpu = hot_cluster()
    names = sorted(cpu)
    profiles = {"profile_mem_used": {names[0]: [0.2, 0.4, np.nan]},
                "profile_net_rx_share": {names[0]: [0.9, 0.7, 0.8]}}
    source = builders.RecordingSource(cpu, profiles=profiles)
    strategy = load_strategy(tmp_path, source)
    snapshot, params = _snapshot_and_params(strategy, model)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cols = strategy._profiles(snapshot, now, now, params)
    row = list(snapshot.vm_names).index(names[0])
    # trailing-hour means; no disk profile; NaN for instances without one
    assert cols[row] == pytest.approx([0.3, np.nan, 0.8], nan_ok=True)
    others = [i for i in range(snapshot.n_vms) if i != row]
    assert others and np.isnan(cols[others]).all()
    assert ("profile", ("profile_mem_used", "profile_disk_write_share",
                        "profile_net_rx_share")) in source.calls


def test_profiles_that_cannot_be_read_are_skipped_not_fatal(tmp_path):
    import datetime

    model, _ = hot_cluster()
    strategy = load_strategy(tmp_path, builders.BrokenSource())
    snapshot, params = _snapshot_and_params(strategy, model)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert strategy._profiles(snapshot, now, now, params) is None


class FakeHistory:
    """Past migrations per instance, as Gnocchi's history would serve."""

    def __init__(self, rows_by_vm):
        self.rows_by_vm = rows_by_vm
        self.asked = []

    def read(self, uuid):
        self.asked.append(uuid)
        return self.rows_by_vm.get(uuid, [])


def adaptive_cluster():
    model, cpu = hot_cluster()
    for inst in model.get_all_instances().values():
        if inst.name.startswith("busy-"):
            inst.metadata = {"adaptive_vm_type": "db"}
    return model, cpu


def test_adaptive_migrate_actions_carry_the_hint(tmp_path):
    from watcher.applier.actions.base import BaseAction  # noqa: F401

    from watcher_adaptive.action.adaptive_migrate import SCHEMA
    from watcher_adaptive.core import hotset

    model, cpu = adaptive_cluster()
    # every other busy instance has a measured history
    measured = {builders.vm_uuid(f"busy-{i}") for i in range(0, 5, 2)}
    history = FakeHistory({u: [{"ts": 1.0, "hot_kib": 512.0},
                               {"ts": 2.0, "hot_kib": 1024.0 * 512}]
                           for u in measured})
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                             horizon=1800)
    strategy.config.action_type = "adaptive_migrate"
    strategy._history_source = history
    strategy._compute_model = model
    actions = strategy.execute().actions
    assert actions
    by_vm = {}
    for action in actions:
        assert action["action_type"] == "adaptive_migrate"
        params = action["input_parameters"]
        jsonschema.validate(params, SCHEMA)
        by_vm[params["resource_id"]] = params["hint"]
    assert set(history.asked) == set(by_vm)
    mem_kib = 2048 * 1024
    for why in strategy.explanations:
        hint = by_vm[why["instance"]]
        assert hint["forecast"]["quantile"] == 0.9
        assert hint["forecast"]["horizon_s"] == 1800
        assert hint["forecast"]["expected_cpu_cores"] == \
            why["expected_cpu_cores"]
        assert hint["vm_type"] == "db"
        assert hint["memory_kib"] == mem_kib
        if why["instance"] in measured:
            # the newest measured hot set, 512 MiB of 2 GiB
            assert hint["expected_hot_source"] == "history"
            assert hint["expected_hot_kib"] == 512 * 1024
        else:
            assert hint["expected_hot_source"] == "class_default"
            assert hint["expected_hot_kib"] == round(
                hotset.CLASS_DEFAULT_HOT_SHARE["db"] * mem_kib)
    sources = {h["expected_hot_source"] for h in by_vm.values()}
    assert sources == {"history", "class_default"}, by_vm


def test_hotset_model_is_used_when_configured(tmp_path, caplog):
    import joblib
    import numpy as np

    from watcher_adaptive.core import hotset

    rng = np.random.default_rng(0)
    ws = rng.uniform(0.05, 0.9, 60)
    X = np.vstack([hotset.feature_row({"mem.working_set_ratio": w})
                   for w in ws])
    fitted = hotset.HotSetPredictor(max_iter=30, random_state=0).fit(
        X, ws, ["db"] * 60)
    joblib.dump(fitted, tmp_path / "hotset.joblib")
    model, cpu = adaptive_cluster()
    busy = [builders.vm_uuid(f"busy-{i}") for i in range(5)]
    profiles = {"profile_ws_ratio": {u: [0.2, 0.2] for u in busy}}
    strategy = load_strategy(tmp_path, builders.RecordingSource(
        cpu, profiles=profiles), horizon=1800)
    strategy.config.action_type = "adaptive_migrate"
    strategy.config.hotset_model_path = str(tmp_path / "hotset.joblib")
    strategy._history_source = FakeHistory({})
    strategy._compute_model = model
    actions = strategy.execute().actions
    assert actions
    for action in actions:
        hint = action["input_parameters"]["hint"]
        assert hint["expected_hot_source"] == "model"
        share = hint["expected_hot_kib"] / hint["memory_kib"]
        # learned ws -> share; far from the db default of 0.6
        assert abs(share - 0.2) < 0.1, share

    strategy = load_strategy(tmp_path / "b", builders.RecordingSource(cpu),
                             horizon=1800)
    (tmp_path / "b").mkdir()
    strategy.config.journal_path = str(tmp_path / "b" / "moves.json")
    strategy.config.action_type = "adaptive_migrate"
    strategy.config.hotset_model_path = str(tmp_path / "missing")
    strategy._history_source = FakeHistory({})
    strategy._compute_model = adaptive_cluster()[0]
    with caplog.at_level(logging.WARNING):
        actions = strategy.execute().actions
    assert {a["input_parameters"]["hint"]["expected_hot_source"]
            for a in actions} == {"class_default"}
    assert "hot-set model" in caplog.text


@pytest.mark.parametrize("path", ["", "$state_path/moves.json"])
def test_an_unusable_journal_path_fails_the_audit_loudly(tmp_path, path):
    model, cpu = hot_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy.config.journal_path = path
    strategy._compute_model = model
    with pytest.raises(ValueError, match="journal_path"):
        strategy.execute()


def test_consolidation_pauses_after_a_wake_recorded_in_the_journal(tmp_path):
    from watcher_adaptive.strategy import journal

    # two calm hosts: one can be emptied onto the other
    hosts = {"cmp-1": {}, "cmp-2": {}}
    vms = {f"vm-{i}": {"host": f"cmp-{1 + i % 2}"} for i in range(4)}
    cpu = {builders.vm_uuid(f"vm-{i}"): [0.1] * 12 for i in range(4)}

    def audit(woke_ago):
        path = tmp_path / "moves.json"
        path.unlink(missing_ok=True)
        strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                                 consolidate=True, wake_pause=3600)
        if woke_ago is not None:
            path.write_text(json.dumps(
                {journal.WAKE: strategy._clock() - woke_ago}))
        strategy._compute_model = builders.make_model(hosts, vms)
        strategy.execute()
        return strategy, json.loads(path.read_text())

    paused, kept = audit(woke_ago=600)
    assert paused.plan.moves == ()
    assert dict(paused.plan.skipped)["consolidation_paused"] == 1
    # the wake stays in the journal for the next audit
    assert journal.WAKE in kept
    done, _ = audit(woke_ago=7200)
    assert len(done.plan.released) == 1 and len(done.plan.moves) == 2
    assert not done.plan.woke_host


def test_a_consolidation_recorded_in_the_journal_settles(tmp_path):
    from watcher_adaptive.strategy import journal

    # two calm hosts: one can be emptied onto the other
    hosts = {"cmp-1": {}, "cmp-2": {}}
    vms = {f"vm-{i}": {"host": f"cmp-{1 + i % 2}"} for i in range(4)}
    cpu = {builders.vm_uuid(f"vm-{i}"): [0.1] * 12 for i in range(4)}
    path = tmp_path / "moves.json"

    def audit(entries):
        path.unlink(missing_ok=True)
        strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                                 consolidate=True)
        now = strategy._clock()
        path.write_text(json.dumps({k: now - ago
                                    for k, ago in entries.items()}))
        strategy._compute_model = builders.make_model(hosts, vms)
        strategy.execute()
        return strategy, json.loads(path.read_text())

    # a consolidation moved every VM an hour ago: none is moved again
    settling, _ = audit({journal.CONSOLIDATED + builders.vm_uuid(f"vm-{i}"):
                         3600 for i in range(4)})
    assert settling.plan.moves == ()
    assert dict(settling.plan.skipped)["consolidation_settling"] == 1
    # two days later one host is emptied, and the journal says which
    # instances a consolidation moved (and when any instance moved)
    done, kept = audit({journal.CONSOLIDATED + builders.vm_uuid(f"vm-{i}"):
                        2 * 86400 for i in range(4)})
    moved = {m["instance"] for m in done.explanations}
    assert len(done.plan.released) == 1 and len(moved) == 2
    assert journal.consolidations(kept).keys() == moved
    assert journal.moves(kept).keys() == moved


def test_plans_go_through_watchers_weight_planner(tmp_path):
    """Watcher picks the planner from the strategy: the base class's
    workload_stabilization planner refuses adaptive_migrate
    (UnsupportedActionType, seen on a real Watcher 17); the weight
    planner takes it with the weights the DevStack plugin writes."""
    strategy = load_strategy(tmp_path, builders.RecordingSource({}))
    assert strategy.planner == "weight"


def daily_hot_cluster():
    """hot_cluster's hosts over two days: cmp-1's five VMs follow a
    daily cycle with little noise that peaks now (0.9 of their size,
    9 cores on 8), the calm VMs sit at 0.1."""
    model, _ = hot_cluster()
    rng = np.random.default_rng(8)
    t = np.arange(576)
    cycle = 0.5 + 0.4 * np.sin(2 * np.pi * (t - 575 + 72) / 288)
    cpu = {builders.vm_uuid(f"busy-{i}"): list(np.clip(
        cycle + rng.normal(0, 0.01, t.size), 0, 1)) for i in range(5)}
    cpu.update({builders.vm_uuid(n): [0.1] * 576
                for n in ("calm-a", "calm-b")})
    return model, cpu


def test_each_action_names_the_forecaster_that_spoke(tmp_path, caplog):
    """With two days of a daily cycle in its window, the first audit's
    online forecasters have the evidence to let a seasonal one speak;
    the explanation and the hint say so, and the next audit goes on from
    the saved state with the one new sample."""
    from watcher_adaptive.strategy import forecasters

    model, cpu = daily_hot_cluster()
    source = builders.RecordingSource(cpu)
    strategy = load_strategy(tmp_path, source, period=2 * 86400,
                             explain="full")
    strategy.config.action_type = "adaptive_migrate"
    strategy._history_source = FakeHistory({})
    strategy._compute_model = model
    now = 1_800_000_000.0
    strategy._clock = lambda: now
    with caplog.at_level(logging.INFO):
        actions = strategy.execute().actions
    assert actions
    spoke = {why["forecaster"] for why in strategy.explanations}
    assert spoke and "reactive" not in spoke
    hints = {a["input_parameters"]["hint"]["forecast"]["forecaster"]
             for a in actions}
    assert hints == spoke
    assert f"({spoke.pop()})" in caplog.text
    assert "fed 576 new step(s)" in caplog.text
    state = forecasters.state_path(strategy.config.journal_path)
    assert state.exists()
    # five minutes later: one more sample, the evidence kept
    for series in cpu.values():
        series.append(series[-1])
    caplog.clear()
    later = load_strategy(tmp_path, source, period=2 * 86400)
    later._clock = lambda: now + 300
    later._compute_model = model
    with caplog.at_level(logging.INFO):
        later.execute()
    assert "fed 1 new step(s)" in caplog.text
    assert "start afresh" not in caplog.text

"""The action's plugin surface without a cloud: Watcher's loader finds
it and registers its options, its schema is as strict as Watcher's
migrate, and what it sends the agent is what the agent's contract
accepts."""
from __future__ import annotations

import copy

import jsonschema
import pytest

pytest.importorskip("watcher")

UUID = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a01"
GOOD = {"resource_id": UUID, "migration_type": "live",
        "source_node": "cmp-a", "destination_node": "cmp-b",
        "resource_name": "vm",
        "hint": {"vm_type": "db", "profile_id": "3",
                 "expected_hot_kib": 2048, "memory_kib": 8192,
                 "expected_hot_source": "model", "preferred_node": 1,
                 "dirty_rate_bps": 1e6,
                 "forecast": {"quantile": 0.9, "horizon_s": 1800,
                              "expected_cpu_cores": 1.0,
                              "upper_cpu_cores": 1.5},
                 "thresholds": {"hot_access_rate": 0.3,
                                "warm_access_rate": 0.05}}}


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


@pytest.fixture
def action():
    from watcher.applier.loading import default

    loaded = default.DefaultActionLoader().load("adaptive_migrate")
    loaded.input_parameters = copy.deepcopy(GOOD)
    return loaded


def test_loaded_by_watcher_with_its_options(action):
    from oslo_config import cfg

    from watcher_adaptive.conf import opts

    assert action.get_name() == "adaptive_migrate"
    assert action.check_abort() is True
    assert action.config["migration_timeout"] == 1800.0
    assert cfg.CONF["watcher_actions.adaptive_migrate"].agent_timeout == 3
    listed = dict(opts.list_opts())["watcher_actions.adaptive_migrate"]
    assert {o.dest for o in listed} >= {"migration_timeout",
                                        "agent_timeout",
                                        "record_history"}
    assert action.validate_parameters()


@pytest.mark.parametrize("change", [
    lambda p: p.update(resource_id="not-a-uuid"),
    lambda p: p.update(migration_type="cold"),
    lambda p: p.pop("destination_node"),
    lambda p: p.update(destination_node=""),
    lambda p: p.update(surprise=1),
    lambda p: p["hint"].update(expected_hot_kib=-1),
    lambda p: p["hint"].update(expected_hot_kib=1.5),
    lambda p: p["hint"].update(colour="blue"),
    lambda p: p["hint"]["forecast"].update(quantile=1.5),
    lambda p: p["hint"]["forecast"].update(p99=3),
    lambda p: p["hint"]["thresholds"].update(hot_access_rate=2),
    lambda p: p["hint"]["thresholds"].update(made_up=0.1),
    lambda p: p["hint"].update(preferred_node=-1),
    # finite numbers only: JSON Schema lets these through, the hint's own
    # validation does not
    lambda p: p["hint"].update(dirty_rate_bps=float("nan")),
    lambda p: p["hint"]["thresholds"].update(write_weight=float("inf")),
])
def test_schema_refuses(action, change):
    change(action.input_parameters)
    with pytest.raises(jsonschema.ValidationError):
        action.validate_parameters()


def test_minimal_parameters_are_valid(action):
    action.input_parameters = {k: GOOD[k] for k in (
        "resource_id", "migration_type", "source_node",
        "destination_node")}
    assert action.validate_parameters()


@pytest.mark.parametrize("kind", ["prepare", "started", "completed",
                                  "aborted"])
def test_payloads_are_what_the_agent_contract_accepts(action, kind):
    from nova_hooks.core import contract
    from nova_hooks.core import hint as hint_contract
    from watcher_adaptive.action.adaptive_migrate import _Run

    run = _Run(correlation_id="corr-1", migration_id="42")
    payload = action._payload(kind, run)
    msg = contract.parse_message(kind, payload)
    assert msg.instance_uuid == UUID
    assert msg.migration_id == "corr-1"
    if kind == "prepare":
        assert msg.hint.expected_hot_kib == 2048
        assert msg.hint.vm_type == "db" and msg.hint.profile_id == "3"
        assert dict(msg.hint.thresholds.overrides()) == {
            "hot_access_rate": 0.3, "warm_access_rate": 0.05}
        # the whole hint arrives, on the one type
        assert msg.hint == hint_contract.from_params(UUID, "corr-1",
                                                     GOOD["hint"])
        assert msg.hint.preferred_node == 1
        assert payload["forecast"]["upper_cpu_cores"] == 1.5
    else:
        assert msg.hint is None
        assert payload["nova_migration_id"] == "42"


@pytest.mark.parametrize("url,expected", [
    (None, []),
    ("rabbit://guest:guest@127.0.0.1:5672/", [("127.0.0.1", 5672)]),
    ("rabbit://u:p@h1,u:p@h2:5673/vh", [("h1", 5672), ("h2", 5673)]),
    ("rabbits://u:p@[::1]:5671/", [("::1", 5671)]),
])
def test_broker_addresses(url, expected):
    from watcher_adaptive.adapters.agent_rpc import broker_addresses
    assert broker_addresses(url) == expected

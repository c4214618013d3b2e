"""Hostile input, fuzzed with hypothesis: every rejection is the
documented error, never a crash and never an effect.

Covers the agent's RPC messages and endpoint, Nova's notifications as
the agent reads them, the ``adaptive_migrate`` action's input
parameters (and that whatever its schema accepts, the agent accepts
too), the strategy's audit parameters, QEMU's post-copy trace parser
and the trace loaders.  (The guest-record parser and framing have their
own fuzz tests in tests/unit/profiler.)"""
from __future__ import annotations

import copy
import math
import uuid

import jsonschema
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import contract

# the hardening recorder is one per test, not per example, on purpose
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[
                        HealthCheck.too_slow,
                        HealthCheck.function_scoped_fixture])
UUID = "0b7c9f52-5a5e-4f53-9d1e-2b8f0f6c1a77"

#: JSON values, and the odd things a Python client could still send
scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=40))
json_values = st.recursive(
    scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
#: payloads near the real ones: known keys with any value
known_keys = st.sampled_from(
    ["version", "instance_uuid", "migration_id", "vm_type", "profile_id",
     "thresholds", "working_set_kib", "dirty_rate_bps", "preferred_node"])
near_payloads = st.dictionaries(
    st.one_of(known_keys, st.text(max_size=8)),
    st.one_of(json_values, st.just("1.0"), st.just(UUID)), max_size=9)


@pytest.mark.hardening("fuzz-rpc")
@SETTINGS
@given(kind=st.one_of(st.sampled_from(
    ["prepare", "started", "completed", "aborted"]), st.text(max_size=10)),
    payload=near_payloads)
def test_contract_parses_or_refuses_with_contract_error(kind, payload,
                                                        hardening):
    try:
        message = contract.parse_message(kind, payload)
    except contract.ContractError:
        hardening.count("RPC messages refused with ContractError")
        return
    # what it accepts round-trips through the wire form
    again = contract.parse_message(kind, contract.make_payload(message))
    assert again == message
    hardening.count("RPC messages accepted and round-tripped")


@pytest.mark.hardening("fuzz-rpc")
@SETTINGS
@given(method=st.sampled_from(["prepare", "started", "completed",
                               "aborted", "status"]),
       payload=st.one_of(json_values, near_payloads))
def test_the_rpc_endpoint_answers_everything_and_refusals_do_nothing(
        method, payload, hardening):
    from nova_hooks.agent.rpc import AgentEndpoint

    effects = []
    endpoint = AgentEndpoint(lambda hint: effects.append(hint),
                             lambda u, s: effects.append((u, s)),
                             lambda u: None)
    answer = getattr(endpoint, method)({}, payload)
    assert isinstance(answer, dict)
    if method != "status" and not answer.get("accepted"):
        assert effects == [] and answer["error"]
        hardening.count("RPC calls answered with an error, no effect")
    else:
        hardening.count("RPC calls answered")


@pytest.mark.hardening("fuzz-rpc")
@SETTINGS
@given(event_type=st.one_of(st.text(max_size=50), st.sampled_from(
    ["instance.live_migration_pre.start",
     "instance.live_migration_post_dest.end",
     "instance.live_migration_rollback_dest.end"])),
    payload=json_values, publisher=st.one_of(st.text(max_size=20),
                                             st.just("nova-compute:h")))
def test_notifications_never_raise(event_type, payload, publisher,
                                   hardening):
    from nova_hooks.agent.notifications import NotificationEndpoint

    got = []
    endpoint = NotificationEndpoint("h", lambda *a: got.append(a),
                                    lambda *a: got.append(a))
    assert endpoint.info({}, publisher, event_type, payload, {}) is None
    for item in got:
        assert isinstance(item[0], str) and item[0]
    hardening.count("notifications taken as context" if got
                    else "notifications ignored")


def _valid_action_params() -> dict:
    return {"resource_id": UUID, "resource_name": "vm-1",
            "migration_type": "live", "source_node": "cmp-a",
            "destination_node": "cmp-b",
            "hint": {"vm_type": "db", "profile_id": "3",
                     "expected_hot_kib": 1 << 20,
                     "expected_hot_source": "model",
                     "memory_kib": 4 << 20, "preferred_node": 0,
                     "dirty_rate_bps": 1e6,
                     "forecast": {"quantile": 0.9, "horizon_s": 1800,
                                  "expected_cpu_cores": 1.0,
                                  "upper_cpu_cores": 1.5},
                     "thresholds": {"hot_access_rate": 0.4,
                                    "warm_access_rate": 0.05}}}


def _mutate(params: dict, path: list, value) -> dict:
    out = copy.deepcopy(params)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if not isinstance(node, dict):
            return out
    node[path[-1]] = value
    return out


action_paths = st.sampled_from(
    [["resource_id"], ["migration_type"], ["source_node"],
     ["destination_node"], ["extra"], ["hint", "vm_type"],
     ["hint", "profile_id"], ["hint", "expected_hot_kib"],
     ["hint", "preferred_node"], ["hint", "dirty_rate_bps"],
     ["hint", "memory_kib"], ["hint", "unknown"],
     ["hint", "forecast", "quantile"], ["hint", "forecast", "horizon_s"],
     ["hint", "thresholds", "hot_access_rate"],
     ["hint", "thresholds", "write_weight"],
     ["hint", "thresholds", "nonsense"]])


@pytest.mark.hardening("fuzz-action-input")
@SETTINGS
@given(mutations=st.lists(st.tuples(action_paths, json_values),
                          max_size=3))
def test_action_input_the_schema_accepts_the_agent_accepts(mutations,
                                                           hardening):
    """Watcher validates input_parameters against the action's schema;
    anything that passes must make a prepare message the agent takes."""
    from watcher_adaptive.action.adaptive_migrate import AdaptiveMigrate
    from watcher_adaptive.action.adaptive_migrate import _Run

    params = _valid_action_params()
    for path, value in mutations:
        params = _mutate(params, path, value)
    action = AdaptiveMigrate(config={}, osc=None)
    action.input_parameters = params
    try:
        # Watcher's check against SCHEMA, and the hint's own validation
        # (finite numbers, which JSON Schema cannot say)
        action.validate_parameters()
    except jsonschema.ValidationError:
        hardening.count("refused by the action's schema")
        return
    payload = action._payload("prepare", _Run(correlation_id="c-1"))
    message = contract.parse_message("prepare", payload)
    assert message.instance_uuid == UUID
    hardening.count("accepted by the schema and by the agent")


@pytest.fixture(scope="module")
def audit_schema():
    from watcher_adaptive.strategy import schema
    return schema.SCHEMA


audit_keys = st.sampled_from(
    ["horizon", "quantile", "overload_threshold", "target_utilization",
     "underload_threshold", "consolidate", "max_migrations_per_audit",
     "max_migrations_per_hour", "max_concurrent_per_host", "cooldown",
     "granularity", "period", "explain", "nonsense"])


@pytest.mark.hardening("fuzz-audit-parameters")
@SETTINGS
@given(values=st.dictionaries(audit_keys, json_values, max_size=6))
def test_audit_parameters_are_refused_clearly(audit_schema, values,
                                              hardening):
    """Watcher validates the audit's parameters against the strategy's
    schema; what passes becomes typed parameters or a PolicyError."""
    from watcher.common import exception
    from watcher.common import utils

    from watcher_adaptive.exceptions import PolicyError
    from watcher_adaptive.strategy import schema

    values = dict(values)
    try:
        utils.StrictDefaultValidatingDraft4Validator(audit_schema) \
            .validate(values)
    except (jsonschema.ValidationError,
            exception.AuditParameterNotAllowed):    # Watcher's refusals
        hardening.count("refused by Watcher's schema check")
        return
    try:
        params = schema.to_parameters(values)
    except PolicyError as exc:
        assert str(exc)
        hardening.count("refused with PolicyError")
        return
    assert params is not None
    hardening.count("accepted as typed parameters")


@pytest.mark.hardening("fuzz-trace-loaders")
@SETTINGS
@given(text=st.text(max_size=400))
def test_the_postcopy_trace_parser_takes_any_text(text, hardening):
    from nova_hooks.agent.backends import postcopy_trace as pt

    misses, placed, offsets = pt.parse(text)
    assert misses >= 0 and placed >= 0
    assert sum(len(v) for v in offsets.values()) == misses
    regions = pt.regions([o for v in offsets.values() for o in v],
                         1 << 30, 64)
    assert all(0 <= r.access_rate <= 1 for r in regions)
    hardening.count("post-copy traces parsed, bounded" if misses
                    else "post-copy traces with no fault read")


@pytest.mark.hardening("fuzz-trace-loaders")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_trace_loaders_refuse_garbage_with_trace_error(tmp_path, data,
                                                       hardening):
    from watcher_adaptive.exceptions import TraceError
    from watcher_adaptive.traces.bitbrains import load_bitbrains
    from watcher_adaptive.traces.generic import load_wide_csv
    from watcher_adaptive.traces.planetlab import load_planetlab_day

    case = tmp_path / uuid.uuid4().hex
    day = case / "day"
    day.mkdir(parents=True)
    (day / "vm-1").write_bytes(data)
    (case / "1.csv").write_bytes(data)
    (case / "wide.csv").write_bytes(data)
    for load in (lambda: load_planetlab_day(day),
                 lambda: load_bitbrains([case / "1.csv"]),
                 lambda: load_wide_csv(case / "wide.csv")):
        try:
            traces = load()
        except TraceError as exc:
            assert str(exc)
            hardening.count("trace files refused with TraceError")
            continue
        # what loads is finite and within the loader's own bounds
        for values in _arrays_of(traces):
            assert all(math.isfinite(v) for v in values)
        hardening.count("trace files loaded, all values finite")


def _arrays_of(traces):
    for name in ("cpu", "cpu_util", "values"):
        arr = getattr(traces, name, None)
        if arr is not None:
            try:
                yield [float(v) for v in arr.ravel()]
            except AttributeError:
                pass

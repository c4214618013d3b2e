"""The migration hint: one type, and the forms derived from it agree.

The action's JSON Schema (checked with jsonschema, as Watcher does) and
the agent's validation must accept and refuse the same hints; a field
added to the dataclass must show up in both with no other edit.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import jsonschema
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import contract
from nova_hooks.core import hint as H
from nova_hooks.core.hint import ForecastSummary
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.hint import ThresholdOverrides
from nova_hooks.exceptions import ContractError
from nova_hooks.exceptions import NovaHooksError

UUID = "3d9e2c8a-1b4f-4a6e-8c2d-5f7a9b0c1d2e"
FULL = MigrationHint(
    instance_uuid=UUID, migration_id="corr-1", vm_type="db",
    profile_id="7",
    forecast=ForecastSummary(quantile=0.9, horizon_s=1800.0,
                             expected_cpu_cores=1.0, upper_cpu_cores=1.5),
    expected_hot_kib=2048, expected_hot_source="history", memory_kib=8192,
    dirty_rate_bps=1e6, preferred_node=1,
    thresholds=ThresholdOverrides(hot_access_rate=0.3,
                                  warm_access_rate=0.05))


def test_params_and_wire_forms_round_trip():
    params = H.to_params(FULL)
    jsonschema.validate(params, H.params_schema())
    assert "instance_uuid" not in params and "migration_id" not in params
    assert H.from_params(UUID, "corr-1", params) == FULL
    wire = H.to_wire(FULL)
    hint, ignored = H.from_wire(wire)
    assert hint == FULL and ignored == ()


def test_every_field_is_in_the_schema_and_the_wire():
    schema = H.params_schema()["properties"]
    wire = H.to_wire(FULL)
    for field in dataclasses.fields(MigrationHint):
        assert getattr(FULL, field.name) is not None, field.name
        assert field.name in wire
        assert (field.name in schema) is not H.spec_of(field).envelope


def test_legacy_name_is_read_and_written():
    """1.0 agents read ``working_set_kib``; 1.0 senders write it."""
    assert H.to_wire(FULL)["working_set_kib"] == 2048
    hint, ignored = H.from_wire({"instance_uuid": UUID,
                                 "working_set_kib": 4096})
    assert hint.expected_hot_kib == 4096 and ignored == ()


def test_unknown_fields_ignored_on_the_wire_refused_in_params():
    hint, ignored = H.from_wire({
        "instance_uuid": UUID, "vm_type": "db", "colour": "blue",
        "thresholds": {"hot_access_rate": 0.4, "shade": 1}})
    assert hint == MigrationHint(
        UUID, vm_type="db",
        thresholds=ThresholdOverrides(hot_access_rate=0.4))
    assert ignored == ("colour", "thresholds.shade")
    with pytest.raises(ContractError, match="colour"):
        H.from_params(UUID, None, {"colour": "blue"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"colour": "blue"}, H.params_schema())


def test_another_major_is_refused():
    with pytest.raises(ContractError, match="not supported"):
        contract.parse_message("prepare", {"version": "2.0",
                                           "instance_uuid": UUID})
    msg = contract.parse_message("prepare", {
        "version": "1.9", "instance_uuid": UUID, "new_in_1_9": 1})
    assert msg.ignored == ("new_in_1_9",)


def test_errors_are_of_the_agent_hierarchy():
    with pytest.raises(NovaHooksError):
        H.from_params(UUID, None, {"memory_kib": -1})
    assert issubclass(ContractError, ValueError)


# -- the two derived validators agree ---------------------------------
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000),
    st.floats(-2, 20, allow_nan=False), st.sampled_from(
        ["", "db", "x" * 65, "model", "history", "class_default"]))


def _mutated(draw_value, path):
    params = H.to_params(FULL)
    node = params
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return params
    node[path[-1]] = draw_value
    return params


_paths = st.sampled_from(
    [(f.name,) for f in dataclasses.fields(MigrationHint)
     if not H.spec_of(f).envelope]
    + [("forecast", f.name) for f in dataclasses.fields(ForecastSummary)]
    + [("thresholds", f.name)
       for f in dataclasses.fields(ThresholdOverrides)])


@settings(max_examples=300, deadline=None)
@given(path=_paths, value=_values)
def test_schema_and_validation_accept_the_same(path, value):
    params = _mutated(value, path)
    try:
        jsonschema.validate(params, H.params_schema())
        schema_ok = True
    except jsonschema.ValidationError:
        schema_ok = False
    try:
        H.from_params(UUID, None, params)
        ours_ok = True
    except ContractError:
        ours_ok = False
    assert schema_ok == ours_ok, params


# -- adding a field is one edit ---------------------------------------
def test_a_new_field_appears_in_schema_validation_and_wire():
    """What a field added to MigrationHint gets with no other edit: a
    place in the action's schema, validation on both sides, the wire."""
    spec = H.Spec("integer", "a field added tomorrow", minimum=1)
    fields = [(f.name, f.type, f) for f in dataclasses.fields(MigrationHint)]
    fields.append(("tomorrow", Optional[int],
                   dataclasses.field(default=None,
                                     metadata={"spec": spec})))
    extended = dataclasses.make_dataclass("Extended", fields, frozen=True)
    schema = H.object_schema(extended)
    assert schema["properties"]["tomorrow"]["anyOf"][0] == {
        "type": "integer", "description": "a field added tomorrow",
        "minimum": 1}
    jsonschema.validate({"tomorrow": 3}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tomorrow": 0}, schema)
    got = H._object(extended, {"tomorrow": 3.0}, "", [], True,
                    {"instance_uuid": UUID})
    assert got.tomorrow == 3
    with pytest.raises(ContractError, match="tomorrow"):
        H._object(extended, {"tomorrow": 0}, "", [], True,
                  {"instance_uuid": UUID})


def test_the_user_guide_lists_every_field():
    """The action's guide names each hint field (its table is prose
    around the type; this keeps it from drifting)."""
    import pathlib

    text = (pathlib.Path(__file__).parents[3] / "doc" / "source" / "user"
            / "migration_action.rst").read_text()
    section = text.split("The hint\n")[1].split("The message contract")[0]
    for cls in (MigrationHint, ForecastSummary, ThresholdOverrides):
        for field in dataclasses.fields(cls):
            if not H.spec_of(field).envelope:
                assert f"``{field.name}``" in section, field.name

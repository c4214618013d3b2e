"""The migration hint: written once here, every other form derived.

:class:`MigrationHint` is what the control plane tells a destination
agent about an incoming guest before its live migration starts.  The
strategy builds it, the ``adaptive_migrate`` action carries it as its
``hint`` parameter, the RPC ``prepare`` message is its wire form and the
agent reads it back into the same type.  From the one definition come:

* :func:`params_schema`, the JSON Schema of the action's ``hint``
  parameter (Watcher validates action plans with it);
* :func:`from_wire` / :func:`to_wire`, the agent's validation and the
  sender's serialisation;
* :func:`from_params` / :func:`to_params`, the action parameter's form.

Each field says its wire shape once, in its :class:`Spec`; adding a
field is that one line plus its use.

The rule for fields a reader does not know: the action's parameter is
strict (strategy and action ship together, so an unknown name is a
bug), the wire is lenient within a major version (unknown names are
ignored and reported back so the agent can count and log them; another
major version is refused by :mod:`nova_hooks.core.contract`).

This module imports nothing of ``watcher_adaptive``: the agent runs on
compute hosts without the control plane.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any
from typing import Mapping
from typing import Optional

from nova_hooks.exceptions import ContractError

#: names a 1.0 sender used for a field, and the field they mean now
LEGACY_NAMES: Mapping[str, str] = {"working_set_kib": "expected_hot_kib"}


@dataclasses.dataclass(frozen=True)
class Spec:
    """The wire shape of one hint field.

    :param json_type: the JSON type: ``string``, ``integer``, ``number`` or
        ``object`` (then ``nested`` is the dataclass it holds).
    :param envelope: set by the sender of the message (instance,
        migration), not part of the action's ``hint`` parameter.
    :param int_as_string: the wire also takes a JSON integer for this
        identifier (1.0 senders wrote numeric profile ids); the
        action's parameter does not.
    """

    json_type: str
    doc: str
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_minimum: Optional[float] = None
    min_length: Optional[int] = None
    max_length: Optional[int] = None
    enum: tuple[str, ...] = ()
    nested: Optional[type] = None
    envelope: bool = False
    int_as_string: bool = False


def _field(spec: Spec) -> Any:
    """An optional dataclass field carrying its wire ``spec``."""
    return dataclasses.field(default=None, metadata={"spec": spec})


def _name(doc: str) -> Spec:
    return Spec("string", doc, min_length=1, max_length=64,
                int_as_string=True)


def _share(doc: str) -> Spec:
    return Spec("number", doc, minimum=0, maximum=1)


def _nonneg(doc: str, kind: str = "number") -> Spec:
    return Spec(kind, doc, minimum=0)


@dataclasses.dataclass(frozen=True)
class ForecastSummary:
    """What the strategy's forecast said of the instance."""

    quantile: Optional[float] = _field(_share(
        "quantile of the forecast the move was planned on"))
    horizon_s: Optional[float] = _field(Spec(
        "number", "how far ahead the forecast looked (s)",
        exclusive_minimum=0))
    expected_cpu_cores: Optional[float] = _field(_nonneg(
        "expected CPU demand (cores)"))
    upper_cpu_cores: Optional[float] = _field(_nonneg(
        "the forecast's upper CPU demand (cores)"))
    profile_shift_cpu_cores: Optional[float] = _field(Spec(
        "number", "how far the guest's behaviour profile moved the upper "
        "CPU demand (cores, signed)"))
    forecaster: Optional[str] = _field(Spec(
        "string", "the forecaster that spoke for the instance (reactive, "
        "seasonal, model, ...)", min_length=1, max_length=64))


@dataclasses.dataclass(frozen=True)
class ThresholdOverrides:
    """Per-guest overrides of the agent's page-class thresholds
    (the fields of :class:`nova_hooks.core.types.Thresholds`)."""

    hot_access_rate: Optional[float] = _field(_share(
        "score at or above which a page is hot"))
    warm_access_rate: Optional[float] = _field(_share(
        "score at or above which a page is warm"))
    cold_min_idle_s: Optional[float] = _field(_nonneg(
        "seconds without access before a page is cold"))
    write_weight: Optional[float] = _field(Spec(
        "number", "weight of a write relative to a read", minimum=0,
        maximum=15))
    dirty_window_s: Optional[float] = _field(_nonneg(
        "window of the dirty rate taken as the hot set (s)"))

    def overrides(self) -> tuple[tuple[str, float], ...]:
        """The set ones as ``(name, value)`` pairs, sorted by name."""
        return tuple(sorted((k, v) for k, v in _present(self).items()))


@dataclasses.dataclass(frozen=True)
class MigrationHint:
    """The predictor's forecast and profile of one incoming guest.

    Every field but the instance is optional: an agent makes do with
    what it is told, and its configuration fills the rest.
    """

    instance_uuid: str = dataclasses.field(metadata={"spec": Spec(
        "string", "the migrating instance", min_length=1,
        envelope=True)})
    migration_id: Optional[str] = _field(Spec(
        "string", "the action's correlation id of this migration",
        envelope=True))
    vm_type: Optional[str] = _field(_name(
        "the guest's class (the strategy's VM-type metadata)"))
    profile_id: Optional[str] = _field(_name(
        "the guest's behaviour profile"))
    forecast: Optional[ForecastSummary] = _field(Spec(
        "object", "the forecast the move was planned on",
        nested=ForecastSummary))
    expected_hot_kib: Optional[int] = _field(_nonneg(
        "the expected hot working set (KiB)", "integer"))
    expected_hot_source: Optional[str] = _field(Spec(
        "string", "where expected_hot_kib comes from",
        enum=("model", "class_default", "history")))
    memory_kib: Optional[int] = _field(_nonneg(
        "the guest's memory (KiB)", "integer"))
    dirty_rate_bps: Optional[float] = _field(_nonneg(
        "expected page dirty rate (bytes/s)"))
    preferred_node: Optional[int] = _field(_nonneg(
        "NUMA node to place the guest on before pages arrive",
        "integer"))
    thresholds: Optional[ThresholdOverrides] = _field(Spec(
        "object", "page-class threshold overrides",
        nested=ThresholdOverrides))


#: the fields the sender of a message sets, outside the action's hint
_ENVELOPE = frozenset(f.name for f in dataclasses.fields(MigrationHint)
                      if f.metadata["spec"].envelope)


def spec_of(field: dataclasses.Field[Any]) -> Spec:
    spec: Spec = field.metadata["spec"]
    return spec


def _present(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)
            if getattr(obj, f.name) is not None}


# -- derived: JSON Schema ---------------------------------------------
def _schema(spec: Spec) -> dict[str, Any]:
    if spec.nested is not None:
        return object_schema(spec.nested)
    out: dict[str, Any] = {"type": spec.json_type, "description": spec.doc}
    for key, value in (("minimum", spec.minimum),
                       ("maximum", spec.maximum),
                       ("exclusiveMinimum", spec.exclusive_minimum),
                       ("minLength", spec.min_length),
                       ("maxLength", spec.max_length)):
        if value is not None:
            out[key] = value
    if spec.enum:
        out["enum"] = list(spec.enum)
    return out


def object_schema(cls: type) -> dict[str, Any]:
    """JSON Schema of a hint dataclass's non-envelope fields; each may
    be absent or ``null``."""
    props = {f.name: {"anyOf": [_schema(spec_of(f)), {"type": "null"}]}
             for f in dataclasses.fields(cls) if not spec_of(f).envelope}
    return {"type": "object", "properties": props,
            "additionalProperties": False}


def params_schema() -> dict[str, Any]:
    """The JSON Schema of the action's ``hint`` parameter."""
    return object_schema(MigrationHint)


# -- derived: validation ----------------------------------------------
def _value(spec: Spec, name: str, value: Any,
           ignored: list[str], strict: bool) -> Any:
    """``value`` checked against ``spec`` (JSON spelling normalised:
    ``2.0`` is the integer 2); :class:`ContractError` names the field."""
    if spec.nested is not None:
        return _object(spec.nested, value, name + ".", ignored, strict)
    if spec.json_type == "string":
        if spec.int_as_string and not strict and isinstance(value, int) \
                and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ContractError(f"{name} must be a string")
        if spec.min_length is not None and len(value) < spec.min_length \
                or spec.max_length is not None \
                and len(value) > spec.max_length:
            raise ContractError(f"{name} must be {spec.min_length or 0}.."
                                f"{spec.max_length} characters")
        if spec.enum and value not in spec.enum:
            raise ContractError(f"{name} must be one of {list(spec.enum)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(f"{name} must be a number")
    if not math.isfinite(value):
        raise ContractError(f"{name} must be a finite number")
    if spec.json_type == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise ContractError(f"{name} must be an integer")
        value = int(value)
    else:
        value = float(value)
    if spec.minimum is not None and value < spec.minimum \
            or spec.maximum is not None and value > spec.maximum:
        raise ContractError(f"{name} must be within {spec.minimum}.."
                            f"{spec.maximum}")
    if spec.exclusive_minimum is not None \
            and value <= spec.exclusive_minimum:
        raise ContractError(f"{name} must be > {spec.exclusive_minimum}")
    return value


def _object(cls: type, raw: Any, prefix: str, ignored: list[str],
            strict: bool, envelope: Optional[Mapping[str, Any]] = None
            ) -> Any:
    if not isinstance(raw, Mapping):
        raise ContractError(f"{prefix.rstrip('.') or 'hint'} must be an "
                            "object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = dict(envelope or {})
    for key, value in raw.items():
        key = str(key)
        name = LEGACY_NAMES.get(key, key) if not strict else key
        field = fields.get(name)
        if field is None or spec_of(field).envelope:
            ignored.append(prefix + key)
            continue
        if name != key and name in raw:
            continue        # the current name wins over its legacy one
        if value is None:
            continue
        kwargs[name] = _value(spec_of(field), prefix + key, value,
                              ignored, strict)
    if strict and ignored:
        raise ContractError(f"unknown hint field(s): {sorted(ignored)}")
    return cls(**kwargs)


def read_envelope(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The sender's fields of any message (instance, migration), checked
    by their specs.  Raises :class:`ContractError`."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(MigrationHint):
        if f.name in _ENVELOPE and payload.get(f.name) is not None:
            out[f.name] = _value(spec_of(f), f.name, payload[f.name], [],
                                 False)
    if "instance_uuid" not in out:
        raise ContractError("instance_uuid is required")
    return out


def from_wire(payload: Mapping[str, Any],
              known: frozenset[str] = frozenset()
              ) -> tuple[MigrationHint, tuple[str, ...]]:
    """The hint of a ``prepare`` message, and the names it ignored
    (unknown at this version: newer senders' fields).  ``known``: the
    message's own keys, neither hint nor unknown.
    Raises :class:`ContractError`."""
    ignored: list[str] = []
    body = {k: v for k, v in payload.items()
            if k not in known and k not in _ENVELOPE}
    hint: MigrationHint = _object(MigrationHint, body, "", ignored, False,
                                  read_envelope(payload))
    return hint, tuple(ignored)


def from_params(instance_uuid: str, migration_id: Optional[str],
                params: Mapping[str, Any]) -> MigrationHint:
    """The hint of an action whose ``hint`` parameter is ``params``;
    strict, as :func:`params_schema`.  Raises :class:`ContractError`."""
    hint: MigrationHint = _object(
        MigrationHint, params, "", [], True,
        {"instance_uuid": instance_uuid, "migration_id": migration_id})
    return hint


# -- derived: serialisation -------------------------------------------
def _plain(obj: Any) -> dict[str, Any]:
    return {k: _plain(v) if dataclasses.is_dataclass(v) else v
            for k, v in _present(obj).items()}


def to_params(hint: MigrationHint) -> dict[str, Any]:
    """The action's ``hint`` parameter: the set non-envelope fields."""
    out = _plain(hint)
    for f in dataclasses.fields(MigrationHint):
        if spec_of(f).envelope:
            out.pop(f.name, None)
    return out


def to_wire(hint: MigrationHint) -> dict[str, Any]:
    """The hint's part of a ``prepare`` payload (the inverse of
    :func:`from_wire`).  Legacy names are written too while the major
    version is 1, so that a 1.0 agent still reads them."""
    out = _plain(hint)
    for legacy, name in LEGACY_NAMES.items():
        if name in out:
            out[legacy] = out[name]
    return out

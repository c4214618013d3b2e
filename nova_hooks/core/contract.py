"""The versioned message contract between the control plane and agents.

Four messages, each about one incoming guest: ``prepare`` (the
predictor's forecast/profile hint, before the migration), ``started``,
``completed`` and ``aborted``.  The version is ``MAJOR.MINOR``: an agent
accepts any minor of its major (unknown fields are ignored) and refuses
another major.  Every message is idempotent: its key is (kind, instance,
migration), and a repeat changes nothing.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any
from typing import Mapping
from typing import Optional

from nova_hooks.core.types import Hint

VERSION = "1.0"


class ContractError(ValueError):
    """A message the agent cannot accept."""


class MessageKind(enum.Enum):
    PREPARE = "prepare"
    STARTED = "started"
    COMPLETED = "completed"
    ABORTED = "aborted"


@dataclasses.dataclass(frozen=True)
class Message:
    kind: MessageKind
    version: str
    instance_uuid: str
    migration_id: Optional[str] = None
    hint: Optional[Hint] = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.instance_uuid,
                self.migration_id or "")


def check_version(version: Any) -> str:
    """``version`` when this agent speaks it, else :class:`ContractError`
    (any minor of the agent's major is accepted)."""
    return _check_version(version)


def _check_version(version: Any) -> str:
    if not isinstance(version, str) or "." not in version:
        raise ContractError(f"bad contract version: {version!r}")
    major = version.split(".", 1)[0]
    if major != VERSION.split(".", 1)[0]:
        raise ContractError(
            f"contract version {version} not supported (agent speaks "
            f"{VERSION})")
    return version


def _opt_int(payload: Mapping[str, Any], name: str) -> Optional[int]:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value < 0:
        raise ContractError(f"{name} must be a number >= 0")
    return int(value)


def parse_message(kind: str, payload: Mapping[str, Any]) -> Message:
    """Validate one message; raises :class:`ContractError`."""
    try:
        mkind = MessageKind(kind)
    except ValueError:
        raise ContractError(f"unknown message kind {kind!r}") from None
    version = _check_version(payload.get("version"))
    uuid = payload.get("instance_uuid")
    if not isinstance(uuid, str) or not uuid:
        raise ContractError("instance_uuid is required")
    migration = payload.get("migration_id")
    if migration is not None and not isinstance(migration, str):
        raise ContractError("migration_id must be a string")
    hint = None
    if mkind is MessageKind.PREPARE:
        raw = payload.get("thresholds") or {}
        if not isinstance(raw, Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in raw.values()):
            raise ContractError("thresholds must map names to numbers")
        dirty = payload.get("dirty_rate_bps")
        if dirty is not None and (not isinstance(dirty, (int, float))
                                  or dirty < 0):
            raise ContractError("dirty_rate_bps must be a number >= 0")
        for name in ("vm_type", "profile_id"):
            value = payload.get(name)
            if value is not None and not isinstance(value, (str, int)):
                raise ContractError(f"{name} must be a string")
        node = payload.get("preferred_node")
        # JSON has one number type: 1.0 is the integer 1 (as jsonschema's
        # "integer" says), 1.5 is not
        if isinstance(node, float) and node.is_integer():
            node = int(node)
        if node is not None and (isinstance(node, bool)
                                 or not isinstance(node, int) or node < 0):
            raise ContractError("preferred_node must be an int >= 0")
        vm_type = payload.get("vm_type")
        profile = payload.get("profile_id")
        hint = Hint(
            instance_uuid=uuid, migration_id=migration,
            vm_type=None if vm_type is None else str(vm_type),
            profile_id=None if profile is None else str(profile),
            thresholds=tuple(sorted((str(k), float(v))
                                    for k, v in raw.items())),
            working_set_kib=_opt_int(payload, "working_set_kib"),
            dirty_rate_bps=None if dirty is None else float(dirty),
            preferred_node=node)
    return Message(kind=mkind, version=version, instance_uuid=uuid,
                   migration_id=migration, hint=hint)


def make_payload(message: Message) -> dict[str, Any]:
    """The wire form of ``message`` (the inverse of parse_message)."""
    out: dict[str, Any] = {"version": message.version,
                           "instance_uuid": message.instance_uuid}
    if message.migration_id is not None:
        out["migration_id"] = message.migration_id
    h = message.hint
    if h is not None:
        for name in ("vm_type", "profile_id", "working_set_kib",
                     "dirty_rate_bps", "preferred_node"):
            value = getattr(h, name)
            if value is not None:
                out[name] = value
        if h.thresholds:
            out["thresholds"] = dict(h.thresholds)
    return out

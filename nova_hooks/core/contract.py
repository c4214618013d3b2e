"""The versioned message contract between the control plane and agents.

Four messages, each about one incoming guest: ``prepare`` (carrying a
:class:`~nova_hooks.core.hint.MigrationHint`, before the migration),
``started``, ``completed`` and ``aborted``.  The version is
``MAJOR.MINOR``: an agent accepts any minor of its major and refuses
another major.  Within a major, names the agent does not know are
ignored and listed in :attr:`Message.ignored` (the endpoint logs and
counts them): a newer sender's fields.  Every message is idempotent:
its key is (kind, instance, migration), and a repeat changes nothing.

History: 1.1 names the hot working set ``expected_hot_kib`` as the
action does (1.0's ``working_set_kib`` is still read and written) and
carries the whole hint (forecast, source, memory).
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any
from typing import Mapping
from typing import Optional

from nova_hooks.core import hint as H
from nova_hooks.core.hint import MigrationHint
from nova_hooks.exceptions import ContractError

VERSION = "1.1"
#: keys of the message itself, besides the hint's: what the action
#: adds for the agent's log (known, so never counted as unknown)
MESSAGE_KEYS = frozenset({"version", "source_node", "nova_migration_id"})

__all__ = ["VERSION", "ContractError", "Message", "MessageKind",
           "check_version", "make_payload", "parse_message"]


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
    hint: Optional[MigrationHint] = None
    #: names in the payload this agent does not know (ignored)
    ignored: tuple[str, ...] = dataclasses.field(default=(),
                                                 compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.instance_uuid,
                self.migration_id or "")


def check_version(version: Any) -> str:
    """``version`` when this agent speaks it, else :class:`ContractError`
    (any minor of the agent's major is accepted)."""
    if not isinstance(version, str) or "." not in version:
        raise ContractError(f"bad contract version: {version!r}")
    major = version.split(".", 1)[0]
    if major != VERSION.split(".", 1)[0]:
        raise ContractError(
            f"contract version {version} not supported (agent speaks "
            f"{VERSION})")
    return version


def parse_message(kind: str, payload: Mapping[str, Any]) -> Message:
    """Validate one message; raises :class:`ContractError`."""
    try:
        mkind = MessageKind(kind)
    except ValueError:
        raise ContractError(f"unknown message kind {kind!r}") from None
    version = check_version(payload.get("version"))
    envelope = H.read_envelope(payload)
    hint: Optional[MigrationHint] = None
    if mkind is MessageKind.PREPARE:
        hint, ignored = H.from_wire(payload, MESSAGE_KEYS)
    else:
        known = MESSAGE_KEYS | {f.name for f in
                                dataclasses.fields(MigrationHint)
                                if H.spec_of(f).envelope}
        ignored = tuple(str(k) for k in payload if k not in known)
    return Message(kind=mkind, version=version,
                   instance_uuid=envelope["instance_uuid"],
                   migration_id=envelope.get("migration_id"), hint=hint,
                   ignored=ignored)


def make_payload(message: Message) -> dict[str, Any]:
    """The wire form of ``message`` (the inverse of parse_message)."""
    out: dict[str, Any] = {"version": message.version,
                           "instance_uuid": message.instance_uuid}
    if message.migration_id is not None:
        out["migration_id"] = message.migration_id
    if message.hint is not None:
        out.update(H.to_wire(message.hint))
    return out

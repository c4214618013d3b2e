"""What the agent's reducer takes: events and the host's readings.

:func:`nova_hooks.core.reducer.step` decides one event (a lifecycle
signal, a newer hint, a sampling round, a restore, a release) from the
agent's state and what the host was read to show (:class:`Readings`,
filled on demand: see :class:`nova_hooks.exceptions.Unobserved`).
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional
from typing import Union

from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.reclaim import RamReading
from nova_hooks.core.reclaim import Range
from nova_hooks.core.types import Affinity
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Guest
from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures
from nova_hooks.exceptions import Unobserved


@dataclasses.dataclass(frozen=True)
class SignalEvent:
    """A lifecycle signal.  ``hint`` and ``thresholds``: what a session
    opened by it starts with (the hint that came before the guest)."""

    uuid: str
    signal: Signal
    hint: Optional[MigrationHint] = None
    thresholds: Thresholds = Thresholds()


@dataclasses.dataclass(frozen=True)
class HintEvent:
    """A newer hint (and the thresholds it resolves to) for a guest."""

    uuid: str
    hint: MigrationHint
    thresholds: Thresholds


@dataclasses.dataclass(frozen=True)
class Sampled:
    """A sampling round of ``uuid`` taken in ``phase``.

    :param balloon_free: the rebalance interval since the last balloon
        decision has passed (the caller keeps the clock).
    :param reclaim_free: a second has passed since the last reclaim
        round (the caller keeps the clock).
    :param hot: the hot ranges the backends located (bytes into guest
        RAM); :param warm: the warm ones.  ``None``: no backend located
        the classes (sizes only, or the hint's forecast).
    """

    uuid: str
    phase: Phase
    figures: VmFigures
    seconds: float
    balloon_free: bool = True
    hot: Optional[tuple[Range, ...]] = None
    warm: Optional[tuple[Range, ...]] = None
    reclaim_free: bool = True


@dataclasses.dataclass(frozen=True)
class Restore:
    """Put back everything the session changed, then close it (a failed
    migration, an error, or a session an earlier run left open)."""

    uuid: str
    why: str


@dataclasses.dataclass(frozen=True)
class Release:
    """The guest is steady: let go (the statistics period goes back)."""

    uuid: str


Event = Union[SignalEvent, HintEvent, Sampled, Restore, Release]


@dataclasses.dataclass(frozen=True)
class Readings:
    """What the host was read to show for one event; a field not named
    in ``read`` was not read (asking for it raises :class:`Unobserved`).

    :param guest: the guest (``None``: gone).
    :param qmp: whether the guest has a second QMP monitor.
    :param stats_period: the balloon statistics period (0: none).
    :param nova_instance: whether the guest is a Nova instance (its
        domain carries Nova's instance metadata).
    :param ram: its QEMU's guest-RAM mapping (``None``: not readable).
    """

    guest: Optional[Guest] = None
    affinity: Optional[Affinity] = None
    topology: Optional[HostTopology] = None
    node_bytes: tuple[tuple[int, int], ...] = ()
    qmp: bool = False
    balloon_stats: Optional[BalloonStats] = None
    stats_period: int = 0
    nova_instance: bool = False
    ram: Optional[RamReading] = None
    read: frozenset[str] = frozenset()

    def need(self, what: str) -> Any:
        if what not in self.read:
            raise Unobserved(what)
        return getattr(self, what)

    def given(self, what: str, value: Any) -> "Readings":
        return dataclasses.replace(self, **{what: value},
                                   read=self.read | {what})

    @classmethod
    def of(cls, **values: Any) -> "Readings":
        """Readings of the named fields."""
        return cls(**values, read=frozenset(values))

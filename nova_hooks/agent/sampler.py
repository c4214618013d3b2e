"""Sampling rounds of one incoming guest: probe the backends once, then
turn each round's observations into the guest's figures.

A backend is probed when the session opens and again after the
migration completed (a backend that needs libvirt's job, or a QEMU log
that appears later, may become available then); why each one cannot
watch the guest is kept for the log and the agent's status.  While the
incoming migration holds libvirt's job only ``during_postcopy`` backends
run.  A backend that raises is skipped for that round; after
``MAX_FAILURES`` rounds in a row it is dropped for the session, with the
reason.  The figures come from :func:`nova_hooks.core.classify.combine`;
the predictor's hint (expected working set) is the observation of last
resort, so a guest with nothing better is still shaped as forecast.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable
from typing import Optional
from typing import Sequence

from nova_hooks.core import classify
from nova_hooks.core.classify import HINT_SOURCE  # noqa: F401 - its home
from nova_hooks.core.classify import hint_observation
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.reclaim import Range
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures

LOG = logging.getLogger(__name__)
#: consecutive failed rounds after which a backend is dropped
MAX_FAILURES = 3
#: steady-state rounds between probes of the backends still unavailable
#: (e.g. balloon statistics appear one period after it was set)
REPROBE_ROUNDS = 5


@dataclasses.dataclass
class RoundResult:
    figures: VmFigures
    observations: tuple[Observation, ...]
    seconds: float
    thresholds: Thresholds = Thresholds()

    def located(self) -> Optional[tuple[tuple[Range, ...],
                                        tuple[Range, ...]]]:
        """``(hot, warm)`` ranges of guest RAM, where a backend located
        them.  Asked for only by a lever that needs places (reclaim): on
        per-page samples it classes every page again."""
        return classify.located(self.observations, self.thresholds)


class GuestSampler:
    """The backends watching one guest."""

    def __init__(self, backends: Sequence, thresholds: Thresholds,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backends = list(backends)
        self.thresholds = thresholds
        self.clock = clock
        self.active: list = []
        #: backend name -> why it does not watch this guest
        self.unavailable: dict[str, str] = {}
        self._failures: dict[str, int] = {}
        self._probed_steady = False
        self._steady_rounds = 0

    def probe(self, guest, phase: Phase) -> None:
        """Probe every backend not yet active.  Backends that need
        libvirt's job are probed only once the job is free."""
        job_held = phase in (Phase.INCOMING, Phase.POSTCOPY)
        if not job_held:
            self._probed_steady = True
        names = {b.name for b in self.active}
        for backend in self.backends:
            if backend.name in names:
                continue
            if job_held and not backend.during_postcopy:
                self.unavailable[backend.name] = (
                    "waits for the migration to complete (needs "
                    "libvirt's job)")
                continue
            try:
                reason = backend.probe(guest)
            except Exception as exc:  # noqa: BLE001 - a probe never kills
                reason = f"probe failed: {exc}"
            if reason is None:
                self.active.append(backend)
                self.unavailable.pop(backend.name, None)
                self._failures[backend.name] = 0
            else:
                if self.unavailable.get(backend.name) != reason:
                    LOG.info("%s: backend %s unavailable: %s",
                             getattr(guest, "uuid", "?"), backend.name,
                             reason)
                self.unavailable[backend.name] = reason
        # keep the configured precedence among the active ones
        order = {b.name: i for i, b in enumerate(self.backends)}
        self.active.sort(key=lambda b: order[b.name])

    def round(self, guest, phase: Phase,
              hint: Optional[MigrationHint] = None) -> RoundResult:
        """One sampling round: every active backend the phase allows,
        then the hint, combined into figures."""
        if phase is Phase.STEADY:
            if not self._probed_steady or (
                    self.unavailable
                    and self._steady_rounds % REPROBE_ROUNDS == 0):
                self.probe(guest, phase)
            self._steady_rounds += 1
        started = self.clock()
        job_held = phase in (Phase.INCOMING, Phase.POSTCOPY)
        observations: list[Observation] = []
        for backend in list(self.active):
            if job_held and not backend.during_postcopy:
                continue
            try:
                observations.append(backend.sample(guest))
                self._failures[backend.name] = 0
            except Exception as exc:  # noqa: BLE001 - one backend's fault
                count = self._failures.get(backend.name, 0) + 1
                self._failures[backend.name] = count
                LOG.warning("%s: backend %s failed (%d in a row): %s",
                            guest.uuid, backend.name, count, exc)
                if count >= MAX_FAILURES:
                    self.active.remove(backend)
                    self.unavailable[backend.name] = (
                        f"dropped after {count} failed rounds: {exc}")
        guest_bytes = guest.maximum_kib * 1024
        from_hint = hint_observation(hint, guest_bytes)
        if from_hint is not None:
            observations.append(from_hint)
        figures = classify.combine(observations, self.thresholds,
                                   guest_bytes)
        return RoundResult(figures, tuple(observations),
                           self.clock() - started, self.thresholds)

    def status(self) -> dict:
        return {"active": [b.name for b in self.active],
                "unavailable": dict(self.unavailable)}


def parse_threshold_map(raw: dict[str, str],
                        base: Thresholds) -> dict[str, Thresholds]:
    """``{"db": "0.3/0.02/60"}`` (HOT/WARM/IDLE_S, as in the config) ->
    thresholds; a malformed entry is a :class:`ValueError` naming it."""
    out: dict[str, Thresholds] = {}
    for key, text in raw.items():
        parts = str(text).split("/")
        try:
            if len(parts) != 3:
                raise ValueError("expected HOT/WARM/IDLE_S")
            hot, warm, idle = (float(p) for p in parts)
            out[str(key)] = base.replace({"hot_access_rate": hot,
                                          "warm_access_rate": warm,
                                          "cold_min_idle_s": idle})
        except ValueError as exc:
            raise ValueError(f"thresholds for {key!r} ({text!r}): "
                             f"{exc}") from None
    return out

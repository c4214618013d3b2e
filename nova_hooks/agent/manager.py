"""The resource manager: the I/O around the agent's reducer.

Every decision about an incoming guest (open a session, enter a phase,
move its affinity or balloon, journal its figures, restore, let go) is
:func:`nova_hooks.core.reducer.step`, a pure function of the state, the
event and what the host shows.  The manager only

* turns lifecycle signals, hints, sampling rounds and releases into
  events for ``step``, reading from the host what ``step`` asks for;
* carries out what comes back: journal records and changes through the
  :class:`~nova_hooks.agent.executor.Executor` (each change journaled
  before it is made; nothing is made that cannot be journaled), probes
  and rounds of the sampling backends, timers and log lines;
* keeps the state as the journal holds it: every record written is
  applied to it (:func:`nova_hooks.core.agent_state.apply`), and a new
  manager starts from the journal's fold, so the state after a restart
  is the state the running agent had.

Besides the state it keeps only what is not the guests' state: the
sampling backends watching each guest, the due times of rounds and of
the next balloon decision, and the timeline and latest figures it
reports.  It is called from worker threads, never from libvirt's event
loop.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.agent.executor import Executor
from nova_hooks.agent.host import Host
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.sampler import GuestSampler
from nova_hooks.core import agent_state
from nova_hooks.core import journal_model as J
from nova_hooks.core import lifecycle
from nova_hooks.core import reducer as R
from nova_hooks.core.agent_state import AgentState
from nova_hooks.core.agent_state import GuestSession
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.reducer import SAMPLED_PHASES
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import Guest
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures
from nova_hooks.exceptions import HostError
from nova_hooks.exceptions import QemuNotFound

LOG = logging.getLogger(__name__)
Signal = lifecycle.Signal
#: closed sessions whose last figures stay queryable (status)
MAX_FINISHED = 256
#: readings a step may ask for, at most, before it has what it needs
_MAX_READS = 8


@dataclasses.dataclass
class Watch:
    """What the manager keeps of a guest besides the state: its
    sampling backends, its timers and what it reports."""

    sampler: GuestSampler
    #: when each step happened (the manager's clock), for the timeline
    timeline: dict[str, float] = dataclasses.field(default_factory=dict)
    #: the latest sampled figures (the journal holds those that moved)
    figures: Optional[VmFigures] = None
    rounds: int = 0
    next_round: float = 0.0
    #: lever -> when sampling may decide on it again (R.Hold)
    held_until: dict[J.Action, float] = dataclasses.field(
        default_factory=dict)
    #: the last once-said note key (e.g. "balloon unchanged" reasons)
    said: str = ""

    def free(self, lever: J.Action, now: float) -> bool:
        """Whether sampling may decide on ``lever`` at ``now``."""
        return now >= self.held_until.get(lever, float("-inf"))


class Manager:
    """The sessions of incoming guests.

    :param host: the way to the guests (:class:`~nova_hooks.agent.host.Host`).
    :param journal: where every change is written before it is made.
    :param policy: what the agent may do and how often.
    :param dry_run: journal the changes, make none.
    :param clock: monotonic seconds (tests give a fake one).
    :param backends: the page-sampling backends.
    :param thresholds_for: a guest's page-class thresholds from its hint.
    """

    def __init__(self, host: Host, journal: Journal, policy: AgentPolicy,
                 dry_run: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 backends: tuple = (),
                 thresholds_for: Optional[Callable[[Optional[MigrationHint]],
                                                   Thresholds]] = None
                 ) -> None:
        self.host = host
        #: makes every change, journaled before and after; every record
        #: it writes is applied to the state
        self.executor = Executor(host, journal, dry_run, self._apply)
        self.policy = policy
        self.clock = clock
        self.backends = tuple(backends)
        self.thresholds_for = thresholds_for or (lambda _hint: Thresholds())
        #: the hints of guests not arrived yet (and the latest of each)
        self.hints: dict[str, MigrationHint] = {}
        self.watches: dict[str, Watch] = {}
        #: uuid -> status of sessions that ended (bounded)
        self.finished: dict[str, dict[str, Any]] = {}
        self._host_topology = None
        self._lock = threading.RLock()
        self.state = self._fold(journal)

    @staticmethod
    def _fold(journal: Journal) -> AgentState:
        # what an earlier run left open is restored, never shaped
        return agent_state.fold(journal.records()).inherit()

    def _apply(self, rec: J.Record) -> None:
        self.state = agent_state.apply(self.state, rec)

    @property
    def journal(self) -> Journal:
        return self.executor.journal

    @journal.setter
    def journal(self, journal: Journal) -> None:
        with self._lock:
            self.executor.journal = journal
            self.state = self._fold(journal)

    @property
    def dry_run(self) -> bool:
        return self.executor.dry_run

    @property
    def sessions(self) -> dict[str, GuestSession]:
        """The sessions this run shapes, by guest."""
        return {s.uuid: s for s in self.state.live()}

    # -- entry points ---------------------------------------------------
    def prepare(self, hint: MigrationHint) -> None:
        """Remember the forecast for a guest (for its session if it has
        one, else for when it arrives)."""
        with self._lock:
            uuid = hint.instance_uuid
            sess = self.sessions.get(uuid)
            hint = R.merge_hint(sess.hint if sess is not None
                                else self.hints.get(uuid), hint)
            self.hints[uuid] = hint
            if sess is not None:
                thresholds = self._thresholds(hint)
                self._handle(R.HintEvent(uuid, hint, thresholds), "hint")
                watch = self.watches.get(uuid)
                if watch is not None:
                    watch.sampler.thresholds = thresholds

    def context(self, uuid: str, vm_type: Optional[str] = None,
                migration_id: Optional[str] = None) -> None:
        """Context from elsewhere (Nova's notifications, the domain's
        metadata): fills what the hint does not say, never overrides
        the predictor's hint."""
        with self._lock:
            sess = self.sessions.get(uuid)
            hint = sess.hint if sess is not None else self.hints.get(uuid)
            base = hint or MigrationHint(instance_uuid=uuid)
            merged = dataclasses.replace(
                base, vm_type=base.vm_type or vm_type,
                migration_id=base.migration_id or migration_id)
            if merged != hint:
                self.prepare(merged)

    def note(self, uuid: str, event: str, wall_ts: float,
             wall_now: Optional[float] = None) -> None:
        """Put an event another component timed (wall clock, e.g. the
        qemu hook's marker) on the session's timeline."""
        wall_now = time.time() if wall_now is None else wall_now
        with self._lock:
            watch = self.watches.get(uuid)
            if watch is not None:
                watch.timeline.setdefault(
                    event, self.clock() - max(0.0, wall_now - wall_ts))

    def signal(self, uuid: str, sig: Signal) -> None:
        with self._lock:
            hint = thresholds = None
            if sig is Signal.INCOMING and uuid not in self.sessions:
                hint = self.hints.get(uuid)
                thresholds = self._thresholds(hint)
            event = R.SignalEvent(uuid, sig, hint,
                                  thresholds or Thresholds())
            self._handle(event, sig.value)

    def release(self, uuid: str) -> None:
        """Stop managing a guest whose migration completed."""
        with self._lock:
            self._handle(R.Release(uuid), "release")

    def restore_open_sessions(self) -> list[str]:
        """After a restart: undo every session the journal shows open
        (the state a restart starts from is the journal's fold)."""
        restored = []
        for sess in self.state.sessions:
            if sess.inherited:
                with self._lock:
                    self._restore(sess.uuid, "agent restarted")
                restored.append(sess.uuid)
        return restored

    def resync(self, state_of: Callable[[str], Optional[tuple]]) -> list:
        """Catch up with what libvirt's events may not have said (after
        a reconnect, and now and then): each session of a migration still
        in transfer gets the signal its guest's current state implies.
        ``state_of(uuid)`` is ``(state, reason)`` or ``None`` when the
        domain is gone.  Returns the ``(uuid, signal)`` pairs given."""
        with self._lock:
            open_now = [(s.uuid, s.phase) for s in self.state.live()]
        given = []
        for uuid, phase in open_now:
            try:
                state = state_of(uuid)
            except Exception as exc:  # noqa: BLE001 - libvirt away again
                LOG.debug("%s: state not read: %s", uuid, exc)
                continue
            sig = lifecycle.state_signal(phase, state)
            if sig is not None:
                LOG.warning("%s: libvirt shows %s while the agent had %s: "
                            "catching up (%s)", uuid, state,
                            phase.value if phase else None, sig.value)
                self.signal(uuid, sig)
                given.append((uuid, sig))
        return given

    # -- sampling -------------------------------------------------------
    def _sampled(self) -> list[tuple[str, Watch]]:
        return [(s.uuid, self.watches[s.uuid]) for s in self.state.live()
                if s.phase in SAMPLED_PHASES and s.uuid in self.watches]

    def next_round_in(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds until the next sampling round is due (``None``: no
        guest is sampled)."""
        now = self.clock() if now is None else now
        with self._lock:
            times = [w.next_round for _, w in self._sampled()]
        return max(0.0, min(times) - now) if times else None

    def due(self, now: Optional[float] = None) -> list[str]:
        """Guests whose next sampling round is due, most urgent first:
        those not yet sampled in the phase they are in (a post-copy that
        just began is the phase worth seeing, and it may last seconds
        only), then the longest overdue."""
        now = self.clock() if now is None else now
        with self._lock:
            live = self.sessions

            def urgency(item: tuple[str, Watch]) -> tuple[bool, float]:
                sess = live[item[0]]
                return sess.observed_phase is sess.phase, item[1].next_round

            return [u for u, w in sorted(self._sampled(), key=urgency)
                    if w.next_round <= now]

    def sample(self, uuid: str) -> Optional[VmFigures]:
        """One sampling round of ``uuid`` and the adjustments it calls
        for; ``None`` when the guest is not sampled (any more)."""
        with self._lock:
            sess = self.sessions.get(uuid)
            watch = self.watches.get(uuid)
            if sess is None or sess.phase not in SAMPLED_PHASES \
                    or watch is None:
                return None
            phase, hint = sess.phase, sess.hint
            watch.next_round = self.clock() + R.round_interval(phase,
                                                               self.policy)
        # backends read procfs, logs and stats: not under the lock, so a
        # signal is never held up by a sampling round
        try:
            guest = self.host.guest(uuid)
            result = watch.sampler.round(guest, phase, hint)
        except Exception as exc:  # noqa: BLE001 - the guest may be leaving
            LOG.warning("%s: sampling round failed: %s", uuid, exc)
            return None
        with self._lock:
            now = self.sessions.get(uuid)
            if self.watches.get(uuid) is not watch or now is None \
                    or now.phase is not phase:
                return None         # the migration moved on meanwhile
            watch.figures = result.figures
            watch.rounds += 1
            watch.timeline.setdefault("first_round", self.clock())
            reclaim_free = watch.free(J.Action.PAGE_OUT, self.clock())
            # only a reclaim round needs the classes' places (per-page
            # samples are classed a second time for them)
            located = result.located() if reclaim_free \
                and self.policy.reclaim is not None \
                and phase is Phase.POSTCOPY else None
            hot, warm = located if located is not None else (None, None)
            event = R.Sampled(uuid, phase, result.figures, result.seconds,
                              watch.free(J.Action.BALLOON, self.clock()),
                              hot, warm, reclaim_free)
            self._handle(event, "adjusting after sampling",
                         R.Readings.of(guest=guest), "error while adjusting")
        return result.figures

    def status(self, uuid: str) -> Optional[dict[str, Any]]:
        """What the agent knows of ``uuid``: phase, figures, backends and
        timeline (also for a session that ended lately)."""
        with self._lock:
            sess = self.sessions.get(uuid)
            if sess is None:
                return self.finished.get(uuid)
            return _status(uuid, sess.phase, sess.thresholds,
                           self.watches.get(uuid))

    # -- deciding and doing --------------------------------------------
    def _thresholds(self, hint: Optional[MigrationHint]) -> Thresholds:
        try:
            return self.thresholds_for(hint)
        except ValueError as exc:
            # a hint's bad override must not cost the guest its shaping
            LOG.warning("%s: thresholds of the hint refused (%s); using "
                        "the configured ones", hint.instance_uuid
                        if hint else "?", exc)
            return self.thresholds_for(None)

    def _handle(self, event: R.Event, what: str,
                readings: Optional[R.Readings] = None,
                on_error: Optional[str] = None) -> None:
        """Decide ``event`` and carry it out; when that fails, the
        session is restored (one guest never stops the agent)."""
        try:
            self._decide_and_do(event, readings or R.Readings())
        except Exception:  # noqa: BLE001 - one guest never stops the agent
            LOG.exception("%s: %s failed; restoring", event.uuid,
                          what if on_error else f"handling {what}")
            self._restore(event.uuid,
                          on_error or f"error while handling {what}")

    def _restore(self, uuid: str, why: str) -> None:
        try:
            self._decide_and_do(R.Restore(uuid, why), R.Readings())
        except Exception:  # noqa: BLE001 - logged; the journal keeps it
            LOG.exception("%s: restoring failed", uuid)

    def _decide_and_do(self, event: R.Event, readings: R.Readings) -> None:
        for _ in range(_MAX_READS):
            try:
                _, todo = R.step(self.state, event, readings, self.policy)
                break
            except R.Unobserved as need:
                readings = readings.given(
                    need.what, self._read(need.what, event.uuid, readings))
        else:
            raise RuntimeError(f"{event.uuid}: no decision after "
                               f"{_MAX_READS} readings")
        self._do(todo, readings.guest)

    def _read(self, what: str, uuid: str, readings: R.Readings) -> Any:
        """One reading from the host, for :func:`R.step`."""
        if what == "guest":
            try:
                return self.host.guest(uuid)
            except Exception as exc:  # noqa: BLE001 - gone, as far as we know
                LOG.debug("%s: guest not found: %s", uuid, exc)
                return None
        if what == "topology":
            # the host's NUMA layout does not change while the agent runs
            if self._host_topology is None:
                self._host_topology = self.host.topology()
            return self._host_topology
        guest = readings.need("guest") if "guest" in readings.read \
            else self._read("guest", uuid, readings)
        if what == "affinity":
            return self.host.affinity(guest)
        if what == "node_bytes":
            try:
                return self.host.node_bytes(guest)
            except QemuNotFound:
                return ()
        if what == "qmp":
            return self.host.qmp(guest) is not None
        if what == "balloon_stats":
            return self.host.balloon_stats(guest)
        if what == "stats_period":
            return self.host.stats_period(guest)
        if what == "nova_instance":
            return guest is not None and self.host.nova_instance(guest)
        if what == "ram":
            try:
                return self.host.ram(guest)
            except (OSError, LookupError, HostError) as exc:
                LOG.debug("%s: guest RAM not read: %s", uuid, exc)
                return None
        raise ValueError(f"no reading {what!r}")

    def _do(self, todo: tuple[R.Action, ...], guest: Optional[Guest]) -> None:
        """Carry out ``todo`` in order; a record that cannot be written
        stops the rest."""
        for action in todo:
            uuid = action.uuid
            if isinstance(action, R.Write):
                if not self.executor.record(
                        uuid, action.kind, action.action, action.channel,
                        after=action.after, detail=action.detail):
                    return
                if action.kind is J.Kind.OPEN and uuid in self.sessions:
                    sess = self.sessions[uuid]
                    self.watches[uuid] = Watch(GuestSampler(
                        self.backends, sess.thresholds, self.clock))
                    self.hints.pop(uuid, None)
            elif isinstance(action, R.Change):
                try:
                    self.executor.carry_out(uuid, guest, action.intent)
                except Exception as exc:  # noqa: BLE001 - keep restoring
                    if not action.undo:
                        raise
                    LOG.warning("%s: could not restore %s: %s", uuid,
                                action.intent.action.value, exc)
            elif isinstance(action, R.Note):
                self._say(action)
            elif isinstance(action, R.Finished):
                self._finished(action)
            else:
                self._watch(action, guest)

    def _watch(self, action: R.Action, guest: Optional[Guest]) -> None:
        """The actions on what the manager keeps of a guest."""
        watch = self.watches.get(action.uuid)
        if isinstance(action, R.Pin):
            self.executor.pin(guest, action.vcpus, action.emulator)
        elif watch is None:
            return
        elif isinstance(action, R.Probe):
            if not (action.if_idle and watch.sampler.active):
                watch.sampler.probe(guest, action.phase)
        elif isinstance(action, R.NextRound):
            watch.next_round = self.clock() + action.seconds
        elif isinstance(action, R.Hold):
            watch.held_until[action.lever] = self.clock() + action.seconds
        elif isinstance(action, R.Mark):
            watch.timeline.setdefault(action.name, self.clock())

    def _say(self, note: R.Note) -> None:
        if note.warning:
            LOG.warning("%s: %s", note.uuid, note.text)
            return
        watch = self.watches.get(note.uuid)
        if note.key and watch is not None:
            log = LOG.info if note.key != watch.said else LOG.debug
            watch.said = note.key
        else:
            log = LOG.info
        log("%s: %s", note.uuid, note.text)

    def _finished(self, done: R.Finished) -> None:
        watch = self.watches.pop(done.uuid, None)
        status = _status(done.uuid, done.phase, watch.sampler.thresholds
                         if watch else Thresholds(), watch)
        status["closed"] = done.why
        self.finished[done.uuid] = status
        while len(self.finished) > MAX_FINISHED:
            self.finished.pop(next(iter(self.finished)))


def _status(uuid: str, phase: Optional[Phase], thresholds: Thresholds,
            watch: Optional[Watch]) -> dict[str, Any]:
    timeline = watch.timeline if watch else {}
    figures = watch.figures if watch else None
    t0 = min(timeline.values(), default=None)
    return {
        "instance_uuid": uuid,
        "phase": phase.value if phase else None,
        "rounds": watch.rounds if watch else 0,
        "figures": R.figures_record(figures) if figures else None,
        "backends": watch.sampler.status() if watch else None,
        "thresholds": dataclasses.asdict(thresholds),
        "timeline_s": {k: round(v - t0, 6)
                       for k, v in timeline.items()} if t0 else {},
    }

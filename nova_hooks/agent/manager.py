"""The resource manager: one session per incoming guest, driven by
lifecycle signals, making only bounded, journaled changes.

* ``INCOMING`` (STARTED/MIGRATED, or an RPC ``started``): open a session;
  with a hint, pre-configure the affinity before any page arrived.
* ``POSTCOPY`` (RESUMED/POSTCOPY): the guest runs here while its memory
  streams in.  Affinity moves at once (``sched_setaffinity``); the
  balloon moves through the second QMP monitor when the guest has one,
  else the change is queued.
* ``COMPLETED`` (RESUMED/MIGRATED): libvirt's job is free: what was
  queued is made through libvirt, and the affinity already set is made
  again through libvirt so that its view matches the threads.
* ``FAILED``: every change of the session is undone from the journal.

Between signals, :meth:`Manager.sample` runs one sampling round of a
guest (the page-access backends, :mod:`nova_hooks.agent.sampler`) and
re-plans from what it measured: affinity follows the hot set's node,
the balloon follows hot + warm (no more often than
``rebalance_interval_s``).  The figures are journaled as ``observe``
records when they first appear and whenever they move.

Which sessions open, which phase each is in, when one is restored or
closed is decided by :func:`nova_hooks.core.reducer.step`, a pure
function of the sessions and the signal; after a restart the sessions
are the journal's fold (:func:`nova_hooks.core.reducer.from_sessions`).
The changes are decided as :class:`~nova_hooks.core.intents.Intent`
values (:mod:`nova_hooks.core.intents`) and made by the
:class:`~nova_hooks.agent.executor.Executor`, which writes each to the
journal before it is made (when the journal cannot be written the
change is not made) and its outcome after.  The manager is called from
a worker thread, never from libvirt's event loop.
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
from nova_hooks.agent.sampler import hint_observation
from nova_hooks.core import balloon as balloon_plan
from nova_hooks.core import classify
from nova_hooks.core import intents
from nova_hooks.core import journal_model as J
from nova_hooks.core import lifecycle
from nova_hooks.core import pinning
from nova_hooks.core import reducer
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.intents import Intent
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures
from nova_hooks.exceptions import QemuNotFound

LOG = logging.getLogger(__name__)
Signal = lifecycle.Signal


@dataclasses.dataclass
class Session:
    uuid: str
    phase: Optional[Phase] = None
    hint: Optional[MigrationHint] = None
    guest: Any = None
    #: when each step happened (time.monotonic), for the timeline
    timeline: dict[str, float] = dataclasses.field(default_factory=dict)
    sampler: Optional[GuestSampler] = None
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)
    #: the latest sampled figures, and the last ones journaled
    figures: Optional[VmFigures] = None
    journaled_figures: Optional[VmFigures] = None
    journaled_phase: Optional[Phase] = None
    #: the hot set's node the affinity was last planned for
    planned_node: Optional[int] = -2
    rounds: int = 0
    next_round: float = 0.0
    last_balloon: float = float("-inf")
    #: the last "balloon unchanged" reason logged at INFO
    balloon_said: str = ""


#: phases in which a guest is sampled
SAMPLED_PHASES = frozenset({Phase.INCOMING, Phase.POSTCOPY, Phase.STEADY})
#: closed sessions whose last figures stay queryable (status)
MAX_FINISHED = 256


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
        #: makes every change, journaled before and after; holds the
        #: journal and the dry-run switch (one place for both)
        self.executor = Executor(host, journal, dry_run)
        self.policy = policy
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.hints: dict[str, MigrationHint] = {}
        self.backends = tuple(backends)
        self.thresholds_for = thresholds_for or (lambda _hint: Thresholds())
        self._host_topology = None
        #: uuid -> status of sessions that ended (bounded)
        self.finished: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    @property
    def journal(self) -> Journal:
        return self.executor.journal

    @journal.setter
    def journal(self, journal: Journal) -> None:
        self.executor.journal = journal

    @property
    def dry_run(self) -> bool:
        return self.executor.dry_run

    # -- entry points ---------------------------------------------------
    def prepare(self, hint: MigrationHint) -> None:
        """Remember the forecast for a guest that has not arrived yet."""
        with self._lock:
            sess = self.sessions.get(hint.instance_uuid)
            earlier = sess.hint if sess is not None \
                else self.hints.get(hint.instance_uuid)
            if earlier is not None:
                # context that came first (e.g. the flavor from Nova's
                # notification) stays where the new hint is silent
                hint = dataclasses.replace(
                    hint, vm_type=hint.vm_type or earlier.vm_type,
                    migration_id=hint.migration_id or earlier.migration_id)
            self.hints[hint.instance_uuid] = hint
            if sess is not None:
                sess.hint = hint
                sess.thresholds = self._thresholds(hint)
                if sess.sampler is not None:
                    sess.sampler.thresholds = sess.thresholds

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
            sess = self.sessions.get(uuid)
            if sess is not None:
                sess.timeline.setdefault(
                    event, self.clock() - max(0.0, wall_now - wall_ts))

    def _thresholds(self, hint: Optional[MigrationHint]) -> Thresholds:
        try:
            return self.thresholds_for(hint)
        except ValueError as exc:
            # a hint's bad override must not cost the guest its shaping
            LOG.warning("%s: thresholds of the hint refused (%s); using "
                        "the configured ones", hint.instance_uuid
                        if hint else "?", exc)
            return self.thresholds_for(None)

    def signal(self, uuid: str, sig: Signal) -> None:
        with self._lock:
            _, todo = reducer.step(self._state(),
                                   reducer.SignalEvent(uuid, sig),
                                   self.policy.sessions)
            for intent in todo:
                if not self._session_intent(intent):
                    return

    def _state(self) -> reducer.AgentState:
        """The reducer's view of the sessions (their phases)."""
        return reducer.AgentState(tuple((u, s.phase) for u, s in
                                        self.sessions.items()))

    def _session_intent(self, intent: reducer.SessionIntent) -> bool:
        """Carry out one of :func:`reducer.step`'s intents; ``False``
        when the rest must not follow (the session could not open, or
        its handling failed and it was restored)."""
        uuid = intent.uuid
        if isinstance(intent, reducer.Skip):
            LOG.warning("%s: %d incoming guests already shaped; leaving "
                        "this one alone", uuid, len(self.sessions))
            self._journal(uuid, J.Kind.OPEN, detail=f"skipped: {intent.why}")
            self._journal(uuid, J.Kind.CLOSE, detail="skipped")
            return True
        if isinstance(intent, reducer.Open):
            hint = self.hints.pop(uuid, None)
            sess = self.sessions[uuid] = Session(
                uuid, hint=hint, thresholds=self._thresholds(hint))
            sess.sampler = GuestSampler(self.backends, sess.thresholds,
                                        self.clock)
            if not self._journal(uuid, J.Kind.OPEN,
                                 detail=_open_detail(sess)):
                del self.sessions[uuid]
                return False
            return True
        sess = self.sessions[uuid]
        if isinstance(intent, reducer.Enter):
            sess.phase = intent.phase
            sess.timeline.setdefault(intent.signal.value, self.clock())
        try:
            if isinstance(intent, reducer.Enter):
                if intent.signal is Signal.INCOMING:
                    self._incoming(sess)
                elif intent.signal is Signal.POSTCOPY:
                    self._postcopy(sess)
                elif intent.signal is Signal.COMPLETED:
                    self._completed(sess)
            elif isinstance(intent, reducer.Restore):
                self._restore(sess, intent.why)
            else:
                self._close(sess, intent.why)
        except Exception:  # noqa: BLE001 - one guest never stops the agent
            what = intent.signal.value if isinstance(intent, reducer.Enter) \
                else type(intent).__name__.lower()
            LOG.exception("%s: handling %s failed; restoring", uuid, what)
            self._restore(sess, f"error while handling {what}")
            return False
        return True

    def resync(self, state_of: Callable[[str], Optional[tuple]]) -> list:
        """Catch up with what libvirt's events may not have said (after
        a reconnect, and now and then): each session of a migration still
        in transfer gets the signal its guest's current state implies.
        ``state_of(uuid)`` is ``(state, reason)`` or ``None`` when the
        domain is gone.  Returns the ``(uuid, signal)`` pairs given."""
        with self._lock:
            open_now = [(u, s.phase) for u, s in self.sessions.items()]
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
                            "catching up (%s)", uuid, state, phase.value,
                            sig.value)
                self.signal(uuid, sig)
                given.append((uuid, sig))
        return given

    def release(self, uuid: str) -> None:
        """Stop managing a guest whose migration completed."""
        with self._lock:
            sess = self.sessions.get(uuid)
            if sess is None:
                return
            # the statistics period was raised only for the duration
            state = self.journal.sessions().get(uuid)
            undo = J.restore_actions(state) if state else {}
            if J.Action.STATS_PERIOD in undo:
                try:
                    self._undo(sess, J.Action.STATS_PERIOD,
                               undo[J.Action.STATS_PERIOD], "let go")
                except Exception as exc:  # noqa: BLE001 - guest may be gone
                    LOG.warning("%s: statistics period not put back: %s",
                                uuid, exc)
            self._close(sess, "steady state reached")

    # -- phases ---------------------------------------------------------
    def _incoming(self, sess: Session) -> None:
        sess.guest = self.host.guest(sess.uuid)
        sess.sampler.probe(sess.guest, Phase.INCOMING)
        if sess.hint is not None and sess.hint.preferred_node is not None:
            self._set_affinity(sess, "forecast pre-configuration")

    def _postcopy(self, sess: Session) -> None:
        sess.guest = self.host.guest(sess.uuid)
        if sess.sampler is not None and not sess.sampler.active:
            sess.sampler.probe(sess.guest, Phase.POSTCOPY)
        self._set_affinity(sess, "post-copy")
        if self.policy.balloon_enabled:
            self._balloon(sess, during_postcopy=True)
        # the first round soon after post-copy began
        sess.next_round = self.clock() + self.policy.transfer_interval_s

    def _completed(self, sess: Session) -> None:
        sess.guest = self.host.guest(sess.uuid)
        state = self.journal.sessions().get(sess.uuid)
        queued = dict(state.queued) if state else {}
        applied = dict(state.applied) if state else {}
        vcpu = applied.get(J.Action.VCPU_AFFINITY)
        emul = applied.get(J.Action.EMULATOR_AFFINITY)
        if vcpu is not None and emul is not None and not self.dry_run:
            # libvirt's own record of the pinning, now that it can be set
            self.host.pin(sess.guest, vcpu, emul)
        if self.policy.stats_period_s and self.policy.balloon_enabled:
            # the guest's own memory statistics, fresh while managed
            period = self.host.stats_period(sess.guest)
            if period == 0 or period > self.policy.stats_period_s:
                self._carry_out(sess, Intent(
                    J.Action.STATS_PERIOD, J.Channel.LIBVIRT, period,
                    self.policy.stats_period_s,
                    "memory statistics while managed"))
        if sess.sampler is not None:
            # backends that needed libvirt's job may watch the guest now
            sess.sampler.probe(sess.guest, Phase.STEADY)
        if self.policy.balloon_enabled:
            # what was queued during post-copy is planned again now, with
            # the guest's own memory stats, and made in bounded steps
            self._balloon(sess, during_postcopy=False)
        for action, after in queued.items():
            self._journal(sess.uuid, J.Kind.DONE, action, J.Channel.QUEUED,
                          after=after, detail="replanned at completion")
        sess.timeline.setdefault("libvirt_synced", self.clock())
        sess.next_round = self.clock() + self.policy.interval_s

    # -- sampling -------------------------------------------------------
    def next_round_in(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds until the next sampling round is due (``None``: no
        guest is sampled)."""
        now = self.clock() if now is None else now
        with self._lock:
            times = [s.next_round for s in self.sessions.values()
                     if s.phase in SAMPLED_PHASES and s.sampler is not None]
        return max(0.0, min(times) - now) if times else None

    def due(self, now: Optional[float] = None) -> list[str]:
        """Guests whose next sampling round is due."""
        now = self.clock() if now is None else now
        with self._lock:
            return [u for u, s in self.sessions.items()
                    if s.phase in SAMPLED_PHASES and s.next_round <= now
                    and s.sampler is not None]

    def sample(self, uuid: str) -> Optional[VmFigures]:
        """One sampling round of ``uuid`` and the adjustments it calls
        for; ``None`` when the guest is not sampled (any more)."""
        with self._lock:
            sess = self.sessions.get(uuid)
            if sess is None or sess.phase not in SAMPLED_PHASES \
                    or sess.sampler is None:
                return None
            phase, hint, sampler = sess.phase, sess.hint, sess.sampler
            interval = (self.policy.interval_s if phase is Phase.STEADY
                        else self.policy.transfer_interval_s)
            sess.next_round = self.clock() + interval
        # backends read procfs, logs and stats: not under the lock, so a
        # signal is never held up by a sampling round
        try:
            guest = self.host.guest(uuid)
            result = sampler.round(guest, phase, hint)
        except Exception as exc:  # noqa: BLE001 - the guest may be leaving
            LOG.warning("%s: sampling round failed: %s", uuid, exc)
            return None
        with self._lock:
            if self.sessions.get(uuid) is not sess or sess.phase is not phase:
                return None         # the migration moved on meanwhile
            sess.guest = guest
            sess.figures = result.figures
            sess.rounds += 1
            sess.timeline.setdefault("first_round", self.clock())
            self._journal_figures(sess, result.seconds)
            try:
                if phase is not Phase.INCOMING:
                    self._adjust(sess)
            except Exception:  # noqa: BLE001 - one guest never stops the agent
                LOG.exception("%s: adjusting after sampling failed; "
                              "restoring", uuid)
                self._restore(sess, "error while adjusting")
        return result.figures

    def _journal_figures(self, sess: Session, seconds: float) -> None:
        last, now = sess.journaled_figures, sess.figures
        if last is not None and sess.journaled_phase is sess.phase \
                and not _moved(last, now, self.policy.balloon):
            return
        record = _figures_record(now)
        record["round_ms"] = round(seconds * 1000, 3)
        record["phase"] = sess.phase.value
        if self._journal(sess.uuid, J.Kind.OBSERVE, after=record,
                         detail="sampled"):
            sess.journaled_figures = now
            sess.journaled_phase = sess.phase

    def _adjust(self, sess: Session) -> None:
        node = _top_node(sess.figures) if sess.figures else None
        if node != sess.planned_node or sess.phase is Phase.POSTCOPY:
            # in steady state the placement is re-planned only when the
            # hot set's node moved: reading every QEMU thread's affinity
            # each round is most of a round's cost
            self._set_affinity(sess, f"sampled ({sess.phase.value})")
            sess.planned_node = node
        if not self.policy.balloon_enabled:
            return
        if self.clock() - sess.last_balloon < \
                self.policy.rebalance_interval_s:
            return
        self._balloon(sess, during_postcopy=sess.phase is Phase.POSTCOPY)

    def status(self, uuid: str) -> Optional[dict[str, Any]]:
        """What the agent knows of ``uuid``: phase, figures, backends and
        timeline (also for a session that ended lately)."""
        with self._lock:
            sess = self.sessions.get(uuid)
            if sess is None:
                return self.finished.get(uuid)
            return _status(sess)

    # -- changes --------------------------------------------------------
    def _figures(self, sess: Session, need_kib: Optional[int]) -> VmFigures:
        """The latest sampled figures, else the hint's (the forecast
        working set), else the whole guest as in use."""
        figures = sess.figures
        if figures is None:
            guest_bytes = sess.guest.maximum_kib * 1024
            obs = hint_observation(sess.hint, guest_bytes)
            figures = classify.combine([obs] if obs else [],
                                       sess.thresholds, guest_bytes)
        if need_kib is not None:
            figures = dataclasses.replace(figures, guest_need_kib=need_kib)
        return figures

    def _topology(self):
        # the host's NUMA layout does not change while the agent runs
        if self._host_topology is None:
            self._host_topology = self.host.topology()
        return self._host_topology

    def _hot_by_node(self, sess: Session,
                     figures: VmFigures) -> tuple[tuple[int, int], ...]:
        if figures.hot_bytes_by_node:
            return figures.hot_bytes_by_node
        try:
            # where the guest's memory is, when the hot set is not located
            return self.host.node_bytes(sess.guest)
        except QemuNotFound:
            return ()

    def _set_affinity(self, sess: Session, why: str) -> None:
        if not self.policy.pinning_enabled:
            return
        now = self.host.affinity(sess.guest)
        if not now.vcpus:
            return
        figures = self._figures(sess, None)
        plan = pinning.plan_pinning(
            self._topology(), len(now.vcpus),
            self._hot_by_node(sess, figures),
            self.policy.pinning,
            sess.hint.preferred_node if sess.hint else None)
        for intent in intents.affinity_intents(
                now.vcpus, plan.vcpu_cpus, now.emulator,
                plan.emulator_cpus, now.has_emulator, why, plan.reason):
            self._carry_out(sess, intent)
        sess.timeline.setdefault("first_adjustment", self.clock())

    def _balloon(self, sess: Session, during_postcopy: bool) -> None:
        guest = sess.guest
        need = sess.figures.guest_need_kib if sess.figures else None
        if not during_postcopy and need is None:
            stats = self.host.balloon_stats(guest)
            need = stats.need_kib if stats else None
        figures = self._figures(sess, need)
        plan = balloon_plan.plan_balloon(guest.current_kib,
                                         guest.maximum_kib, figures,
                                         self.policy.balloon, need)
        if not plan.changes:
            # said once per reason, not at every sampling round
            log = LOG.info if plan.reason.split(" of ")[0] != \
                sess.balloon_said else LOG.debug
            log("%s: balloon unchanged (%s)", sess.uuid, plan.reason)
            sess.balloon_said = plan.reason.split(" of ")[0]
            return
        # a decision to move: the next waits rebalance_interval_s
        sess.last_balloon = self.clock()
        state = self.journal.sessions().get(sess.uuid)
        qmp_available = during_postcopy \
            and self.policy.balloon_during_postcopy \
            and self.host.qmp(guest) is not None
        todo = intents.balloon_intents(
            guest.current_kib, plan,
            state.applied.get(J.Action.BALLOON) if state else None,
            during_postcopy, qmp_available)
        if not todo:
            LOG.info("%s: balloon target %d KiB already set", sess.uuid,
                     plan.target_kib)
            return
        for intent in todo:
            self._carry_out(sess, intent)

    def _carry_out(self, sess: Session, intent: Intent,
                   guest: Any = None) -> bool:
        """Journal, then make, then journal the outcome."""
        return self.executor.carry_out(
            sess.uuid, sess.guest if guest is None else guest, intent)

    def _journal(self, uuid: str, kind: J.Kind,
                 action: Optional[J.Action] = None,
                 channel: Optional[J.Channel] = None, before: Any = None,
                 after: Any = None, detail: str = "") -> bool:
        return self.executor.record(uuid, kind, action, channel, before,
                                    after, detail)

    # -- undo -----------------------------------------------------------
    def _restore(self, sess: Session, why: str) -> None:
        state = self.journal.sessions().get(sess.uuid)
        undo = J.restore_actions(state) if state else {}
        for action, original in undo.items():
            try:
                self._undo(sess, action, original, why)
            except Exception as exc:  # noqa: BLE001 - keep restoring
                LOG.warning("%s: could not restore %s: %s", sess.uuid,
                            action.value, exc)
        self._close(sess, f"restored: {why}")

    def _undo(self, sess: Session, action: J.Action, original: Any,
              why: str) -> None:
        try:
            guest = self.host.guest(sess.uuid)
        except Exception:  # noqa: BLE001 - the guest is gone: nothing to undo
            self._journal(sess.uuid, J.Kind.DONE, action, J.Channel.SCHED,
                          after=original, detail="guest gone")
            return
        qmp_available = action is J.Action.BALLOON \
            and self.host.qmp(guest) is not None
        for intent in intents.undo_intents({action: original},
                                           qmp_available, why):
            self._carry_out(sess, intent, guest)

    def _close(self, sess: Session, why: str) -> None:
        self._journal(sess.uuid, J.Kind.CLOSE, detail=why)
        self.sessions.pop(sess.uuid, None)
        done = _status(sess)
        done["closed"] = why
        self.finished[sess.uuid] = done
        while len(self.finished) > MAX_FINISHED:
            self.finished.pop(next(iter(self.finished)))

    def restore_open_sessions(self) -> list[str]:
        """After a restart: undo every session the journal shows open
        (the state a restart starts from is the journal's fold)."""
        state = reducer.from_sessions(self.journal.sessions())
        _, todo = reducer.step(state, reducer.Restart(), self.policy.sessions)
        restored = []
        for intent in todo:
            with self._lock:
                self._restore(Session(intent.uuid), intent.why)
            restored.append(intent.uuid)
        return restored


def _open_detail(sess: Session) -> str:
    t = sess.thresholds
    hint = sess.hint
    parts = [f"thresholds {t.hot_access_rate:g}/{t.warm_access_rate:g}/"
             f"{t.cold_min_idle_s:g}"]
    if hint is not None:
        for name in ("vm_type", "profile_id", "migration_id"):
            if getattr(hint, name):
                parts.append(f"{name} {getattr(hint, name)}")
    return f"incoming migration ({', '.join(parts)})"


def _figures_record(figures: VmFigures) -> dict[str, Any]:
    out = {k: v for k, v in figures.as_dict().items() if v is not None}
    out["sources"] = list(figures.sources)
    return out


def _moved(before: VmFigures, after: VmFigures,
           policy: BalloonPolicy) -> bool:
    """Whether the figures moved enough to be worth a journal line: a
    class size by the balloon's smallest change, the hot set's node, or
    the sources."""
    step = max(policy.min_change_kib * 1024, 1)
    return (before.sources != after.sources
            or abs(before.hot_bytes - after.hot_bytes) >= step
            or abs(before.warm_bytes - after.warm_bytes) >= step
            or abs(before.cold_bytes - after.cold_bytes) >= step
            or _top_node(before) != _top_node(after))


def _top_node(figures: VmFigures) -> Optional[int]:
    nodes = figures.hot_bytes_by_node
    return max(nodes, key=lambda nb: nb[1])[0] if nodes else None


def _status(sess: Session) -> dict[str, Any]:
    t0 = min(sess.timeline.values(), default=None)
    return {
        "instance_uuid": sess.uuid,
        "phase": sess.phase.value if sess.phase else None,
        "rounds": sess.rounds,
        "figures": _figures_record(sess.figures) if sess.figures else None,
        "backends": sess.sampler.status() if sess.sampler else None,
        "thresholds": dataclasses.asdict(sess.thresholds),
        "timeline_s": {k: round(v - t0, 6)
                       for k, v in sess.timeline.items()} if t0 else {},
    }

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

Every change is written to the journal before it is made; when the
journal cannot be written the change is not made.  The manager is
called from a worker thread, never from libvirt's event loop.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.agent import qemu
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.journal import JournalError
from nova_hooks.agent.qmp import QmpError
from nova_hooks.core import balloon as balloon_plan
from nova_hooks.core import journal_model as J
from nova_hooks.core import lifecycle
from nova_hooks.core import pinning
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import Hint
from nova_hooks.core.types import Phase
from nova_hooks.core.types import PinningPolicy
from nova_hooks.core.types import VmFigures

LOG = logging.getLogger(__name__)
Signal = lifecycle.Signal


@dataclasses.dataclass
class Session:
    uuid: str
    phase: Optional[Phase] = None
    hint: Optional[Hint] = None
    guest: Any = None
    #: when each step happened (time.monotonic), for the timeline
    timeline: dict[str, float] = dataclasses.field(default_factory=dict)


class Manager:
    def __init__(self, host, journal: Journal, pinning_policy: PinningPolicy,
                 balloon_policy: BalloonPolicy, max_sessions: int = 2,
                 dry_run: bool = False, balloon_enabled: bool = True,
                 pinning_enabled: bool = True,
                 balloon_during_postcopy: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.journal = journal
        self.pinning_policy = pinning_policy
        self.balloon_policy = balloon_policy
        self.max_sessions = max_sessions
        self.dry_run = dry_run
        self.balloon_enabled = balloon_enabled
        self.pinning_enabled = pinning_enabled
        self.balloon_during_postcopy = balloon_during_postcopy
        self.clock = clock
        self.sessions: dict[str, Session] = {}
        self.hints: dict[str, Hint] = {}
        self._lock = threading.RLock()

    # -- entry points ---------------------------------------------------
    def prepare(self, hint: Hint) -> None:
        """Remember the forecast for a guest that has not arrived yet."""
        with self._lock:
            self.hints[hint.instance_uuid] = hint
            sess = self.sessions.get(hint.instance_uuid)
            if sess is not None:
                sess.hint = hint

    def signal(self, uuid: str, sig: Signal) -> None:
        with self._lock:
            sess = self.sessions.get(uuid)
            phase = sess.phase if sess else None
            nxt = lifecycle.next_phase(phase, sig)
            if nxt is None or (sess is not None and nxt is phase):
                return          # not ours, or a repeat: idempotent
            if sess is None:
                if sig is not Signal.INCOMING:
                    return
                if len(self.sessions) >= self.max_sessions:
                    LOG.warning("%s: %d incoming guests already shaped; "
                                "leaving this one alone", uuid,
                                len(self.sessions))
                    self._journal(uuid, J.Kind.OPEN,
                                  detail="skipped: concurrency cap")
                    self._journal(uuid, J.Kind.CLOSE, detail="skipped")
                    return
                sess = self.sessions[uuid] = Session(
                    uuid, hint=self.hints.pop(uuid, None))
                if not self._journal(uuid, J.Kind.OPEN,
                                     detail="incoming migration"):
                    del self.sessions[uuid]
                    return
            sess.phase = nxt
            sess.timeline.setdefault(sig.value, self.clock())
            try:
                if sig is Signal.INCOMING:
                    self._incoming(sess)
                elif sig is Signal.POSTCOPY:
                    self._postcopy(sess)
                elif sig is Signal.COMPLETED:
                    self._completed(sess)
                elif sig is Signal.FAILED:
                    self._restore(sess, "migration failed")
                elif sig is Signal.GONE:
                    self._close(sess, "guest gone")
            except Exception:  # noqa: BLE001 - one guest never stops the agent
                LOG.exception("%s: handling %s failed; restoring", uuid,
                              sig.value)
                self._restore(sess, f"error while handling {sig.value}")

    def release(self, uuid: str) -> None:
        """Stop managing a guest whose migration completed."""
        with self._lock:
            sess = self.sessions.get(uuid)
            if sess is not None:
                self._close(sess, "steady state reached")

    # -- phases ---------------------------------------------------------
    def _incoming(self, sess: Session) -> None:
        sess.guest = self.host.guest(sess.uuid)
        if sess.hint is not None and sess.hint.preferred_node is not None:
            self._set_affinity(sess, "forecast pre-configuration")

    def _postcopy(self, sess: Session) -> None:
        sess.guest = self.host.guest(sess.uuid)
        self._set_affinity(sess, "post-copy")
        if self.balloon_enabled:
            self._balloon(sess, during_postcopy=True)

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
        if self.balloon_enabled:
            # what was queued during post-copy is planned again now, with
            # the guest's own memory stats, and made in bounded steps
            self._balloon(sess, during_postcopy=False)
        for action, after in queued.items():
            self._journal(sess.uuid, J.Kind.DONE, action, J.Channel.QUEUED,
                          after=after, detail="replanned at completion")
        sess.timeline.setdefault("libvirt_synced", self.clock())

    # -- changes --------------------------------------------------------
    def _figures(self, sess: Session, need_kib: Optional[int]) -> VmFigures:
        guest = sess.guest
        total = guest.maximum_kib * 1024
        ws = sess.hint.working_set_kib if sess.hint else None
        hot = min(total, ws * 1024) if ws else total
        try:
            by_node = self.host.node_bytes(guest)
        except qemu.QemuNotFound:
            by_node = ()
        return VmFigures(guest_bytes=total, hot_bytes=hot, warm_bytes=0,
                         cold_bytes=total - hot, hot_bytes_by_node=by_node,
                         guest_need_kib=need_kib,
                         sources=("hint",) if ws else ())

    def _set_affinity(self, sess: Session, why: str) -> None:
        if not self.pinning_enabled:
            return
        guest = sess.guest
        vcpus, emulator = self.host.threads(guest)
        if not vcpus:
            return
        figures = self._figures(sess, None)
        plan = pinning.plan_pinning(
            self.host.topology(), len(vcpus), figures.hot_bytes_by_node,
            self.pinning_policy,
            sess.hint.preferred_node if sess.hint else None)
        before = [qemu.get_affinity(vcpus[i]) for i in sorted(vcpus)]
        after = [sorted(c) for c in plan.vcpu_cpus]
        if before != after:
            def apply_vcpus():
                for i, cpus in zip(sorted(vcpus), after, strict=True):
                    qemu.set_affinity(vcpus[i], cpus)
            self._change(sess, J.Action.VCPU_AFFINITY, J.Channel.SCHED,
                         before, after, apply_vcpus,
                         f"{why}: {plan.reason}")
        emu_before = sorted(set().union(
            *(qemu.get_affinity(t) for t in emulator))) if emulator else []
        emu_after = sorted(plan.emulator_cpus)
        if emulator and emu_before != emu_after:
            def apply_emulator():
                for tid in emulator:
                    try:
                        qemu.set_affinity(tid, emu_after)
                    except ProcessLookupError:
                        pass    # a short-lived worker thread ended
            self._change(sess, J.Action.EMULATOR_AFFINITY, J.Channel.SCHED,
                         emu_before, emu_after, apply_emulator,
                         f"{why}: emulator threads")
        sess.timeline.setdefault("first_adjustment", self.clock())

    def _balloon(self, sess: Session, during_postcopy: bool) -> None:
        guest = sess.guest
        need = None
        if not during_postcopy:
            stats = self.host.balloon_stats(guest)
            need = stats.need_kib if stats else None
        figures = self._figures(sess, need)
        plan = balloon_plan.plan_balloon(guest.current_kib,
                                         guest.maximum_kib, figures,
                                         self.balloon_policy, need)
        if not plan.changes:
            LOG.info("%s: balloon unchanged (%s)", sess.uuid, plan.reason)
            return
        state = self.journal.sessions().get(sess.uuid)
        if state is not None and \
                state.applied.get(J.Action.BALLOON) == plan.target_kib:
            # already asked for (the guest may still be giving pages
            # back): asking again in new steps would only churn
            LOG.info("%s: balloon target %d KiB already set", sess.uuid,
                     plan.target_kib)
            return
        if during_postcopy:
            qmp = self.host.qmp(guest) if self.balloon_during_postcopy \
                else None
            if qmp is None:
                self._journal(sess.uuid, J.Kind.INTENT, J.Action.BALLOON,
                              J.Channel.QUEUED, guest.current_kib,
                              plan.target_kib,
                              f"until completion: {plan.reason}")
                return
            level = guest.current_kib
            for step in plan.steps_kib:
                self._change(sess, J.Action.BALLOON, J.Channel.QMP, level,
                             step, lambda s=step: qmp.set_balloon(s),
                             plan.reason)
                level = step
            return
        level = guest.current_kib
        for step in plan.steps_kib:
            self._change(sess, J.Action.BALLOON, J.Channel.LIBVIRT, level,
                         step, lambda s=step: self.host.set_balloon(guest, s),
                         plan.reason)
            level = step

    def _change(self, sess: Session, action: J.Action, channel: J.Channel,
                before: Any, after: Any, make: Callable[[], None],
                why: str) -> bool:
        """Journal, then make, then journal the outcome."""
        if self.dry_run:
            channel = J.Channel.DRY_RUN
        if not self._journal(sess.uuid, J.Kind.INTENT, action, channel,
                             before, after, why):
            return False
        if channel is J.Channel.DRY_RUN:
            LOG.info("%s: dry run: %s %s -> %s (%s)", sess.uuid,
                     action.value, before, after, why)
            return True
        try:
            make()
        except (OSError, QmpError, qemu.QemuNotFound) as exc:
            self._journal(sess.uuid, J.Kind.FAILED, action, channel,
                          after=after, detail=str(exc)[:300])
            LOG.warning("%s: %s via %s failed: %s", sess.uuid, action.value,
                        channel.value, exc)
            return False
        except Exception as exc:   # libvirt errors
            self._journal(sess.uuid, J.Kind.FAILED, action, channel,
                          after=after, detail=str(exc)[:300])
            raise
        self._journal(sess.uuid, J.Kind.DONE, action, channel, after=after)
        LOG.info("%s: %s %s -> %s via %s (%s)", sess.uuid, action.value,
                 before, after, channel.value, why)
        return True

    def _journal(self, uuid: str, kind: J.Kind,
                 action: Optional[J.Action] = None,
                 channel: Optional[J.Channel] = None, before: Any = None,
                 after: Any = None, detail: str = "") -> bool:
        try:
            self.journal.write(uuid, kind, action, channel, before, after,
                               detail)
            return True
        except JournalError as exc:
            LOG.error("%s: %s; no change is made that cannot be "
                      "journaled", uuid, exc)
            return False

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
        if action is J.Action.BALLOON:
            qmp = self.host.qmp(guest)
            if qmp is not None:
                self._change(sess, action, J.Channel.QMP, None, original,
                             lambda: qmp.set_balloon(original), why)
            else:
                self._change(sess, action, J.Channel.LIBVIRT, None,
                             original,
                             lambda: self.host.set_balloon(guest, original),
                             why)
            return
        vcpus, emulator = self.host.threads(guest)
        if action is J.Action.VCPU_AFFINITY:
            def apply():
                for i, cpus in zip(sorted(vcpus), original, strict=False):
                    qemu.set_affinity(vcpus[i], cpus)
        else:
            def apply():
                for tid in emulator:
                    qemu.set_affinity(tid, original)
        self._change(sess, action, J.Channel.SCHED, None, original, apply,
                     why)

    def _close(self, sess: Session, why: str) -> None:
        self._journal(sess.uuid, J.Kind.CLOSE, detail=why)
        self.sessions.pop(sess.uuid, None)

    def restore_open_sessions(self) -> list[str]:
        """After a restart: undo every session the journal shows open."""
        restored = []
        for uuid, state in self.journal.sessions().items():
            if state.open:
                sess = Session(uuid)
                with self._lock:
                    self._restore(sess, "agent restarted")
                restored.append(uuid)
        return restored

"""Carries out the agent's intents: journal, make, journal again.

Each :class:`~nova_hooks.core.intents.Intent` is written to the journal
before it is made; when the journal cannot be written it is not made.
Its outcome follows as a ``done`` or ``failed`` record, so the journal
alone says what was changed (and what a restore must put back).  The
change itself goes through the :class:`~nova_hooks.agent.host.Host`:
libvirt, the guest's second QMP monitor, or ``sched_setaffinity`` on
QEMU's threads.  A queued intent is only journaled; a dry run journals
every intent on the ``dry-run`` channel and makes nothing.
"""
from __future__ import annotations

import logging
from typing import Any
from typing import Callable
from typing import Optional
from typing import Sequence

from nova_hooks.agent.host import Guest
from nova_hooks.agent.host import Host
from nova_hooks.agent.journal import Journal
from nova_hooks.core import journal_model as J
from nova_hooks.core import reclaim
from nova_hooks.core.intents import Intent
from nova_hooks.exceptions import HostError
from nova_hooks.exceptions import JournalError
from nova_hooks.exceptions import QmpError

LOG = logging.getLogger(__name__)


class Executor:
    """:param dry_run: journal the intents, make none.
    :param journaled: called with every record written (the manager
        applies it to its state: the state is what the journal holds).
    """

    def __init__(self, host: Host, journal: Journal,
                 dry_run: bool = False,
                 journaled: Callable[[J.Record], None] = lambda _rec: None
                 ) -> None:
        self.host = host
        self.journal = journal
        self.dry_run = dry_run
        self.journaled = journaled

    def record(self, uuid: str, kind: J.Kind,
               action: Optional[J.Action] = None,
               channel: Optional[J.Channel] = None, before: Any = None,
               after: Any = None, detail: str = "") -> bool:
        """One journal record; ``False`` (logged) when it could not be
        written, and then nothing may be changed."""
        try:
            rec = self.journal.write(uuid, kind, action, channel, before,
                                     after, detail)
        except JournalError as exc:
            LOG.error("%s: %s; no change is made that cannot be "
                      "journaled", uuid, exc)
            return False
        self.journaled(rec)
        return True

    def pin(self, guest: Guest, vcpus: Sequence[Sequence[int]],
            emulator: Sequence[int]) -> None:
        """libvirt's own record of a pinning already made (not
        journaled: it changes nothing the threads do not have)."""
        if not self.dry_run:
            self.host.pin(guest, vcpus, emulator)

    def carry_out(self, uuid: str, guest: Guest, intent: Intent) -> bool:
        """Journal ``intent``, make it, journal the outcome; whether it
        was made (or, dry run / queued, journaled).  An error of the
        host's own kind (OS, QMP, QEMU gone) is journaled and logged;
        any other (libvirt's) is journaled and raised."""
        if intent.channel is J.Channel.QUEUED:
            return self.record(uuid, J.Kind.INTENT, intent.action,
                               intent.channel, intent.before, intent.after,
                               intent.why)
        channel = J.Channel.DRY_RUN if self.dry_run else intent.channel
        if not self.record(uuid, J.Kind.INTENT, intent.action, channel,
                           intent.before, intent.after, intent.why):
            return False
        if channel is J.Channel.DRY_RUN:
            LOG.info("%s: dry run: %s %s -> %s (%s)", uuid,
                     intent.action.value, intent.before, intent.after,
                     intent.why)
            return True
        try:
            self._make(guest, intent)
        except (OSError, HostError) as exc:
            self.record(uuid, J.Kind.FAILED, intent.action, channel,
                        after=intent.after, detail=str(exc)[:300])
            LOG.warning("%s: %s via %s failed: %s", uuid,
                        intent.action.value, channel.value, exc)
            return False
        except Exception as exc:   # libvirt errors
            self.record(uuid, J.Kind.FAILED, intent.action, channel,
                        after=intent.after, detail=str(exc)[:300])
            raise
        self.record(uuid, J.Kind.DONE, intent.action, channel,
                    after=intent.after)
        LOG.info("%s: %s %s -> %s via %s (%s)", uuid, intent.action.value,
                 intent.before, intent.after, channel.value, intent.why)
        return True

    def _make(self, guest: Guest, intent: Intent) -> None:
        action, channel, value = intent.action, intent.channel, intent.after
        if action is J.Action.BALLOON and channel is J.Channel.QMP:
            qmp = self.host.qmp(guest)
            if qmp is None:
                raise QmpError(f"{guest.name}: no second QMP monitor")
            qmp.set_balloon(value)
        elif action is J.Action.BALLOON and channel is J.Channel.LIBVIRT:
            self.host.set_balloon(guest, value)
        elif action is J.Action.STATS_PERIOD \
                and channel is J.Channel.LIBVIRT:
            self.host.set_stats_period(guest, value)
        elif action is J.Action.VCPU_AFFINITY \
                and channel is J.Channel.SCHED:
            self.host.set_vcpu_affinity(guest, value)
        elif action is J.Action.EMULATOR_AFFINITY \
                and channel is J.Channel.SCHED:
            self.host.set_emulator_affinity(guest, value)
        elif action is J.Action.PAGE_OUT and channel is J.Channel.MADVISE:
            self.host.page_out(guest, reclaim.ranges_of(value))
        elif action is J.Action.PAGE_IN and channel is J.Channel.MADVISE:
            self.host.page_in(guest, reclaim.ranges_of(value))
        else:
            raise ValueError(f"no way to make {action.value} via "
                             f"{channel.value}")

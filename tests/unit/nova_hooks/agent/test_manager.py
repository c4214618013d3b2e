"""The manager on real threads: this test process plays QEMU (two of its
threads are named like libvirt's vCPU threads) and affinity really
changes; only libvirt's job-taking calls are recorded instead of made."""
from __future__ import annotations

import os

import pytest

from nova_hooks.agent import qemu
from nova_hooks.agent.host import Guest
from nova_hooks.agent.host import ThreadAffinity
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.manager import Manager
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.settings import SessionPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import NumaNode
from nova_hooks.core.types import PinningPolicy
from nova_hooks.exceptions import JournalError

UUID = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a01"
MIB = 1024
CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs")


class ThisProcessHost(ThreadAffinity):
    """Immediate calls for real on this process; libvirt's recorded."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.libvirt_calls = []
        self.current_kib = 512 * MIB
        #: guests libvirt does not have (yet)
        self.absent = set()
        #: guests that are not Nova's instances
        self.not_nova = set()

    def guest(self, uuid):
        if uuid in self.absent:
            raise LookupError(f"no domain {uuid}")
        return Guest(uuid, "guest", 2, self.current_kib, 512 * MIB)

    def nova_instance(self, guest):
        return guest.uuid not in self.not_nova

    def threads(self, guest):
        return qemu.threads("/proc", qemu.qemu_pid(self.run_dir, "guest"))

    def node_bytes(self, guest):
        return ()

    def topology(self):
        return HostTopology((NumaNode(0, frozenset(CPUS)),))

    def qmp(self, guest):
        return None

    def set_balloon(self, guest, kib):
        self.libvirt_calls.append(("balloon", kib))
        self.current_kib = kib

    def pin(self, guest, vcpu_cpus, emulator_cpus):
        self.libvirt_calls.append(("pin", vcpu_cpus, emulator_cpus))

    def balloon_stats(self, guest):
        return None


@pytest.fixture
def host(tmp_path, vcpu_threads):
    (tmp_path / "guest.pid").write_text(str(os.getpid()))
    return ThisProcessHost(str(tmp_path))


def vcpu_affinity(host):
    vcpus, _ = host.threads(None)
    return [qemu.get_affinity(vcpus[i]) for i in sorted(vcpus)]


def make(host, tmp_path, max_sessions=2, dry_run=False, nova_only=True):
    policy = AgentPolicy(
        pinning=PinningPolicy(guest_cpus=frozenset(CPUS[-1:])),
        balloon=BalloonPolicy(floor_kib=128 * MIB, headroom_kib=32 * MIB,
                              require_guest_need=False),
        sessions=SessionPolicy(max_sessions, nova_only=nova_only))
    return Manager(host, Journal(str(tmp_path / "journal.jsonl")), policy,
                   dry_run=dry_run)


def kinds(manager):
    return [(r.kind.value, r.action.value if r.action else None,
             r.channel.value if r.channel else None)
            for r in manager.journal.load()]


def test_postcopy_moves_affinity_at_once_and_queues_the_balloon(
        host, tmp_path):
    m = make(host, tmp_path)
    m.prepare(MigrationHint(UUID, expected_hot_kib=96 * MIB))
    m.signal(UUID, Signal.INCOMING)
    assert vcpu_affinity(host) == [CPUS, CPUS]
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]
    assert host.libvirt_calls == []           # the job is held: no libvirt
    m.signal(UUID, Signal.POSTCOPY)           # a repeat changes nothing
    m.signal(UUID, Signal.COMPLETED)
    # libvirt learns the pinning, then the queued balloon lands: 96 MiB
    # hot + max(32 MiB, 10 %) headroom, in steps of at most 128 MiB
    assert host.libvirt_calls == [
        ("pin", [CPUS[-1:], CPUS[-1:]], CPUS[-1:]),
        ("balloon", 384 * MIB), ("balloon", 256 * MIB),
        ("balloon", 128 * MIB)]
    # every phase is journaled: the journal alone is the agent's state
    assert kinds(m) == [
        ("open", None, None),
        ("phase", None, None),                  # incoming
        ("phase", None, None),                  # post-copy
        ("intent", "vcpu_affinity", "sched"),
        ("done", "vcpu_affinity", "sched"),
        ("intent", "emulator_affinity", "sched"),
        ("done", "emulator_affinity", "sched"),
        ("intent", "balloon", "queued"),
        ("phase", None, None),                  # completed: steady
        *[("intent", "balloon", "libvirt"),
          ("done", "balloon", "libvirt")] * 3,
        ("done", "balloon", "queued")]
    m.release(UUID)
    assert not m.journal.sessions()[UUID].open


def test_a_failed_migration_restores_the_affinity(host, tmp_path):
    m = make(host, tmp_path)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]
    m.signal(UUID, Signal.FAILED)
    assert vcpu_affinity(host) == [CPUS, CPUS]
    state = m.journal.sessions()[UUID]
    assert not state.open and UUID not in m.sessions


def test_an_incoming_announced_before_the_guest_is_here_waits_for_it(
        host, tmp_path):
    """The migration action's RPC ``started`` comes as soon as Nova
    accepted the migration, before the destination defined the guest:
    no session (nothing journaled, nothing restored) until libvirt's
    event, which opens it with the hint given meanwhile."""
    m = make(host, tmp_path)
    host.absent = {UUID}
    m.prepare(MigrationHint(UUID, expected_hot_kib=96 * MIB,
                            vm_type="db"))
    m.signal(UUID, Signal.INCOMING)           # RPC started: not here yet
    assert kinds(m) == [] and UUID not in m.sessions
    host.absent = set()
    m.signal(UUID, Signal.INCOMING)           # libvirt: STARTED/MIGRATED
    assert kinds(m) == [("open", None, None), ("phase", None, None)]
    assert m.sessions[UUID].hint.vm_type == "db"
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]


def test_a_guest_nova_does_not_own_is_left_alone(host, tmp_path):
    host.not_nova = {UUID}
    m = make(host, tmp_path)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS, CPUS]
    assert kinds(m) == [] and host.libvirt_calls == []
    # unless the agent is told to shape every guest
    m = make(host, tmp_path, nova_only=False)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]


def test_the_guest_deleted_after_completion_is_let_go_unrestored(
        host, tmp_path):
    """Nova deletes the server after its migration completed
    (STOPPED/DESTROYED): the session closes as the guest's end, not as a
    failed migration, and nothing is restored on a guest that is gone."""
    m = make(host, tmp_path)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    m.signal(UUID, Signal.COMPLETED)
    before = kinds(m)
    calls = list(host.libvirt_calls)
    m.signal(UUID, Signal.STOPPED)
    records = m.journal.load()
    assert kinds(m) == [*before, ("phase", None, None), ("close", None,
                                                         None)]
    assert records[-1].detail == "guest stopped after completion"
    assert host.libvirt_calls == calls
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]  # not undone
    assert UUID not in m.sessions


def test_a_restarted_agent_restores_what_the_journal_shows_open(
        host, tmp_path):
    first = make(host, tmp_path)
    first.signal(UUID, Signal.INCOMING)
    first.signal(UUID, Signal.POSTCOPY)       # ... and the agent dies
    second = make(host, tmp_path)
    assert second.restore_open_sessions() == [UUID]
    assert vcpu_affinity(host) == [CPUS, CPUS]
    assert second.restore_open_sessions() == []


class RefusingJournal(Journal):
    """The disk is full (a fault): every write is refused."""

    def write(self, *args, **kwargs):
        raise JournalError(28, "No space left on device")


def test_nothing_changes_that_cannot_be_journaled(host, tmp_path):
    m = make(host, tmp_path)
    m.journal = RefusingJournal(str(tmp_path / "full.jsonl"))
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS, CPUS]
    assert UUID not in m.sessions


def test_dry_run_journals_but_changes_nothing(host, tmp_path):
    m = make(host, tmp_path, dry_run=True)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    m.signal(UUID, Signal.COMPLETED)
    assert vcpu_affinity(host) == [CPUS, CPUS]
    assert host.libvirt_calls == []
    assert ("intent", "vcpu_affinity", "dry-run") in kinds(m)


def test_the_concurrency_cap_leaves_extra_guests_alone(host, tmp_path):
    m = make(host, tmp_path, max_sessions=1)
    other = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a02"
    m.signal(UUID, Signal.INCOMING)
    m.signal(other, Signal.INCOMING)
    assert list(m.sessions) == [UUID]
    details = [r.detail for r in m.journal.load() if r.vm == other]
    assert details == ["skipped: concurrency cap", "skipped"]


class VanishingWorkerHost(ThisProcessHost):
    """QEMU's worker threads come and go (a fault the test cannot time
    for real): the thread list names one that has already ended."""

    def threads(self, guest):
        vcpus, emulator = super().threads(guest)
        return vcpus, [*emulator, 2 ** 22 + 12345]


def test_a_worker_thread_that_ended_does_not_restore_the_session(
        tmp_path, vcpu_threads):
    (tmp_path / "guest.pid").write_text(str(os.getpid()))
    host = VanishingWorkerHost(str(tmp_path))
    m = make(host, tmp_path)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    assert vcpu_affinity(host) == [CPUS[-1:], CPUS[-1:]]
    assert m.journal.sessions()[UUID].open
    m.signal(UUID, Signal.FAILED)
    assert vcpu_affinity(host) == [CPUS, CPUS]


def test_resync_catches_up_with_missed_events(host, tmp_path):
    m = make(host, tmp_path)
    other = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a03"
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    m.signal(other, Signal.INCOMING)
    states = {UUID: (1, 2), other: None}     # completed; gone
    given = m.resync(states.get)
    assert sorted(given, key=lambda g: g[0]) == sorted(
        [(UUID, Signal.COMPLETED), (other, Signal.FAILED)],
        key=lambda g: g[0])
    assert m.sessions[UUID].phase.value == "steady"
    assert ("pin", [CPUS[-1:], CPUS[-1:]], CPUS[-1:]) in host.libvirt_calls
    assert other not in m.sessions
    assert m.resync(states.get) == []          # nothing new

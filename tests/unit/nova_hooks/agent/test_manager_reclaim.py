"""The manager's reclaim rounds: the sampler's located ranges reach the
reducer, the host's guest-RAM reading is taken on demand, the page-out
goes to the host, and the next round waits a second (the manager keeps
the clock).  Without reclaim, neither the ranges nor the RAM are read."""
from __future__ import annotations

from nova_hooks.agent.journal import Journal
from nova_hooks.agent.manager import Manager
from nova_hooks.core import reclaim
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.settings import SessionPolicy
from nova_hooks.core.types import Guest
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Region

UUID = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a02"
MiB = 1 << 20
GUEST = 64 * MiB
HOT = (0, 4 * MiB)


class RamHost:
    """A guest whose first 32 MiB arrived; page-outs recorded."""

    def __init__(self) -> None:
        self.reads = 0
        self.page_outs: list[tuple] = []
        self.now = 0.0

    def guest(self, uuid):
        return Guest(uuid, "guest", 1, GUEST >> 10, GUEST >> 10)

    def nova_instance(self, guest):
        return True

    def ram(self, guest):
        self.reads += 1
        present = reclaim.subtract(((0, 32 * MiB),),
                                   [r for c in self.page_outs for r in c])
        return reclaim.RamReading(GUEST, present, 50.0, self.now)

    def page_out(self, guest, ranges):
        self.page_outs.append(tuple(ranges))
        return reclaim.total(ranges)


class TraceBackend:
    """Says the guest asked for its first 4 MiB, over and over."""

    name = "postcopy_trace"
    during_postcopy = True

    def probe(self, guest):
        return None

    def sample(self, guest):
        return Observation(self.name,
                           regions=(Region(HOT[0], HOT[1], 1.0),))


def make(tmp_path, host, reclaim_policy):
    policy = AgentPolicy(pinning_enabled=False, balloon_enabled=False,
                         sessions=SessionPolicy(nova_only=False),
                         reclaim=reclaim_policy)
    return Manager(host, Journal(str(tmp_path / "journal.jsonl")), policy,
                   clock=lambda: host.now, backends=(TraceBackend(),))


def test_a_round_pages_out_outside_the_located_hot_set_then_waits(tmp_path):
    host = RamHost()
    m = make(tmp_path, host, reclaim.ReclaimPolicy(
        quota_bytes_per_s=8 * MiB, headroom_bytes=MiB))
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    m.sample(UUID)
    [first] = host.page_outs
    assert reclaim.total(first) == 8 * MiB
    assert not reclaim.intersect(first, (HOT,))
    host.now = 0.5                  # within the second: held, nothing read
    m.sample(UUID)
    assert (len(host.page_outs), host.reads) == (1, 1)
    host.now = 1.0
    m.sample(UUID)
    assert len(host.page_outs) == 2
    assert not reclaim.intersect(host.page_outs[1], first)
    outs = [r for r in m.journal.load() if r.action is not None
            and r.action.value == "page_out"]
    assert [r.kind.value for r in outs] == ["intent", "done"] * 2


def test_without_reclaim_nothing_is_located_or_read(tmp_path, monkeypatch):
    host = RamHost()
    m = make(tmp_path, host, None)

    def never(*_a):
        raise AssertionError("located without a lever that needs it")
    monkeypatch.setattr("nova_hooks.core.classify.located", never)
    m.signal(UUID, Signal.INCOMING)
    m.signal(UUID, Signal.POSTCOPY)
    m.sample(UUID)
    assert (host.reads, host.page_outs) == (0, [])

"""Sampling rounds: which backends watch a guest, in which phase, what a
failing one costs, and what the manager does with the figures."""
from __future__ import annotations

import os

import pytest

from nova_hooks.agent.backends.guest_stats import BalloonStatsBackend
from nova_hooks.agent.backends.idle_page import IdlePageBackend
from nova_hooks.agent.backends.postcopy_trace import PostcopyTraceBackend
from nova_hooks.agent.host import Guest
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.manager import Manager
from nova_hooks.agent.sampler import GuestSampler
from nova_hooks.agent.sampler import parse_threshold_map
from nova_hooks.cmd.agent import thresholds_resolver
from nova_hooks.conf import register_opts
from nova_hooks.core import journal_model as J
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.hint import ThresholdOverrides
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import Phase
from nova_hooks.core.types import PinningPolicy
from nova_hooks.core.types import Thresholds
from tests.unit.nova_hooks.agent.conftest import PageTree
from tests.unit.nova_hooks.agent.test_manager import ThisProcessHost

UUID = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a01"
MIB = 1024
PAGES = 512 * 256                       # the 512 MiB guest of the host
CPUS = sorted(os.sched_getaffinity(0))
TRACE = ("1234@1.0:postcopy_ram_fault_thread_request Request for "
         "HVA=0x7f00 rb=pc.ram offset=0x{:x} pid=77\n")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def trace_backend(tmp_path, offsets=()):
    backend = PostcopyTraceBackend(None)
    backend.log_dir = str(tmp_path)
    (tmp_path / "guest.log").write_text(
        "".join(TRACE.format(o) for o in offsets))
    return backend


GUEST = Guest(UUID, "guest", 2, 512 * MIB, 512 * MIB)


def test_backends_that_need_the_job_wait_for_completion(tmp_path):
    trace = trace_backend(tmp_path, [0x1000, 0x2000])
    stats = BalloonStatsBackend(None)   # would call libvirt: not probed
    sampler = GuestSampler([trace, stats], Thresholds())
    sampler.probe(GUEST, Phase.POSTCOPY)
    assert [b.name for b in sampler.active] == ["postcopy_trace"]
    assert "waits for the migration" in sampler.unavailable["balloon_stats"]
    result = sampler.round(GUEST, Phase.POSTCOPY)
    assert result.figures.sources == ("postcopy_trace",)
    assert result.figures.miss_ratio == 1.0     # 2 misses, none placed


def test_a_failing_backend_is_dropped_after_three_rounds(tmp_path):
    trace = trace_backend(tmp_path, [0x1000])
    sampler = GuestSampler([trace], Thresholds())
    sampler.probe(GUEST, Phase.POSTCOPY)
    (tmp_path / "guest.log").unlink()           # the log went away
    for _ in range(3):
        sampler.round(GUEST, Phase.POSTCOPY)
    assert sampler.active == []
    assert "dropped after 3 failed rounds" in \
        sampler.unavailable["postcopy_trace"]


def test_the_hint_is_the_observation_of_last_resort():
    sampler = GuestSampler([], Thresholds())
    hint = MigrationHint(UUID, expected_hot_kib=128 * MIB)
    figures = sampler.round(GUEST, Phase.POSTCOPY, hint).figures
    assert (figures.hot_bytes, figures.warm_bytes, figures.cold_bytes) == (
        128 << 20, 0, 384 << 20)
    assert figures.sources == ("hint",)


def test_threshold_maps_parse_and_say_which_entry_is_bad():
    got = parse_threshold_map({"db": "0.3/0.02/60"}, Thresholds())
    assert got["db"] == Thresholds(0.3, 0.02, 60.0)
    with pytest.raises(ValueError, match="'web'"):
        parse_threshold_map({"web": "0.3/0.02"}, Thresholds())
    with pytest.raises(ValueError, match="'web'"):
        parse_threshold_map({"web": "0.01/0.3/5"}, Thresholds())


def test_thresholds_profile_beats_type_and_the_hint_beats_both():
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("vm_type_thresholds", {"db": "0.3/0.02/60"},
                      "page_sampling")
    conf.set_override("profile_thresholds", {"7": "0.8/0.1/10"},
                      "page_sampling")
    resolve = thresholds_resolver(conf)
    assert resolve(None) == Thresholds()
    assert resolve(MigrationHint(UUID, vm_type="db")).hot_access_rate == 0.3
    assert resolve(MigrationHint(UUID, vm_type="db",
                                 profile_id="7")).hot_access_rate == 0.8
    assert resolve(MigrationHint(
        UUID, vm_type="db", profile_id="7",
        thresholds=ThresholdOverrides(hot_access_rate=0.9))
    ).hot_access_rate == 0.9


@pytest.fixture
def sampled(tmp_path, vcpu_threads):
    """The manager with a real idle_page backend over a fixture tree of
    this process (which plays QEMU: its threads are the vCPUs)."""
    tree = PageTree(tmp_path / "tree", os.getpid(), PAGES)
    (tmp_path / "guest.pid").write_text(str(os.getpid()))
    host = ThisProcessHost(str(tmp_path))
    host.proc_root, host.sys_root = str(tree.proc), str(tree.sys)
    clock = Clock()
    backend = IdlePageBackend(host, clock=clock)
    backend.max_ranges, backend.pages_per_range = 128, 16
    manager = Manager(
        host, Journal(str(tmp_path / "journal.jsonl")), AgentPolicy(
            pinning=PinningPolicy(guest_cpus=frozenset(CPUS[-1:])),
            balloon=BalloonPolicy(floor_kib=64 * MIB, headroom_kib=32 * MIB,
                                  require_guest_need=False),
            rebalance_interval_s=5.0),
        backends=(backend,), clock=clock,
        thresholds_for=lambda hint: Thresholds(cold_min_idle_s=0.5))
    return manager, tree, host, clock


def test_sampled_figures_drive_the_balloon_and_are_journaled(sampled):
    manager, tree, host, clock = sampled
    manager.signal(UUID, Signal.INCOMING)
    manager.signal(UUID, Signal.POSTCOPY)
    assert manager.due() == []                  # first round a bit later
    clock.now += 1
    assert manager.due() == [UUID]
    manager.sample(UUID)                        # marks the pages idle
    tree.touch(0, PAGES // 8)                   # 64 MiB in use
    clock.now += 1
    figures = manager.sample(UUID)
    assert figures.hot_bytes == 64 << 20
    assert figures.sources == ("idle_page",)
    observed = [r for r in manager.journal.load()
                if r.kind is J.Kind.OBSERVE]
    assert observed[-1].after["hot_bytes"] == 64 << 20
    assert observed[-1].after["phase"] == "postcopy"
    # no second monitor: the balloon waits for completion, sized from
    # the sampled hot set (64 MiB + 32 MiB headroom)
    queued = manager.journal.sessions()[UUID].queued
    assert queued[J.Action.BALLOON] == 96 * MIB
    manager.signal(UUID, Signal.COMPLETED)
    balloons = [c[1] for c in host.libvirt_calls if c[0] == "balloon"]
    assert balloons[-1] == 96 * MIB
    status = manager.status(UUID)
    assert status["phase"] == "steady" and status["rounds"] == 2
    assert status["backends"]["active"] == ["idle_page"]
    manager.release(UUID)
    assert manager.status(UUID)["closed"] == "steady state reached"
    assert manager.due() == []


def test_a_guest_not_yet_sampled_in_its_phase_is_sampled_first(sampled):
    manager, tree, host, clock = sampled
    other = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a02"
    for uuid in (UUID, other):
        manager.signal(uuid, Signal.INCOMING)
    clock.now += 1
    for uuid in manager.due():                  # both seen in pre-copy
        manager.sample(uuid)
    clock.now += 0.5
    manager.signal(other, Signal.POSTCOPY)      # other's post-copy begins
    clock.now += 5
    # both due, UUID's round the longer overdue; other's post-copy not
    # seen yet goes first (it may last seconds only)
    assert manager.due() == [other, UUID]
    manager.sample(other)
    assert manager.due() == [UUID]
    assert [r.after["phase"] for r in manager.journal.load()
            if r.kind is J.Kind.OBSERVE and r.vm == other] == [
        "incoming", "postcopy"]


def test_the_balloon_moves_no_more_often_than_the_rebalance_interval(
        sampled):
    manager, tree, host, clock = sampled
    manager.signal(UUID, Signal.INCOMING)
    manager.signal(UUID, Signal.POSTCOPY)
    manager.signal(UUID, Signal.COMPLETED)
    manager.sample(UUID)                        # marks the pages idle
    rounds_that_ballooned = []
    for step in range(7):                       # the in-use share shrinks
        clock.now += 1
        tree.touch(0, PAGES // (2 + step))
        before = len(host.libvirt_calls)
        manager.sample(UUID)
        if any(c[0] == "balloon" for c in host.libvirt_calls[before:]):
            rounds_that_ballooned.append(step)
    # a decision (in bounded steps) at most once per 5 s of the clock
    assert len(rounds_that_ballooned) == 2
    assert rounds_that_ballooned[1] - rounds_that_ballooned[0] >= 5


def test_context_fills_the_vm_type_but_never_overrides_the_hint(sampled):
    manager, tree, host, clock = sampled
    by_type = {"db": Thresholds(0.3, 0.02, 60.0),
               "web": Thresholds(0.7, 0.1, 20.0)}
    manager.thresholds_for = lambda hint: by_type.get(
        hint.vm_type if hint else None, Thresholds())
    manager.context(UUID, vm_type="db")        # Nova's notification
    manager.signal(UUID, Signal.INCOMING)
    assert manager.sessions[UUID].thresholds.hot_access_rate == 0.3
    opened = manager.journal.load()[0]
    assert opened.detail == ("incoming migration (thresholds 0.3/0.02/60, "
                             "vm_type db)")
    other = "0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a09"
    # the predictor's hint
    manager.prepare(MigrationHint(other, vm_type="web"))
    manager.context(other, vm_type="db")
    assert manager.hints[other].vm_type == "web"

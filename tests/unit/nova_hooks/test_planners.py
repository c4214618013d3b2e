"""Balloon and pinning planners, table-driven."""
import pytest

from nova_hooks.core import balloon
from nova_hooks.core import pinning
from nova_hooks.core import types
from tests.unit.nova_hooks import builders

MiB = builders.MiB
KiB_PER_MiB = 1024
P = types.BalloonPolicy(floor_kib=128 * 1024, headroom_kib=32 * 1024,
                        headroom_ratio=0.1, max_step_kib=64 * 1024,
                        min_change_kib=8 * 1024)


@pytest.mark.parametrize("current,hot,warm,need,policy,steps", [
    # shrink 512 -> 200+20+... : keep=200 MiB, headroom=max(32, 20)=32
    (512, 100, 100, 150, P, (448, 384, 320, 256, 232)),
    # the guest's need (+headroom) beats hot+warm
    (512, 50, 50, 300, P, (448, 384, 332)),
    # the floor beats both
    (512, 10, 10, 20, P, (448, 384, 320, 256, 192, 128)),
    # grow in one step
    (256, 300, 100, 100, P, (440,)),
    # never above the maximum (512)
    (256, 500, 100, 100, P, (512,)),
    # small change is not worth it
    (236, 100, 100, 150, P, ()),
    # unknown need: no shrink
    (512, 100, 100, None, P, ()),
    # unknown need allowed by policy
    (512, 300, 100, None, types.BalloonPolicy(
        floor_kib=0, headroom_kib=0, headroom_ratio=0, max_step_kib=1 << 30,
        min_change_kib=0, require_guest_need=False), (400,)),
])
def test_plan_balloon_table(current, hot, warm, need, policy, steps):
    f = builders.figures(hot=hot * MiB, warm=warm * MiB, cold=0)
    plan = balloon.plan_balloon(
        current * 1024, 512 * 1024, f, policy,
        None if need is None else need * 1024)
    assert plan.steps_kib == tuple(s * 1024 for s in steps), plan.reason
    assert plan.changes == bool(steps)
    if steps:
        assert plan.target_kib == steps[-1] * 1024
        assert all(b - a <= policy.max_step_kib for a, b in
                   zip(plan.steps_kib[1:], plan.steps_kib, strict=False))


def test_plan_balloon_uses_need_from_figures():
    f = builders.figures(hot=10 * MiB, warm=10 * MiB, need_kib=400 * 1024)
    plan = balloon.plan_balloon(512 * 1024, 512 * 1024, f, P)
    assert plan.target_kib == 432 * 1024


@pytest.mark.parametrize("kwargs", [
    {"floor_kib": -1}, {"max_step_kib": 0}, {"headroom_ratio": -0.1}])
def test_balloon_policy_validates(kwargs):
    with pytest.raises(ValueError):
        types.BalloonPolicy(**kwargs)


def test_plan_balloon_rejects_nonsense_sizes():
    with pytest.raises(ValueError):
        balloon.plan_balloon(0, 10, builders.figures(), P)


TOPO = builders.topology({0, 1, 2, 3}, {4, 5, 6, 7})


@pytest.mark.parametrize("by_node,policy,preferred,node,cpus,emu", [
    (((0, 10), (1, 90)), types.PinningPolicy(), None, 1, {4, 5, 6, 7},
     {4, 5, 6, 7}),
    (((0, 50), (1, 50)), types.PinningPolicy(), None, None,
     set(range(8)), set(range(8))),
    ((), types.PinningPolicy(), 0, 0, {0, 1, 2, 3}, {0, 1, 2, 3}),
    ((), types.PinningPolicy(), None, None, set(range(8)), set(range(8))),
    # the guest CPU set narrows the node's CPUs
    (((1, 100),), types.PinningPolicy(guest_cpus=frozenset({1, 5, 6})),
     None, 1, {5, 6}, {5, 6}),
    # separate emulator CPUs
    (((0, 100),), types.PinningPolicy(emulator_cpus=frozenset({7})),
     None, 0, {0, 1, 2, 3}, {7}),
    # hot node without allowed CPU: spread over the allowed ones
    (((0, 100),), types.PinningPolicy(guest_cpus=frozenset({5, 6})),
     None, None, {5, 6}, {5, 6}),
    # unknown node id
    (((9, 100),), types.PinningPolicy(), None, None, set(range(8)),
     set(range(8))),
])
def test_plan_pinning_table(by_node, policy, preferred, node, cpus, emu):
    plan = pinning.plan_pinning(TOPO, 2, by_node, policy, preferred)
    assert plan.node == node, plan.reason
    assert plan.vcpu_cpus == (frozenset(cpus),) * 2
    assert plan.emulator_cpus == frozenset(emu)


def test_hot_node_ties_go_to_the_lower_id_below_share():
    assert pinning.hot_node(((1, 5), (0, 5)), 0.5) == 0
    assert pinning.hot_node(((0, 0),), 0.5) is None


def test_plan_pinning_rejects_zero_vcpus():
    with pytest.raises(ValueError):
        pinning.plan_pinning(TOPO, 0, (), types.PinningPolicy())

"""Cold-page reclaim's decisions (nova_hooks.core.reclaim): the bounds
hold for any classification, host state and history."""
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import reclaim as R

MIB = 1 << 20
PAGE = 4096
GUEST = 64 * MIB


def view(hot=(), warm=(), cold=None, resident=GUEST, free=50.0, now=10.0,
         present=None):
    return R.ReclaimView(guest_bytes=GUEST, resident_bytes=resident,
                         hot=tuple(hot), warm=tuple(warm),
                         cold=None if cold is None else tuple(cold),
                         free_pct=free, now=now, present=present)


def overlaps(a, b):
    return bool(R.intersect(a, b))


def test_range_algebra():
    assert R.merge([(10, 5), (0, 10), (30, 0)]) == ((0, 15),)
    assert R.subtract([(0, 100)], [(10, 10), (50, 60)]) == ((0, 10),
                                                            (20, 30))
    assert R.intersect([(0, 100)], [(90, 20)]) == ((90, 10),)
    assert R.page_align([(1, 2 * PAGE)]) == ((PAGE, PAGE),)
    assert R.page_cover([(1, 2)]) == ((0, PAGE),)


def test_pages_out_cold_outside_the_hot_set_up_to_the_quota():
    pol = R.ReclaimPolicy(quota_bytes_per_s=8 * MIB, headroom_bytes=0)
    p = R.plan(view(hot=[(0, 4 * MIB)]), R.ReclaimState(), pol)
    assert p.bytes == 8 * MIB
    assert not overlaps(p.ranges, [(0, 4 * MIB)])
    assert p.reason == "bounded by quota"
    # the same second again: the quota is spent
    again = R.plan(view(hot=[(0, 4 * MIB)], now=10.5), p.state, pol)
    assert again.ranges == () and "quota" in again.reason
    # the next second: more, and never the same pages twice
    nxt = R.plan(view(hot=[(0, 4 * MIB)], now=11.0), p.state, pol)
    assert nxt.bytes == 8 * MIB and not overlaps(nxt.ranges, p.ranges)


def test_a_page_with_one_hot_byte_is_never_paged_out():
    p = R.plan(view(hot=[(PAGE + 100, 1)]), R.ReclaimState(),
               R.ReclaimPolicy(quota_bytes_per_s=GUEST, headroom_bytes=0))
    assert not overlaps(p.ranges, [(PAGE, PAGE)])
    assert R.total(p.ranges) == GUEST - PAGE


def test_floor_watermarks_and_explicit_cold_set():
    pol = R.ReclaimPolicy(quota_bytes_per_s=GUEST, headroom_bytes=8 * MIB,
                          free_high_pct=60, free_low_pct=5)
    hot = [(0, 8 * MIB)]
    p = R.plan(view(hot=hot, resident=20 * MIB), R.ReclaimState(), pol)
    assert p.bytes == 4 * MIB and p.floor_bytes == 16 * MIB
    assert R.plan(view(hot=hot, resident=16 * MIB), R.ReclaimState(),
                  pol).ranges == ()
    assert "high watermark" in R.plan(view(free=70), R.ReclaimState(),
                                      pol).reason
    assert "low watermark" in R.plan(view(free=2), R.ReclaimState(),
                                     pol).reason
    only = [(32 * MIB, MIB)]
    p = R.plan(view(hot=hot, cold=only), R.ReclaimState(), pol)
    assert p.ranges == ((32 * MIB, MIB),)
    # the classifier's sizes raise the floor above the located ranges
    p = R.plan(view(hot=hot, resident=30 * MIB), R.ReclaimState(), pol,
               hot_bytes=20 * MIB)
    assert p.bytes == 2 * MIB


def test_only_present_pages_are_asked_for_and_undo_gives_them_back():
    pol = R.ReclaimPolicy(quota_bytes_per_s=GUEST, headroom_bytes=0)
    p = R.plan(view(present=((MIB, 2 * MIB),)), R.ReclaimState(), pol)
    assert p.ranges == ((MIB, 2 * MIB),)
    assert R.undo(p.state) == ((MIB, 2 * MIB),)
    back = R.faulted_back(p.state, [(MIB, MIB)])
    assert back.paged == ((2 * MIB, MIB),)


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        R.ReclaimPolicy(free_low_pct=50, free_high_pct=10)
    with pytest.raises(ValueError):
        R.ReclaimPolicy(quota_bytes_per_s=-1)


small = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40)),
                max_size=12)


def _bytes(rs):
    return {b for s, n in rs for b in range(s, s + n)}


@settings(max_examples=300, deadline=None)
@given(a=small, b=small)
def test_range_algebra_is_set_algebra_on_bytes(a, b):
    # the sweeps against the plain meaning: sets of bytes
    for got, want in ((R.merge(a), _bytes(a)),
                      (R.intersect(a, b), _bytes(a) & _bytes(b)),
                      (R.subtract(a, b), _bytes(a) - _bytes(b))):
        assert _bytes(got) == want
        # sorted, disjoint, non-adjacent, none empty: merged form
        assert got == R.merge(got)
        assert all(n > 0 for _, n in got)


pages = st.integers(0, GUEST // PAGE - 1)
ranges = st.lists(st.tuples(st.integers(0, GUEST - 1),
                            st.integers(1, 4 * MIB)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(hot=ranges, warm=ranges, cold=st.one_of(st.none(), ranges),
       resident=st.integers(0, GUEST), quota=st.integers(0, 16 * MIB),
       headroom=st.integers(0, 8 * MIB),
       steps=st.lists(st.floats(0, 2.5), min_size=1, max_size=8))
def test_bounds_hold_over_any_history(hot, warm, cold, resident, quota,
                                      headroom, steps):
    pol = R.ReclaimPolicy(quota_bytes_per_s=quota, headroom_bytes=headroom)
    state, now, res = R.ReclaimState(), 5.0, resident
    per_window: dict[float, int] = {}
    for dt in steps:
        now += dt
        p = R.plan(view(hot, warm, cold, resident=res, now=now), state, pol)
        prot = R.page_cover(list(hot) + list(warm))
        assert not overlaps(p.ranges, prot)            # never hot or warm
        assert not overlaps(p.ranges, state.paged)     # never twice
        if cold is not None:
            assert R.subtract(p.ranges, cold) == ()    # only cold
        assert all(s % PAGE == 0 and n % PAGE == 0 for s, n in p.ranges)
        if p.ranges:
            assert res - p.bytes >= p.floor_bytes      # the floor
        w = p.state.window_start
        per_window[w] = per_window.get(w, 0) + p.bytes
        assert per_window[w] <= quota                  # the quota
        res -= p.bytes
        state = p.state

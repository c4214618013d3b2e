"""Pre-paging's decisions (nova_hooks.core.prepage): paced, in ranking
order, never twice, and it stops when the ranking misses."""
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import prepage as P
from nova_hooks.core import reclaim as R

PAGE = 4096
MIB = 1 << 20


def test_paced_in_ranking_order_and_never_twice():
    pol = P.PrepagePolicy(pages_per_s=256)            # 1 MiB/s
    ranking = [(8 * MIB, 2 * MIB), (0, 2 * MIB)]
    p = P.plan(ranking, None, [], 10.0, P.PrepageState(), pol)
    assert p.ranges == ((8 * MIB, MIB),)
    q = P.plan(ranking, None, [], 11.0, p.state, pol)
    assert q.ranges == ((9 * MIB, MIB),)
    r = P.plan(ranking, [(0, MIB)], [], 12.0, q.state, pol)
    assert r.ranges == ((MIB, MIB),)                  # present skipped
    s = P.plan(ranking, [(0, MIB)], [], 13.0, r.state, pol)
    assert s.ranges == () and s.reason == "ranking exhausted"
    assert not s.state.stopped          # it waits for the ranking to grow


def test_stops_when_the_guest_faults_outside_the_ranking():
    pol = P.PrepagePolicy(pages_per_s=1, min_faults=10, max_miss_share=0.5)
    ranking = [(0, 64 * MIB)]
    st_ = P.PrepageState()
    p = P.plan(ranking, None, [PAGE * i for i in range(8)], 1.0, st_, pol)
    assert not p.state.stopped                        # hits
    outside = [100 * MIB + PAGE * i for i in range(20)]
    q = P.plan(ranking, None, outside, 2.0, p.state, pol)
    assert q.ranges == () and q.state.stopped.startswith("ranking misses")
    # stopped stays stopped
    assert P.plan(ranking, None, [], 3.0, q.state, pol).ranges == ()


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        P.PrepagePolicy(max_miss_share=2)
    with pytest.raises(ValueError):
        P.PrepagePolicy(in_flight=0)


@settings(max_examples=150, deadline=None)
@given(ranking=st.lists(st.tuples(st.integers(0, 63 * MIB),
                                  st.integers(1, 2 * MIB)), max_size=5),
       rate=st.integers(1, 1024),
       steps=st.lists(st.floats(0, 3), min_size=1, max_size=6))
def test_pace_and_scope_hold(ranking, rate, steps):
    pol = P.PrepagePolicy(pages_per_s=rate)
    state, now = P.PrepageState(), 0.0
    cover = R.page_cover(ranking)
    for dt in steps:
        now += dt
        p = P.plan(ranking, None, [], now, state, pol)
        assert R.subtract(p.ranges, cover) == ()      # only ranked pages
        assert not R.intersect(p.ranges, state.requested)   # never twice
        assert p.bytes <= rate * PAGE * 2             # pace (<= 2 s worth)
        state = p.state


def test_its_own_requests_do_not_count_as_the_guests_faults():
    pol = P.PrepagePolicy(pages_per_s=256, min_faults=4)
    ranking = [(0, MIB)]
    p = P.plan(ranking, None, [], 1.0, P.PrepageState(), pol)
    assert p.ranges == ((0, MIB),)
    # faults inside what it requested are its own: no judgement yet
    q = P.plan([(2 * MIB, MIB)], None, [PAGE * i for i in range(10)], 2.0,
               p.state, pol)
    assert q.state.hits[-1] == 0 and q.state.misses[-1] == 0


def test_an_empty_ranking_waits_rather_than_stops():
    p = P.plan([], None, [], 1.0, P.PrepageState(), P.PrepagePolicy())
    assert p.ranges == () and not p.state.stopped

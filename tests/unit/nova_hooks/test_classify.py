"""Classification of regions and page samples, and combining sources."""
import numpy as np
import pytest

from nova_hooks.core import classify
from nova_hooks.core import types
from nova_hooks.core.types import PageClass
from tests.unit.nova_hooks import builders

T = types.Thresholds(hot_access_rate=0.5, warm_access_rate=0.1,
                     cold_min_idle_s=30, write_weight=2.0)


@pytest.mark.parametrize("access,write,idle,expected", [
    (0.9, 0.0, 0, PageClass.HOT),
    (0.5, 0.0, 0, PageClass.HOT),          # at the threshold
    (0.2, 0.2, 0, PageClass.HOT),          # writes weigh double
    (0.3, 0.0, 100, PageClass.WARM),
    (0.1, 0.0, 100, PageClass.WARM),
    (0.0, 0.0, 29, PageClass.WARM),        # idle, but not for long
    (0.0, 0.0, 30, PageClass.COLD),
    (0.05, 0.0, 300, PageClass.COLD),
])
def test_classify_region_table(access, write, idle, expected):
    region = types.Region(0, 4096, access, write, idle)
    assert classify.classify_region(region, T) is expected


def test_classify_regions_sizes_nodes_and_rates():
    regions = [types.Region(0, 8 * 4096, 1.0, 0.5, 0, node=1),
               types.Region(8 * 4096, 4 * 4096, 0.6, 0.0, 0, node=0),
               types.Region(12 * 4096, 4 * 4096, 0.2, 0.0, 60),
               types.Region(16 * 4096, 16 * 4096, 0.0, 0.0, 600)]
    c = classify.classify_regions(regions, T, interval_s=0.5)
    assert (c.hot_bytes, c.warm_bytes, c.cold_bytes) == \
        (12 * 4096, 4 * 4096, 16 * 4096)
    assert c.hot_bytes_by_node == ((0, 4 * 4096), (1, 8 * 4096))
    assert c.read_rate == pytest.approx((8 + 0.6 * 4 + 0.2 * 4) / 0.5)
    assert c.write_rate == pytest.approx(4 / 0.5)


@pytest.mark.parametrize("acc,wr,idle,expected", [
    (5, 0, 0, PageClass.HOT),     # 5 of 10 intervals = 0.5
    (4, 0, 0, PageClass.WARM),
    (2, 2, 0, PageClass.HOT),     # 2 + 2 x 2 = 6
    (1, 0, 500, PageClass.WARM),  # 0.1
    (0, 0, 10, PageClass.WARM),   # recently used
    (0, 0, 30, PageClass.COLD),
])
def test_page_classes_table(acc, wr, idle, expected):
    s = builders.samples([acc], [wr], [idle], intervals=10)
    assert classify.page_classes(s, T)[0] == expected
    counted = classify.classify_pages(s, T)
    sizes = {PageClass.HOT: counted.hot_bytes,
             PageClass.WARM: counted.warm_bytes,
             PageClass.COLD: counted.cold_bytes}
    assert sizes[expected] == 4096 and counted.total_bytes == 4096


def test_zero_thresholds_never_make_untouched_pages_hot():
    t = types.Thresholds(hot_access_rate=0.0, warm_access_rate=0.0,
                         cold_min_idle_s=0)
    c = classify.classify_pages(builders.samples([0, 1], idle=[5, 5]), t)
    assert (c.hot_bytes, c.cold_bytes) == (4096, 4096)


@pytest.mark.parametrize("n", [1, 1000, classify.CHUNK_PAGES + 17])
def test_vectorised_path_matches_the_reference(n):
    s = builders.random_samples(n, seed=n)
    ref = classify.page_classes(s, T)
    c = classify.classify_pages(s, T)
    assert c.hot_bytes == int(np.sum(ref == PageClass.HOT)) * 4096
    assert c.warm_bytes == int(np.sum(ref == PageClass.WARM)) * 4096
    assert c.cold_bytes == int(np.sum(ref == PageClass.COLD)) * 4096
    want = {k: int(np.sum((ref == PageClass.HOT) & (s.node == k))) * 4096
            for k in (0, 1)}
    assert dict(c.hot_bytes_by_node) == {k: v for k, v in want.items() if v}
    assert c.read_rate == pytest.approx(s.accesses.sum() / 10.0)


def test_page_samples_reject_bad_shapes():
    with pytest.raises(ValueError):
        types.PageSamples(np.zeros(2, np.uint8), np.zeros(3, np.uint8),
                          np.zeros(2, np.uint16), 10)
    with pytest.raises(ValueError):
        types.PageSamples(np.zeros(2, np.uint16), np.zeros(2, np.uint8),
                          np.zeros(2, np.uint16), 10)
    with pytest.raises(ValueError):
        builders.samples([1], intervals=0)


@pytest.mark.parametrize("kwargs", [
    {"hot_access_rate": 0.1, "warm_access_rate": 0.2},
    {"hot_access_rate": 1.5},
    {"cold_min_idle_s": -1},
    {"write_weight": float("nan")},
    {"write_weight": 16},
])
def test_thresholds_validate(kwargs):
    with pytest.raises(ValueError):
        types.Thresholds(**kwargs)


def test_thresholds_replace_refuses_unknown_names():
    assert T.replace({"hot_access_rate": 0.7}).hot_access_rate == 0.7
    with pytest.raises(ValueError, match="unknown"):
        T.replace({"hotness": 1})


def test_resolve_thresholds_precedence():
    by_type = {"db": types.Thresholds(hot_access_rate=0.3)}
    by_profile = {"2": types.Thresholds(hot_access_rate=0.2)}
    cases = [
        (None, None, (), T.hot_access_rate),
        ("db", None, (), 0.3),
        ("web", None, (), T.hot_access_rate),
        ("db", "2", (), 0.2),
        ("db", "2", (("hot_access_rate", 0.9),), 0.9),
    ]
    for vm_type, profile, over, want in cases:
        got = classify.resolve_thresholds(T, by_type, by_profile, vm_type,
                                          profile, over)
        assert got.hot_access_rate == want, (vm_type, profile, over)


MiB = builders.MiB


def test_combine_pages_first_then_regions_and_coverage():
    pages = types.Observation("idle_page", pages=builders.samples(
        [10] * 256, node=[1] * 256), covers_all=True)
    regions = types.Observation("damon", regions=(
        types.Region(0, 4 * MiB, 1.0),))
    f = classify.combine([regions, pages], T, guest_bytes=8 * MiB)
    assert f.hot_bytes == MiB and f.cold_bytes == 7 * MiB
    assert f.hot_bytes_by_node == ((1, MiB),)
    assert f.sources == ("damon", "idle_page")


def test_combine_partial_coverage_splits_rest_by_guest_free_memory():
    trace = types.Observation("postcopy_trace", regions=(
        types.Region(0, 16 * MiB, 1.0),), faults=50, placed=1000)
    balloon = types.Observation("balloon", balloon=types.BalloonStats(
        actual_kib=512 * 1024, available_kib=480 * 1024,
        unused_kib=200 * 1024, usable_kib=300 * 1024))
    numa = types.Observation("numa_maps", node_bytes=((0, 100), (1, 300)))
    f = classify.combine([trace, balloon, numa], T, guest_bytes=512 * MiB)
    # cold: guest free (200) + held outside the guest's MemTotal (32)
    assert f.cold_bytes == 232 * MiB
    assert f.hot_bytes == 16 * MiB
    assert f.warm_bytes == (512 - 232 - 16) * MiB
    assert f.miss_ratio == pytest.approx(0.05)
    assert f.guest_need_kib == 180 * 1024
    assert f.hot_bytes_by_node == ((0, 4 * MiB), (1, 12 * MiB))


def test_combine_without_samples_uses_dirty_rate_and_balloon():
    obs = [types.Observation("dirty_rate", dirty_rate_bps=2 * MiB),
           types.Observation("balloon", balloon=types.BalloonStats(
               actual_kib=1024 * 1024, available_kib=1024 * 1024,
               unused_kib=700 * 1024, usable_kib=800 * 1024))]
    f = classify.combine(obs, T, guest_bytes=1024 * MiB)
    assert f.hot_bytes == 20 * MiB          # 2 MiB/s x 10 s window
    assert f.warm_bytes == 304 * MiB
    assert f.cold_bytes == 700 * MiB
    assert f.dirty_rate_bps == 2 * MiB and f.read_rate is None


def test_combine_with_nothing_keeps_everything_warm():
    f = classify.combine([], T, guest_bytes=64 * MiB)
    assert (f.hot_bytes, f.warm_bytes, f.cold_bytes) == (0, 64 * MiB, 0)
    assert f.miss_ratio is None


def test_combine_never_reports_more_than_the_guest_has():
    obs = types.Observation("damon", regions=(
        types.Region(0, 128 * MiB, 1.0),), covers_all=True)
    f = classify.combine([obs], T, guest_bytes=64 * MiB)
    assert f.hot_bytes + f.warm_bytes + f.cold_bytes <= 128 * MiB
    assert f.cold_bytes == 0

"""idle_page, soft_dirty and damon against fixture procfs/sysfs trees
that behave as the kernel documents (the kernels of this machine kind
have neither idle page tracking, soft-dirty nor DAMON's vaddr
operations; the probe tests at the end check what they say here)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nova_hooks.agent.backends.damon import DamonBackend
from nova_hooks.agent.backends.idle_page import IdlePageBackend
from nova_hooks.agent.backends.soft_dirty import SoftDirtyBackend
from nova_hooks.agent.host import Guest
from nova_hooks.core import classify
from nova_hooks.core.types import Thresholds
from tests.unit.nova_hooks.agent.conftest import PageTree

UUID = "6f1b7a3e-0d8e-4e55-9a53-2f4c6c7f1b10"
PAGES = 16384            # a 64 MiB guest
GUEST = Guest(UUID, "guest", 1, PAGES * 4, PAGES * 4)


class FixtureHost:
    def __init__(self, tree: PageTree, run_dir: Path) -> None:
        self.proc_root, self.sys_root = str(tree.proc), str(tree.sys)
        self.run_dir = str(run_dir)
        (run_dir / "guest.pid").write_text(str(tree.pid))


@pytest.fixture
def tree(tmp_path):
    return PageTree(tmp_path, 4242, PAGES)


@pytest.fixture
def host(tree, tmp_path):
    return FixtureHost(tree, tmp_path)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_idle_page_marks_then_reads_what_the_guest_touched(tree, host):
    clock = Clock()
    backend = IdlePageBackend(host, clock=clock)
    backend.max_ranges, backend.pages_per_range = 64, 16
    assert backend.probe(GUEST) is None
    first = backend.sample(GUEST)
    assert first.regions == ()                 # nothing was marked before
    marked = tree.idle_bits()
    # one run of 16 pages at the start of each of the 64 slices
    assert marked.sum() == 64 * 16
    assert marked[0] and marked[256] and not marked[16]
    tree.touch(0, PAGES // 4)                  # the first quarter is used
    clock.now += 1
    obs = backend.sample(GUEST)
    assert obs.covers_all and len(obs.regions) == 64
    used = [r for r in obs.regions if r.access_rate > 0]
    assert [r.start for r in used] == [i * 256 * 4096 for i in range(16)]
    figures = classify.combine([obs], Thresholds(cold_min_idle_s=0.5),
                               PAGES * 4096)
    assert figures.hot_bytes == PAGES * 4096 // 4
    assert figures.cold_bytes == PAGES * 4096 * 3 // 4
    # read again at once: everything was marked idle again
    assert tree.idle_bits().sum() == 64 * 16


def test_idle_page_says_why_without_the_bitmap(tree, host):
    tree.bitmap.unlink()
    reason = IdlePageBackend(host).probe(GUEST)
    assert "CONFIG_IDLE_PAGE_TRACKING" in reason


def test_soft_dirty_reads_written_pages_and_clears_the_bits(tmp_path):
    tree = PageTree(tmp_path, 4243, PAGES,
                    soft_dirty_pages=range(PAGES // 2, PAGES // 2 + 1024))
    host = FixtureHost(tree, tmp_path)
    clock = Clock()
    backend = SoftDirtyBackend(host, clock=clock, kernel_check=lambda: None)
    backend.max_ranges, backend.pages_per_range = 64, 16
    assert backend.probe(GUEST) is None
    backend.sample(GUEST)
    assert (tree.proc / "4243" / "clear_refs").read_text() == "4"
    clock.now += 1
    obs = backend.sample(GUEST)
    written = [r.start // (256 * 4096) for r in obs.regions
               if r.write_rate > 0]
    assert written == [32, 33, 34, 35]         # pages 8192..9215
    assert not obs.covers_all                  # reads are not seen


def test_soft_dirty_refuses_a_kernel_that_does_not_track(tree, host):
    backend = SoftDirtyBackend(host, kernel_check=lambda: "no bits")
    assert backend.probe(GUEST) == "no bits"


def damon_tree(root: Path, kdamonds: int = 0, state: str = "off") -> Path:
    admin = root / "kernel" / "mm" / "damon" / "admin" / "kdamonds"
    ctx = admin / "0" / "contexts" / "0"
    for d in ("monitoring_attrs/intervals", "monitoring_attrs/nr_regions",
              "targets/0", "schemes/0/tried_regions"):
        (ctx / d).mkdir(parents=True)
    (admin / "nr_kdamonds").write_text(f"{kdamonds}\n")
    (admin / "0" / "state").write_text(f"{state}\n")
    (admin / "0" / "pid").write_text("-1\n")
    (ctx / "avail_operations").write_text("vaddr fvaddr paddr\n")
    return admin


def test_damon_creates_its_own_kdamond_reads_regions_and_removes_it(
        tmp_path, host):
    admin = damon_tree(tmp_path / "sys")
    host.sys_root = str(tmp_path / "sys")
    owner = tmp_path / "state" / "damon-owner.json"
    backend = DamonBackend(host, owner_path=str(owner))
    assert backend.probe(GUEST) is None
    assert (admin / "nr_kdamonds").read_text().strip() == "1"
    assert owner.exists()
    backend.sample(GUEST)                      # starts the kdamond
    ctx = admin / "0" / "contexts" / "0"
    assert (ctx / "operations").read_text().strip() == "vaddr"
    assert (ctx / "targets" / "0" / "pid_target").read_text().strip() \
        == "4242"
    assert (ctx / "schemes" / "0" / "action").read_text().strip() == "stat"
    assert (admin / "0" / "state").read_text().strip() == "on"
    # what the kernel lists after update_schemes_tried_regions
    tried = ctx / "schemes" / "0" / "tried_regions"
    for i, (start, end, acc, age) in enumerate(
            [(0, 4 << 20, 20, 0), (4 << 20, 64 << 20, 0, 600)]):
        (tried / str(i)).mkdir()
        for name, value in (("start", start), ("end", end),
                            ("nr_accesses", acc), ("age", age)):
            (tried / str(i) / name).write_text(f"{value}\n")
    obs = backend.sample(GUEST)
    assert (admin / "0" / "state").read_text().strip() \
        == "update_schemes_tried_regions"
    assert [(r.size, r.access_rate, r.idle_s) for r in obs.regions] == [
        (4 << 20, 1.0, 0.0), (60 << 20, 0.0, 60.0)]
    (admin / "0" / "state").write_text("on\n")
    backend.release()
    assert (admin / "0" / "state").read_text().strip() == "off"
    assert (admin / "nr_kdamonds").read_text().strip() == "0"
    assert not owner.exists()


def test_damon_never_touches_a_kdamond_it_did_not_create(tmp_path, host):
    admin = damon_tree(tmp_path / "sys", kdamonds=1, state="on")
    host.sys_root = str(tmp_path / "sys")
    before = {p: p.read_text() for p in admin.rglob("*") if p.is_file()}
    backend = DamonBackend(host, owner_path=str(tmp_path / "owner.json"))
    reason = backend.probe(GUEST)
    assert "did not create" in reason and "kdamond 0 on" in reason
    backend.release()
    assert {p: p.read_text() for p in admin.rglob("*")
            if p.is_file()} == before


def test_damon_without_vaddr_operations_undoes_its_setup(tmp_path, host):
    admin = damon_tree(tmp_path / "sys")
    (admin / "0" / "contexts" / "0" / "avail_operations").write_text(
        "paddr\n")
    host.sys_root = str(tmp_path / "sys")
    owner = tmp_path / "owner.json"
    reason = DamonBackend(host, owner_path=str(owner)).probe(GUEST)
    assert "CONFIG_DAMON_VADDR" in reason and "paddr" in reason
    assert (admin / "nr_kdamonds").read_text().strip() == "0"
    assert not owner.exists()


@pytest.mark.skipif(not os.path.isdir("/sys/kernel/mm/damon/admin"),
                    reason="this kernel has no DAMON sysfs interface")
def test_damon_probe_on_this_machine_changes_nothing_it_does_not_own(
        tmp_path, host):
    """This machine's real DAMON: the probe either finds it usable or
    says why, and never changes a kdamond someone else runs."""
    admin = Path("/sys/kernel/mm/damon/admin/kdamonds")
    count = (admin / "nr_kdamonds").read_text()
    host.sys_root = "/sys"
    backend = DamonBackend(host, owner_path=str(tmp_path / "owner.json"))
    reason = backend.probe(GUEST)
    if reason is None:
        backend.release()
        assert (admin / "nr_kdamonds").read_text() == count
    elif int(count):
        assert "did not create" in reason
        assert (admin / "nr_kdamonds").read_text() == count

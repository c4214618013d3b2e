"""The guest agent's /proc readings and features, on fixture trees with
hand-computed answers."""
from __future__ import annotations

import pytest

from tests.unit.profiler import proc_tree
from watcher_adaptive.profiler.guest import agent
from watcher_adaptive.profiler.guest import samplers
from watcher_adaptive.profiler.guest import schema

TCP = (proc_tree.tcp_line("10.0.0.5", 22, "10.0.0.9", 50000, "01")
       + proc_tree.tcp_line("10.0.0.5", 40000, "8.8.8.8", 443, "01")
       + proc_tree.tcp_line(proc_tree.ANY, 80, proc_tree.ANY, 0, "0A"))


@pytest.fixture
def readings(tmp_path):
    a = proc_tree.write(
        tmp_path / "a", cpu=(100, 0, 50, 800, 20, 0, 0, 30), ctxt=1000,
        processes=10, intr=500, rx=(1000, 10), tx=(500, 5),
        disk=(100, 10, 2000, 50, 50, 0, 800, 100, 0, 1000, 0),
        pgfault=1000, pgmajfault=10, refault=0,
        io={"1": (100, 50), "2": (10, 10)}, tcp=TCP)
    b = proc_tree.write(
        tmp_path / "b", cpu=(300, 0, 100, 1300, 70, 0, 0, 30), ctxt=3000,
        processes=30, intr=1500, rx=(11000, 60), tx=(2500, 25),
        disk=(200, 30, 4000, 150, 150, 20, 2800, 300, 0, 6000, 0),
        pgfault=2000, pgmajfault=20, refault=50,
        io={"1": (300, 150), "3": (40, 0)}, tcp=TCP,
        psi="some avg10=1.50 avg60=0.00 avg300=0.00 total=9\n"
            "full avg10=0.25 avg60=0.00 avg300=0.00 total=3\n")
    (b / "4").mkdir()       # a process whose counters we may not read
    return (samplers.read_counters(str(a), now=100.0),
            samplers.read_counters(str(b), now=110.0))


def test_interval_features_match_hand_computed_values(readings):
    f, sources = samplers.interval_features(*readings)
    expected = {
        "cpu.user": 0.25, "cpu.system": 0.0625, "cpu.idle": 0.625,
        "cpu.iowait": 0.0625, "cpu.steal": 0.0, "cpu.count": 2.0,
        "sys.ctxt_ps": 200.0, "sys.fork_ps": 2.0, "sys.intr_ps": 100.0,
        # pid 1: +200/+100, pid 3 new: +40/+0, pid 2 gone
        "sys.read_ps": 24.0, "sys.write_ps": 10.0,
        "sys.coverage": 0.666667,
        "net.rx_bps": 1000.0, "net.tx_bps": 200.0, "net.rx_pps": 5.0,
        "net.tx_pps": 2.0, "net.rx_share": 0.833333,
        "net.tcp_established": 2.0, "net.tcp_listen": 1.0,
        "net.local_wellknown": 1.0, "net.local_registered": 1.0,
        "net.local_ephemeral": 0.0, "net.remote_wellknown": 1.0,
        "net.remote_registered": 0.0, "net.remote_ephemeral": 1.0,
        "net.peers": 2.0, "net.peers_private": 1.0,
        "net.udp_sockets": 1.0,
        # vda only: the partition vda1 and loop0 are not counted again
        "disk.read_iops": 10.0, "disk.write_iops": 10.0,
        "disk.read_bps": 102400.0, "disk.write_bps": 102400.0,
        "disk.write_share": 0.5, "disk.await_ms": 1.5,
        "disk.avg_req_kb": 10.0, "disk.merge_ratio": 0.166667,
        "disk.util": 0.5, "fs.open_files": 512.0,
        "mem.total_mb": 976.5625, "mem.used_ratio": 0.4,
        "mem.working_set_ratio": 0.4, "mem.anon_mb": 292.96875,
        "mem.cache_mb": 195.3125, "mem.minflt_ps": 99.0,
        "mem.majflt_ps": 1.0, "mem.refault_ps": 5.0, "mem.swapin_ps": 0.0,
        "mem.psi_some": 1.5, "mem.psi_full": 0.25,
    }
    assert f == pytest.approx(expected)
    assert sources == {"cpu": "proc", "cpu_mix": "none",
                       "syscalls": "proc-io", "net": "proc",
                       "disk": "proc", "memory": "proc", "psi": "psi"}
    assert set(f) <= set(schema.FEATURES)


def test_no_address_leaves_the_guest(readings):
    f, sources = samplers.interval_features(*readings)
    line = agent.make_record(1, 1e9, 30.0, f, sources)
    for leak in ("10.0.0.9", "8.8.8.8", "0900000A", "08080808"):
        assert leak not in line


def test_counter_reset_gives_zero_not_negative(readings):
    prev, cur = readings
    f, _ = samplers.interval_features(cur, dict(prev, t=120.0))
    assert f["net.rx_bps"] == 0.0 and f["sys.ctxt_ps"] == 0.0
    assert all(v >= 0 for v in f.values())


def test_missing_files_leave_features_out(tmp_path):
    (tmp_path / "stat").write_text("cpu  1 0 1 10 0 0 0 0\ncpu0 1\n")
    a = samplers.read_counters(str(tmp_path), now=0.0)
    (tmp_path / "stat").write_text("cpu  2 0 1 19 0 0 0 0\ncpu0 1\n")
    b = samplers.read_counters(str(tmp_path), now=1.0)
    f, sources = samplers.interval_features(a, b)
    assert f["cpu.user"] == pytest.approx(0.1)
    assert not any(k.startswith(("net.", "disk.", "mem.")) for k in f)
    assert sources["net"] == sources["psi"] == sources["syscalls"] == "none"


def test_readings_out_of_order_are_refused(readings):
    with pytest.raises(ValueError):
        samplers.interval_features(readings[1], readings[0])


def test_instruction_mix_from_perf_counters():
    mix = samplers._instruction_mix(
        {"instructions": 1000, "cycles": 1000, "cache_misses": 0,
         "branch_misses": 0},
        {"instructions": 3000, "cycles": 2000, "cache_misses": 20,
         "branch_misses": 4})
    assert mix == pytest.approx({"cpu.ipc": 2.0, "cpu.cache_miss_pki": 10.0,
                                 "cpu.branch_miss_pki": 2.0})
    assert samplers._instruction_mix({"instructions": 5, "cycles": 5},
                                     {"instructions": 5, "cycles": 5}) \
        is None

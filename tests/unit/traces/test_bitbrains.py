"""Bitbrains Rnd files: cleaning is counted, never silent."""
import gzip

import numpy as np
import pytest

from watcher_adaptive.traces import TraceError
from watcher_adaptive.traces import load_bitbrains

HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\t"
          "CPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned "
          "[KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk "
          "write throughput [KB/s];\tNetwork received throughput [KB/s];\t"
          "Network transmitted throughput [KB/s]\n")
T0 = 1372629600


def _row(t, cores=2, pct=10.0, mem_kb=1048576.0, mem_cap_kb=4194304.0):
    cap = 2000.0 * cores
    return (f"{t};\t{cores};\t{cap};\t{cap * pct / 100};\t{pct};\t"
            f"{mem_cap_kb};\t{mem_kb};\t1.0;\t2.0;\t3.0;\t4.0\n")


def _write(path, rows, gz=False):
    text = HEADER + "".join(rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_resample_clip_duplicates_and_zero_cores(tmp_path):
    rows = [_row(T0, pct=10), _row(T0 + 300, pct=150),
            _row(T0 + 300, pct=150),                    # duplicate
            _row(T0 + 600, cores=0, pct=0),              # capacity unknown
            _row(T0 + 900, pct=30)]
    a = _write(tmp_path / "3.csv.gz", rows, gz=True)
    b = _write(tmp_path / "1.csv", [_row(T0 + 60 * i, pct=5.0)
                                    for i in range(20)])
    trace = load_bitbrains([a, b])
    assert trace.vm_ids == ("1", "3")           # numeric order
    np.testing.assert_allclose(trace.cpu[1, :4], [0.1, 1.0, 0.0, 0.3])
    assert trace.vm_cores[1] == 2 and trace.vm_cpu_mhz[1] == 4000.0
    r = trace.report
    assert r.samples_clipped_above_100 == 1   # counted once de-duplicated
    assert r.max_cpu_percent_seen == 150.0
    assert r.duplicate_timestamps == 1
    assert r.zero_core_rows == 1 and r.files_with_zero_core_rows == 1
    assert r.constant_vms == ("1",)
    assert trace.memory_mb[1, 0] == pytest.approx(1024.0)
    assert set(trace.extra) == {"disk_read_kbs", "disk_write_kbs",
                                "net_rx_kbs", "net_tx_kbs"}
    assert trace.start_epoch_s == T0


def test_short_gaps_carry_long_gaps_are_zero(tmp_path):
    rows = [_row(T0, pct=40), _row(T0 + 300 * 3, pct=40),
            _row(T0 + 300 * 30, pct=40)]
    trace = load_bitbrains([_write(tmp_path / "5.csv", rows)])
    cpu = trace.cpu[0]
    assert cpu[1] == pytest.approx(0.4) and cpu[2] == pytest.approx(0.4)
    assert cpu[3 + 13] == 0.0                 # beyond 12 slots of carry
    assert trace.report.gaps_filled == 2 + 12


def test_zero_memory_capacity_is_unknown_not_zero(tmp_path):
    # a file that writes 0 KB provisioned on every row, and one that does
    # so on most rows: the size is unknown in the first, the median of
    # the rows that give one in the second
    never = _write(tmp_path / "1.csv", [_row(T0 + 300 * i, mem_cap_kb=0.0)
                                        for i in range(4)])
    mostly = _write(tmp_path / "3.csv", [
        _row(T0 + 300 * i, mem_cap_kb=0.0 if i else 2097152.0)
        for i in range(4)])
    trace = load_bitbrains([never, mostly])
    assert np.isnan(trace.vm_memory_mb[0])
    assert trace.vm_memory_mb[1] == pytest.approx(2048.0)
    assert trace.report.vms_without_memory_size == ("1",)
    assert any("memory size" in line for line in trace.report.lines())


def test_not_a_bitbrains_file(tmp_path):
    bad = tmp_path / "7.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(TraceError, match="columns"):
        load_bitbrains([bad])
    with pytest.raises(TraceError, match="no Bitbrains files"):
        load_bitbrains([])


def test_real_files_report_the_known_quirks(shared_traces):
    folder = shared_traces / "bitbrains-rnd" / "2013-7"
    trace = load_bitbrains([folder / f"{n}.csv.gz" for n in (1, 122, 363)])
    r = trace.report
    assert trace.cpu.shape[0] == 3
    assert abs(trace.cpu.shape[1] - 8640) <= 2
    assert r.repeated_block_files == 1        # 122 has repeated blocks
    assert r.files_with_zero_core_rows == 1   # so does 122
    assert r.constant_vms == ("363",)

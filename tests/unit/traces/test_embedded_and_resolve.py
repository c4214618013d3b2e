"""The embedded sample and ``--trace`` resolution."""
import numpy as np
import pytest

from watcher_adaptive.traces import TraceError
from watcher_adaptive.traces import embedded
from watcher_adaptive.traces import is_development
from watcher_adaptive.traces import load_planetlab_day
from watcher_adaptive.traces import resolve_trace


def test_embedded_sample_is_small_and_complete():
    assert embedded.DATA_FILE.stat().st_size <= 5 * 1024 * 1024
    day = embedded.load_embedded("planetlab")
    assert day.cpu.shape == (1052, 288) and day.report.source == "planetlab"
    bb = embedded.load_embedded("bitbrains")
    assert bb.n_vms == 40 and all(int(v) % 2 == 1 for v in bb.vm_ids)
    assert bb.memory_mb is not None and bb.vm_cpu_mhz is not None
    with pytest.raises(TraceError, match="unknown embedded"):
        embedded.load_embedded("azure")


def test_head_cuts_every_series_and_keeps_the_rest():
    bb = embedded.load_embedded("bitbrains")
    first = bb.head(100)
    assert first.cpu.shape == first.memory_mb.shape == (40, 100)
    assert set(first.extra) == set(bb.extra) and bb.extra
    for key, values in first.extra.items():
        np.testing.assert_array_equal(values, bb.extra[key][:, :100])
    np.testing.assert_array_equal(first.memory_mb, bb.memory_mb[:, :100])
    assert (first.vm_ids, first.start_epoch_s) == (bb.vm_ids,
                                                   bb.start_epoch_s)
    assert bb.head(10 ** 6).n_samples == bb.n_samples


def test_embedded_day_equals_the_shared_directory(shared_traces):
    day = load_planetlab_day(shared_traces / "planetlab" / "20110303")
    emb = embedded.load_embedded("planetlab")
    assert emb.vm_ids == day.vm_ids
    np.testing.assert_array_equal(emb.cpu, day.cpu)


def test_names_resolve_without_a_root(monkeypatch):
    monkeypatch.delenv("WATCHER_ADAPTIVE_TRACES", raising=False)
    assert resolve_trace("planetlab:20110303").n_vms == 1052
    assert resolve_trace("embedded:bitbrains").n_vms == 40
    assert resolve_trace("bitbrains:embedded").n_vms == 40
    with pytest.raises(TraceError, match="--traces-root"):
        resolve_trace("planetlab:20110306")
    with pytest.raises(TraceError, match="--traces-root"):
        resolve_trace("bitbrains:*.csv.gz")


def test_paths_and_errors(tmp_path):
    (tmp_path / "vm").write_text("5\n6\n")
    assert resolve_trace(str(tmp_path)).n_vms == 1
    with pytest.raises(TraceError, match="neither a trace name"):
        resolve_trace(str(tmp_path / "missing"))
    other = tmp_path / "x.txt"
    other.write_text("1")
    with pytest.raises(TraceError, match="wide .csv"):
        resolve_trace(str(other))


def test_root_from_environment(monkeypatch, shared_traces):
    monkeypatch.setenv("WATCHER_ADAPTIVE_TRACES", str(shared_traces))
    assert resolve_trace("planetlab:20110306").name == "planetlab:20110306"
    trace = resolve_trace("bitbrains:[13].csv.gz")
    assert trace.vm_ids == ("1", "3")
    with pytest.raises(TraceError, match="no file matches"):
        resolve_trace("bitbrains:none*.csv")


def test_development_split():
    assert is_development("planetlab:20110303")
    assert not is_development("planetlab:20110403")
    assert is_development("bitbrains:7.csv.gz")
    assert not is_development("bitbrains:8.csv.gz")

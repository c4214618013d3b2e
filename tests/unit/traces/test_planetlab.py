"""PlanetLab day directories."""
import numpy as np
import pytest

from watcher_adaptive.traces import TraceError
from watcher_adaptive.traces import load_planetlab_day


def _write(folder, name, values):
    (folder / name).write_text("".join(f"{v}\n" for v in values))


def test_sorted_names_exact_percent_and_spaces(tmp_path):
    _write(tmp_path, "b vm", [10, 20, 30])
    _write(tmp_path, "a", [0, 99, 50])
    trace = load_planetlab_day(tmp_path)
    assert trace.vm_ids == ("a", "b vm")
    np.testing.assert_allclose(trace.cpu, [[0, .99, .5], [.1, .2, .3]],
                               rtol=1e-6)
    assert trace.interval_s == 300.0
    assert trace.report.source == "planetlab"
    assert trace.name == f"planetlab:{tmp_path.name}"


@pytest.mark.parametrize("content, message", [
    ("10\nabc\n", "line 2 is not an integer"),
    ("10\n120\n", "outside 0-100"),
    ("", "no samples"),
])
def test_garbled_file_names_the_file_and_line(tmp_path, content, message):
    (tmp_path / "vm1").write_text(content)
    with pytest.raises(TraceError, match=message) as err:
        load_planetlab_day(tmp_path)
    assert "vm1" in str(err.value)


def test_missing_empty_and_ragged_directories(tmp_path):
    with pytest.raises(TraceError, match="not found"):
        load_planetlab_day(tmp_path / "nope")
    with pytest.raises(TraceError, match="empty"):
        load_planetlab_day(tmp_path)
    _write(tmp_path, "a", [1, 2, 3])
    _write(tmp_path, "b", [1, 2, 3])
    _write(tmp_path, "c", [1, 2])
    with pytest.raises(TraceError, match="differ in length"):
        load_planetlab_day(tmp_path)


def test_real_day(shared_traces):
    trace = load_planetlab_day(shared_traces / "planetlab" / "20110303")
    assert trace.cpu.shape == (1052, 288)
    assert sum(" " in n for n in trace.vm_ids) > 0
    assert list(trace.vm_ids) == sorted(trace.vm_ids)
    # PlanetLab: mean CPU about 11 %
    assert 0.05 < float(trace.cpu.mean()) < 0.2

"""The HTML/PNG report and results.json."""
import json

import numpy as np

from watcher_adaptive.replay import report
from watcher_adaptive.replay import results
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet


def _run(name, energy, error=None):
    if error:
        return results.StrategyRun(name, name, None, None, 0.1, 300.0,
                                   error=error)
    t = np.arange(1, 5) * 300.0
    tl = results.Timeline(t, np.array([5, 4, 3, 3]), np.array([1, 0, 0, 1]),
                          np.array([2, 1, 0, 0]), np.array([500.0] * 4))
    m = results.Metrics(energy, 3, 0.05, 0.001, 0.00005, energy * 0.00005,
                        2)
    return results.StrategyRun(name, f"{name} desc", m, tl, 1.5, 300.0,
                               audits=4)


def test_report_files_and_content(tmp_path):
    trace = TraceSet("t", 300.0, ("a",), np.zeros((1, 4), np.float32),
                     report=LoadReport(source="test", notes=("a note",)))
    runs = [_run("lr-mmt", 10.0), _run("dvfs", 20.0),
            _run("watcher:x", 0, error="<script>alert(1)</script>")]
    page = report.write_report(tmp_path, trace, runs)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["strategies"]["lr-mmt"]["energy_kwh"] == 10.0
    assert doc["strategies"]["watcher:x"]["energy_kwh"] is None
    assert "<script>" in doc["strategies"]["watcher:x"]["error"]
    for png in ("active_hosts.png", "overloaded_hosts.png",
                "migrations.png", "metrics.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "<td>lr-mmt</td>" in text and "10.00" in text
    assert "<script>alert" not in text
    assert "&lt;script&gt;" in text
    assert "a note" in text

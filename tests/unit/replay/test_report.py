"""The HTML/PNG report and results.json."""
import json

import numpy as np

from watcher_adaptive.replay import plots
from watcher_adaptive.replay import report
from watcher_adaptive.replay import results
from watcher_adaptive.replay import worlds
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet


def _run(name, energy, error=None, slav=0.00005, migrations=3):
    if error:
        return results.StrategyRun(name, name, None, None, 0.1, 300.0,
                                   error=error)
    t = np.arange(1, 5) * 300.0
    # three hosts: one always on, one on half the time, one never
    util = np.array([[200, 100, 0], [150, 0, 0], [255, 30, 0],
                     [90, 0, 0]], dtype=np.uint8)
    tl = results.Timeline(t, np.array([5, 4, 3, 3]), np.array([1, 0, 0, 1]),
                          np.array([2, 1, 0, 0]), np.array([500.0] * 4),
                          energy_kwh=np.linspace(0.0, energy, 4),
                          host_util=util, host_util_time_s=t)
    m = results.Metrics(energy, migrations, 0.05, 0.001, slav,
                        energy * slav, 2)
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
                "migrations.png", "metrics.png", "energy_cumulative.png",
                "host_utilisation.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "<td>lr-mmt</td>" in text and "10.00" in text
    assert "<script>alert" not in text
    assert "&lt;script&gt;" in text
    assert "a note" in text


def _trace():
    return TraceSet("planetlab:x", 300.0, ("a",),
                    np.zeros((1, 4), np.float32),
                    report=LoadReport(source="planetlab"))


def test_verdict_on_top_ours_highlighted_and_footer(tmp_path):
    runs = [_run("dvfs", 20.0, slav=0.0, migrations=0),
            _run("adaptive", 10.0, slav=1e-7, migrations=2),
            _run("lr-mmt", 12.0, slav=1e-5, migrations=40)]
    # only the floor's total: the cumulative plot draws it as a level
    page = report.write_report(tmp_path, _trace(), runs,
                               world=worlds.REALISTIC, version="1.2.3",
                               fluid_bound_kwh=5.0)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc["verdict"]) == {"dvfs", "lr-mmt"}
    assert doc["verdict"]["lr-mmt"]["dominates"] is True
    assert doc["verdict"]["dvfs"]["slav_ratio"] is None
    assert doc["verdict"]["dvfs"]["dominates"] is False
    text = page.read_text()
    # the verdict comes before the metrics table
    assert text.index("id='verdict'") < text.index("<h2>Metrics</h2>")
    assert "than 1 of the 2 other strategies (lr-mmt)." in text
    assert ("Against dvfs it is better on energy (0.5 x); worse on SLA "
            "and migrations.") in text
    assert "<tr class='ours'><td>adaptive</td>" in text
    # SLAV in scientific notation, not 0.00000
    assert "1.000e-05" in text
    assert "5.00 kWh" in text
    assert (tmp_path / "energy_cumulative.png").stat().st_size > 1000
    footer = text[text.index("<footer>"):]
    assert "1.2.3" in footer and "realistic" in footer
    assert "CoMon" in footer and "lr-mmt desc" in footer


def test_no_verdict_without_adaptive_says_why(tmp_path):
    page = report.write_report(tmp_path, _trace(), [_run("lr-mmt", 1.0)])
    doc = json.loads((tmp_path / "results.json").read_text())
    assert "verdict" not in doc
    assert "not among the strategies run" in page.read_text()


def test_log_scale_only_where_values_span_decades():
    assert plots.spans_decades([1e-7, 1e-5, 0.0])
    assert not plots.spans_decades([10.0, 12.0, 20.0])
    assert not plots.spans_decades([0.0, 5.0])


def test_heatmap_rows_drop_unused_hosts_and_cap_the_rows():
    util = np.array([[0, 255, 1], [0, 0, 128]], dtype=np.uint8)
    mat = plots.heatmap_rows(util)
    # host 2 (on in both frames) first, host 1 next, host 0 left out
    assert mat.shape == (2, 2)
    np.testing.assert_allclose(mat[0], [0.0, 127 / 254])
    assert mat[1, 0] == 1.0 and np.isnan(mat[1, 1])
    many = np.full((3, 450), 128, dtype=np.uint8)
    assert plots.heatmap_rows(many, max_rows=200).shape == (200, 3)

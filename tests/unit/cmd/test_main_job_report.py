"""The main job's code path on a small slice of the embedded PlanetLab
day: ``watcher-adaptive simulate`` through its ``main`` function, then
what a newcomer reads — the verdict, the highlighted row, the plots."""
from __future__ import annotations

import json
import re

import pytest

from tests.replay_slice import write_planetlab_slice
from watcher_adaptive.cmd import main as cli
from watcher_adaptive.replay import report

STRATEGIES = ("adaptive", "lr-mmt", "dvfs")


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    trace = write_planetlab_slice(tmp_path_factory.mktemp("slice"))
    return tmp_path_factory.mktemp("report"), trace


def test_simulate_writes_the_verdict_the_highlight_and_every_plot(
        main_job, capsys):
    out, trace = main_job
    code = cli.main(["simulate", "--trace", str(trace), "--strategies",
                     ",".join(STRATEGIES), "--hosts", "40",
                     "--output", str(out), "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    doc = json.loads((out / "results.json").read_text())
    strategies = doc["strategies"]
    assert set(strategies) == set(STRATEGIES)
    # the verdict: one entry per other strategy, ratios computed from
    # the strategies' own figures (None where the baseline's is 0)
    assert set(doc["verdict"]) == {"lr-mmt", "dvfs"}
    ours = strategies["adaptive"]
    for name, entry in doc["verdict"].items():
        theirs = strategies[name]
        for key, metric in (("energy_ratio", "energy_kwh"),
                            ("slav_ratio", "slav"),
                            ("migrations_ratio", "migrations")):
            if theirs[metric] == 0:
                assert entry[key] is None
            else:
                assert entry[key] == pytest.approx(
                    ours[metric] / theirs[metric])
        assert entry["dominates"] == all(
            ours[m] <= theirs[m] for m in ("energy_kwh", "slav",
                                           "migrations"))
    assert strategies["lr-mmt"]["migrations"] > 0
    # the console's closing block: one line per baseline
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines)
                if line.startswith("verdict ("))
    assert lines[head + 1].lstrip().startswith("vs lr-mmt")
    assert lines[head + 2].lstrip().startswith("vs dvfs")
    assert re.search(r"(better|worse|equal) on energy", lines[head + 1])
    # SLAV on the console in scientific notation
    assert re.search(r"SLAV +\d\.\d{3}e[-+]\d\d %", stdout)
    page = (out / "report.html").read_text()
    assert (f"<tr class='{report.OURS_CLASS}'><td>adaptive</td>"
            in page)
    images = re.findall(r"<img src='([^']+)'", page)
    assert {"metrics.png", "active_hosts.png", "overloaded_hosts.png",
            "migrations.png", "energy_cumulative.png",
            "host_utilisation.png"} <= set(images)
    for name in images:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, name

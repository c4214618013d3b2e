"""The docs' table of recorded application runs: per run its split,
size, the machine's load while recording and its demand per phase."""
from __future__ import annotations

import gzip
import json

from tests import tool_module


def test_each_run_is_a_row_with_its_load_and_phases(tmp_path):
    with gzip.open(tmp_path / "nginx-5.jsonl.gz", "wt") as f:
        for i, (phase, cores, load) in enumerate(
                [("quiet", 0.1, 0.5), ("quiet", 0.3, 1.5),
                 ("peak", 1.5, 2.5)]):
            f.write(json.dumps({"t": 2.0 * i, "phase": phase,
                                "cpu_cores": cores, "cpu_wait_cores": 0.5,
                                "load1": load, "agent_cpu_ms": 4.0 * i,
                                "record": {"f": {}}}) + "\n")
    tool = tool_module.load("profile_apps_table")
    assert tool.rows(tmp_path) == [[
        "nginx-5", "evaluation", "3", "1.50 / 2.50", "0.20",
        "quiet 0.70, peak 2.00"]]
    assert "   * - nginx-5" in tool.rst(tool.rows(tmp_path))


def test_a_directory_without_runs_is_one_line_and_exit_2(tmp_path, capsys):
    tool = tool_module.load("profile_apps_table")
    assert tool.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_docs_table_is_replaced_between_its_markers():
    tool = tool_module.load("profile_apps_table")
    page = ("intro\n.. profile-apps-table-start\n\nold\n\n"
            ".. profile-apps-table-end\n\nafter\n")
    out = tool.into_page(page, "NEW")
    assert out == ("intro\n.. profile-apps-table-start\n\nNEW\n\n"
                   ".. profile-apps-table-end\n\nafter\n")
    assert tool.into_page(out, "NEW") == out

"""The hardening catalogue is covered by tests, and the report says what
the run showed: proven only with a passed test that recorded it."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests import hardening as H
from tests import tool_module

ROOT = Path(__file__).resolve().parents[2]


def _report_module():
    return tool_module.load("hardening_report")


def _marked_cases() -> set[str]:
    """Case ids named by ``pytest.mark.hardening(...)`` anywhere in the
    tests, read from the source (no collection of functional tests)."""
    found = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "hardening"
                    and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "mark"):
                found.update(a.value for a in node.args
                             if isinstance(a, ast.Constant))
    return found


def test_every_case_has_a_test_and_every_mark_a_case():
    marked = _marked_cases()
    assert not H.CASE_IDS - marked, "cases no test proves"
    assert not marked - H.CASE_IDS, "marks of unknown cases"


def _outcome(nodeid, case, outcome):
    return {"type": "outcome", "nodeid": nodeid, "cases": [case],
            "outcome": outcome, "duration_s": 1.0, "detail": ""}


def _record(nodeid, case, happened):
    return {"type": "record", "nodeid": nodeid, "cases": [case],
            "happened": happened, "lost": "nothing", "figures": {}}


def test_a_case_is_proven_only_by_a_passed_test_that_recorded_it():
    report = _report_module()
    cases = report.summarise([
        _outcome("t.py::a", "secrets", "passed"),
        _record("t.py::a", "secrets", "no password in 10 lines"),
        _outcome("t.py::b", "broker-idle", "passed"),
        _outcome("t.py::c", "disk-full-spool", "passed"),
        _record("t.py::c", "disk-full-spool", "counted"),
        _outcome("t.py::d", "disk-full-spool", "failed"),
        _outcome("t.py::e", "collector-flood", "skipped"),
    ])
    assert cases["secrets"]["verdict"] == "proven"
    assert cases["broker-idle"]["verdict"] == "passed, nothing recorded"
    assert cases["disk-full-spool"]["verdict"] == "failed"
    assert cases["collector-flood"]["verdict"] == "skipped"
    assert cases["audit-10k-vms"]["verdict"] == "not run"
    text = report.render(cases, {"when": "now", "commit": "abc"})
    assert "no password in 10 lines" in text
    assert f"**1 of {len(H.CASES)} cases proven**" in text


def test_strict_fails_unless_every_case_is_proven(tmp_path):
    report = _report_module()
    log = tmp_path / "log.jsonl"
    entries = []
    for case in H.CASES:
        entries += [_outcome(f"t.py::{case.id}", case.id, "passed"),
                    _record(f"t.py::{case.id}", case.id, "held")]
    log.write_text("".join(json.dumps(e) + "\n" for e in entries[:-1])
                   + "{truncated")
    out = tmp_path / "report.rst"
    assert report.main(["--log", str(log), "--out", str(out),
                        "--strict"]) == 1
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert report.main(["--log", str(log), "--out", str(out),
                        "--strict"]) == 0
    assert out.read_text().count("**proven**") == len(H.CASES)


def test_a_record_names_known_cases_only():
    with pytest.raises(ValueError, match="not hardening cases"):
        H.Recorder("t.py::x", ("no-such-case",)).record("happened")


def test_recorded_text_cannot_break_the_report_markup():
    docutils_core = pytest.importorskip("docutils.core")
    report = _report_module()
    nasty = "a *b* `c` d|e ref_ |sub| x\\y [1]_ end_"
    cases = report.summarise([
        _outcome("t.py::a", "secrets", "passed"),
        _record("t.py::a", "secrets", nasty)])
    text = report.render(cases, {"when": "now", "commit": "abc"})
    # :doc: is Sphinx's, not docutils': take that line out of the check
    text = text.replace(":doc:`hardening`", "the hardening page")
    tree = docutils_core.publish_doctree(
        text, settings_overrides={"report_level": 5, "halt_level": 5})
    problems = [m.astext() for m in tree.traverse()
                if m.tagname == "system_message" and m["level"] >= 2]
    assert problems == []
    assert nasty in tree.astext()

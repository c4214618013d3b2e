"""Suite-wide: the ``hardening`` marker, its fixture, and the outcome of
every marked test for the hardening report (``tests/hardening.py``)."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

# One OpenMP thread, as tools/run-tests.sh sets it, for a plain pytest
# too (this runs before any test imports scikit-learn): an OpenMP team
# per core stalls at every barrier on a loaded machine (over 900 s for
# the predictor's training fixture beside other work, 14 s with one)
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tests import hardening as H


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "hardening(*case_ids): proves these cases of the "
        "hardening report (tests/hardening.py)")


def _cases(item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("hardening"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        unknown = set(_cases(item)) - H.CASE_IDS
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: unknown hardening case(s) "
                f"{sorted(unknown)}; see tests/hardening.py")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cases = _cases(item)
    if not cases:
        return
    # one entry per test: its call, or the setup that failed or skipped
    if report.when == "call":
        item.hardening_outcome = report.outcome
    if report.when == "call" or (report.when == "setup"
                                 and not report.passed):
        detail = ""
        if not report.passed:
            detail = str(report.longrepr)[-600:]
        H.write({"type": "outcome", "nodeid": item.nodeid,
                 "cases": list(cases), "outcome": report.outcome,
                 "duration_s": round(report.duration, 2),
                 "detail": detail})


@pytest.fixture
def hardening(request) -> Iterator[H.Recorder]:
    """The test's :class:`~tests.hardening.Recorder`.  Hypothesis tests
    may take it too (one per test, not per example: suppress the health
    check) and :meth:`~tests.hardening.Recorder.count` each input's
    outcome; the tally is recorded when the test passed."""
    cases = _cases(request.node)
    if not cases:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses the hardening fixture without "
            "a @pytest.mark.hardening(case) marker")
    recorder = H.Recorder(request.node.nodeid, cases)
    yield recorder
    if recorder.tally and getattr(request.node, "hardening_outcome",
                                  None) == "passed":
        recorder.record_tally()

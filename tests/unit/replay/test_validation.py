"""The CloudSim comparison: tolerances and the printed table."""
from __future__ import annotations

from watcher_adaptive.replay import validation as v

REF = v.Reference("20110303", "lr-mmt", 100.0, 1000, 0.05, 0.001, 0.00005)


def _checked(rows):
    return {r.metric: r.within for r in rows if r.checked}


def test_within_ten_percent_passes_and_outside_fails():
    ok = v.compare(REF, 109.0, 905, 0.0549, 0.002, 0.0001)
    assert _checked(ok) == {"energy_kwh": True, "migrations": True,
                            "slatah": True}
    assert v.all_within(ok)
    bad = v.compare(REF, 111.0, 1000, 0.05, 0.001, 0.00005)
    assert _checked(bad)["energy_kwh"] is False
    assert not v.all_within(bad)


def test_pdm_and_slav_are_shown_not_checked():
    rows = v.compare(REF, 100.0, 1000, 0.05, 0.5, 0.5)
    assert v.all_within(rows)
    shown = [r for r in rows if not r.checked]
    assert {r.metric for r in shown} == {"pdm", "slav"}


def test_dvfs_tolerance_is_two_percent_and_no_migrations_allowed():
    ref = v.Reference("20110303", "dvfs", 800.0, 0, None, None, None)
    assert v.all_within(v.compare(ref, 815.0, 0, 0.0, 0.0, 0.0))
    assert not v.all_within(v.compare(ref, 817.0, 0, 0.0, 0.0, 0.0))


def test_table_marks_rows_and_formats_units():
    table = v.format_table(v.compare(REF, 120.0, 1000, 0.05, 0.001,
                                     0.00005))
    assert "OUT" in table and "+20.0 %" in table
    assert "1,000" in table and "100.00 kWh" in table
    assert "shown" in table


def test_reference_table_holds_the_issue_figures():
    days = {(r.day, r.policy) for r in v.CLOUDSIM_3_0_3}
    assert ("20110322", "lr-mmt") in days and len(days) == 7
    lr = next(r for r in v.CLOUDSIM_3_0_3 if r.day == "20110303"
              and r.policy == "lr-mmt")
    assert lr.pdm * lr.slatah == lr.slav

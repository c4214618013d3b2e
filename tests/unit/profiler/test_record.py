"""Every way a guest's record can be wrong is refused with its reason."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit.profiler.records import FEATURES
from tests.unit.profiler.records import NOW
from tests.unit.profiler.records import line
from watcher_adaptive.exceptions import RecordRejected
from watcher_adaptive.profiler import record as R


def reason(raw: bytes) -> str:
    with pytest.raises(RecordRejected) as err:
        R.parse(raw, NOW)
    return err.value.reason


def fuzz_settings(examples: int):
    # the hardening recorder is one per test, not per example
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[
                        HealthCheck.function_scoped_fixture])


def test_a_valid_record_is_parsed():
    rec = R.parse(line(seq=7), NOW)
    assert rec.seq == 7 and rec.ts == NOW and rec.interval_s == 30.0
    assert rec.features == FEATURES and rec.unknown == 0


@pytest.mark.parametrize("raw,why", [
    (b"x" * 5000, "oversize"),
    (b"{not json", "malformed"),
    (b"[1, 2]", "malformed"),
    (b"\xff\xfe", "malformed"),
    (b"[" * 2000 + b"]" * 2000, "malformed"),
    (line(f={"cpu.user": "NaN"}).replace(b'"NaN"', b"NaN"), "malformed"),
    (line(f={"cpu.user": 1}).replace(b": 1}", b": Infinity}"), "malformed"),
    (line(f={"net.rx_bps": 1}).replace(b": 1}", b": 1e999}"), "malformed"),
    (line().replace(b'{"f"', b'{"seq": 1, "f"'), "malformed"),
    (line(seq="1"), "schema"),
    (line(seq=True), "schema"),
    (line(ts=None), "schema"),
    (line(extra=1), "schema"),
    (line(f=[1]), "schema"),
    (line(f={"cpu.user": "0.5"}), "schema"),
    (line(f={"cpu.user": True}), "schema"),
    (line(sources={"cpu": 1}), "schema"),
    (line(sources={"rootkit": "x"}), "schema"),
    (line(v="2.0"), "version"),
    (line(v=1), "schema"),
    (line(f={"cpu.user": 1.5}), "range"),
    (line(f={"net.rx_bps": -1}), "range"),
    (line(f={"mem.psi_some": 101}), "range"),
    (line(seq=-1), "range"),
    (line(interval_s=0.01), "range"),
    (line(ts=NOW + 3600), "future"),
    (line(ts=NOW - 7200), "stale"),
])
def test_hostile_records_are_refused_with_their_reason(raw, why):
    assert reason(raw) == why


def test_unknown_features_are_dropped_and_counted():
    rec = R.parse(line(f={"cpu.user": 0.1, "gpu.magic": 3, "x": "y"}), NOW)
    assert rec.features == {"cpu.user": 0.1} and rec.unknown == 2


def test_same_major_version_is_accepted():
    assert R.parse(line(v="1.7"), NOW).seq == 1


@pytest.mark.hardening("fuzz-guest-records")
@fuzz_settings(300)
@given(st.binary(max_size=6000))
def test_arbitrary_bytes_never_escape_as_anything_but_a_rejection(
        hardening, raw):
    try:
        R.parse(raw, NOW)
    except RecordRejected as exc:
        assert exc.reason in R.REASONS
        hardening.count(f"byte strings refused as {exc.reason}")
    else:
        hardening.count("byte strings parsed as a record")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


@pytest.mark.hardening("fuzz-guest-records")
@fuzz_settings(300)
@given(st.dictionaries(
    st.sampled_from(["v", "ts", "seq", "interval_s", "sources", "f", "z"]),
    json_values, max_size=7))
def test_arbitrary_json_objects_are_parsed_or_rejected(hardening, doc):
    raw = json.dumps(doc).encode()    # NaN/Infinity included
    try:
        rec = R.parse(raw, NOW)
    except RecordRejected as exc:
        assert exc.reason in R.REASONS
        hardening.count(f"JSON records refused as {exc.reason}")
    else:
        assert all(isinstance(v, float) for v in rec.features.values())
        hardening.count("JSON records accepted")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(FEATURES)),
       st.floats(allow_nan=True, allow_infinity=True))
def test_any_value_of_a_known_feature_is_in_range_or_rejected(name, value):
    raw = json.dumps({"v": "1.0", "ts": NOW, "seq": 1, "interval_s": 30,
                      "f": {name: value}}).encode()
    try:
        rec = R.parse(raw, NOW)
    except RecordRejected:
        return
    lo, hi, _ = R.schema.FEATURES[name]
    assert lo <= rec.features[name] <= hi

"""PromQL building, answer parsing and error paths of the Prometheus
datasource (no server: a fake adapter returns Prometheus 2.42's answer
shapes; the real server is tests/functional/test_prometheus.py's)."""
from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

from watcher_adaptive.adapters import prometheus
from watcher_adaptive.exceptions import InvalidData
from watcher_adaptive.exceptions import MetricSourceError

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 11, 24, 18, 45, tzinfo=UTC)
E0 = int(T0.timestamp())


class FakeResponse:
    def __init__(self, status: int, body) -> None:
        self.status_code = status
        self._body = body
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        if isinstance(self._body, str):
            raise ValueError("not JSON")
        return self._body


class FakeAdapter:
    """Answers each request with the next canned (status, body)."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict]] = []

    def request(self, path, method, **kwargs):
        self.requests.append((method, path, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return FakeResponse(*answer)


def _matrix(label, series):
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {label: value}, "values": [[t, str(v)] for t, v in pts]}
        for value, pts in series]}}


@pytest.mark.parametrize("value, expected", [
    ("3f1c-aa", '"3f1c-aa"'),
    ('a"b', '"a\\"b"'),
    ("a\\b", '"a\\\\b"'),
    ("line\nbreak", '"line\\nbreak"'),
])
def test_string_literals_are_escaped(value, expected):
    assert prometheus.string_literal(value) == expected


def test_set_matcher_matches_each_value_literally():
    matcher = prometheus.set_matcher("resource", ["b.c", "a|x", "a|x"])
    # regex metacharacters escaped, then the backslashes string-escaped;
    # duplicates once
    assert matcher == 'resource=~"a\\\\|x|b\\\\.c"'


@pytest.mark.parametrize("name", ["", "1abc", "a-b", 'x"}or{', "a b"])
def test_bad_label_names_are_refused(name):
    with pytest.raises(InvalidData, match="label name"):
        prometheus.label_name(name)


def test_instance_queries_use_watchers_metric_names():
    cpu = prometheus.instance_query("cpu_cores", "resource", ["u1", "u2"],
                                    600)
    assert cpu == ('max by (resource) (irate(ceilometer_cpu'
                   '{resource=~"u1|u2"}[600s]))')
    mem = prometheus.instance_query("memory_mb", "resource", ["u1"], 600)
    assert mem.startswith("max by (resource) (last_over_time("
                          "ceilometer_memory_usage{")


def test_host_queries_read_node_exporter_by_fqdn():
    queries = prometheus.host_queries("fqdn", ["cmp-1.example.com"], 600)
    assert 'node_cpu_seconds_total{mode="idle",fqdn=~"cmp-1\\\\.example' \
        in queries["cpu_cores"]
    assert "node_memory_MemAvailable_bytes" in queries["memory_mb"]


def test_matrix_lands_on_the_grid_and_gaps_stay_nan():
    times = np.arange(E0, E0 + 900, 300).astype("datetime64[s]")
    body = _matrix("resource", [
        ("vm-a", [(E0, 2e9), (E0 + 300, "NaN"), (E0 + 600, 1e9)]),
        ("vm-b", [(E0 + 300, 5e8), (E0 + 450, 9e9)]),   # 450: off grid
        ("not-asked", [(E0, 1.0)])])
    out = prometheus.parse_matrix(body, "resource", {"vm-a": 0, "vm-b": 1,
                                                     "vm-c": 2},
                                  times, 300, 1e-9)
    np.testing.assert_allclose(out[0], [2.0, np.nan, 1.0])
    np.testing.assert_allclose(out[1], [np.nan, 0.5, np.nan])
    assert np.isnan(out[2]).all()


@pytest.mark.parametrize("body, said", [
    ({"status": "error", "errorType": "bad_data",
      "error": "parse error"}, "bad_data: parse error"),
    ({"status": "success", "data": {"resultType": "vector",
                                    "result": []}}, "not a matrix"),
    ([], "refused the query"),
])
def test_error_answers_raise(body, said):
    times = np.arange(E0, E0 + 600, 300).astype("datetime64[s]")
    with pytest.raises(MetricSourceError, match=said):
        prometheus.parse_matrix(body, "resource", {}, times, 300)


def test_one_range_query_per_metric_for_all_instances():
    ids = [f"vm-{i}" for i in range(2000)]
    adapter = FakeAdapter(
        (200, _matrix("resource", [("vm-7", [(E0 + 300, 3e9)])])),
        (200, _matrix("resource", [("vm-7", [(E0 + 300, 1024)])])))
    source = prometheus.PrometheusSource(adapter)
    window = source.read_usage(ids, T0, T0 + datetime.timedelta(hours=1),
                               300, ["cpu_cores", "memory_mb"])
    assert window.requests == 2 and window.source == "prometheus"
    assert [(m, p) for m, p, _ in adapter.requests] == \
        [("POST", "api/v1/query_range")] * 2
    sent = adapter.requests[0][2]["data"]
    assert sent["start"] == E0 and sent["end"] == E0 + 3300
    assert sent["step"] == 300
    assert sent["query"].count("|") == len(ids) - 1
    assert window.values["cpu_cores"][7, 1] == pytest.approx(3.0)
    assert window.values["memory_mb"][7, 1] == 1024
    assert np.isnan(window.values["cpu_cores"][8]).all()


def test_refusal_and_no_answer_are_metric_source_errors():
    from keystoneauth1 import exceptions as kexc

    source = prometheus.PrometheusSource(FakeAdapter(
        (400, {"status": "error", "errorType": "bad_data",
               "error": "1:2: parse error"}),
        (503, "Service Unavailable"),
        kexc.ConnectFailure("refused")), retries=2)
    stop = T0 + datetime.timedelta(hours=1)
    with pytest.raises(MetricSourceError, match="refused .*parse error"):
        source.read_usage(["u"], T0, stop)
    with pytest.raises(MetricSourceError, match="503.*Service Unavail"):
        source.read_usage(["u"], T0, stop)
    with pytest.raises(MetricSourceError, match="unreachable after 2"):
        source.read_usage(["u"], T0, stop)


def test_hosts_are_matched_by_fqdn_or_its_short_name():
    targets = {"status": "success", "data": {"activeTargets": [
        {"labels": {"fqdn": "cmp-1.example.com", "job": "node"}},
        {"labels": {"fqdn": "cmp-2", "job": "node"}},
        {"labels": {"job": "other"}}]}}
    assert prometheus.resolve_hosts(targets, "fqdn",
                                    ["cmp-1", "cmp-2", "cmp-3"]) == \
        {"cmp-1": "cmp-1.example.com", "cmp-2": "cmp-2"}
    adapter = FakeAdapter(
        (200, targets),
        (200, _matrix("fqdn", [("cmp-1.example.com", [(E0, 3.5)])])),
        (200, _matrix("fqdn", [("cmp-2", [(E0, 2048)])])))
    window = prometheus.PrometheusSource(adapter).read_host_usage(
        ["cmp-1", "cmp-2", "cmp-3"], T0, T0 + datetime.timedelta(hours=1))
    assert window.requests == 3
    assert window.values["cpu_cores"][0, 0] == 3.5
    assert window.values["memory_mb"][1, 0] == 2048
    assert np.isnan(window.values["cpu_cores"][2]).all()


def test_above_matcher_max_the_metric_is_read_whole_and_filtered():
    adapter = FakeAdapter((200, _matrix("resource", [
        ("vm-1", [(E0 + 300, 3e9)]), ("other-cloud-vm", [(E0 + 300, 9e9)])
    ])))
    source = prometheus.PrometheusSource(adapter, matcher_max=1)
    window = source.read_usage(["vm-0", "vm-1"], T0,
                               T0 + datetime.timedelta(hours=1), 300,
                               ["cpu_cores"])
    query = adapter.requests[0][2]["data"]["query"]
    assert query == ('max by (resource) (irate(ceilometer_cpu'
                     '{resource!=""}[600s]))')
    assert window.values["cpu_cores"].shape == (2, 12)
    assert window.values["cpu_cores"][1, 1] == pytest.approx(3.0)
    assert np.isnan(window.values["cpu_cores"][0]).all()


def test_next_audit_asks_only_for_the_tail_and_newcomers_whole():
    from watcher_adaptive.adapters.window_cache import WindowCache

    def cpu(ids, first, last):
        # a constant 1 core per instance, 1e9 ns per second, as Prometheus
        # answers irate at each grid point
        return (200, _matrix("resource", [
            (rid, [(E0 + k * 300, 1e9 * (i + 1))
                   for k in range(first, last)])
            for i, rid in enumerate(ids)]))

    hour = datetime.timedelta(hours=1)
    step = datetime.timedelta(seconds=300)
    adapter = FakeAdapter(cpu(["a", "b"], 0, 12), cpu(["a", "b"], 9, 13),
                          cpu(["c"], 1, 13))
    source = prometheus.PrometheusSource(
        adapter, cache=WindowCache(reread_s=900))
    first = source.read_usage(["a", "b"], T0, T0 + hour, 300, ["cpu_cores"])
    later = source.read_usage(["b", "c", "a"], T0 + step, T0 + hour + step,
                              300, ["cpu_cores"])
    sent = [r[2]["data"] for r in adapter.requests]
    # whole window; then the last 3 points read again plus the new one
    # for a and b (set matcher of those two only), the whole window for c
    assert [(d["start"], d["end"]) for d in sent] == [
        (E0, E0 + 3300), (E0 + 2700, E0 + 3600), (E0 + 300, E0 + 3600)]
    assert '"a|b"' in sent[1]["query"] and '"c"' in sent[2]["query"]
    assert first.requests == 1 and later.requests == 2
    # a's and b's old points come from the cache, unchanged
    assert later.values["cpu_cores"][2, :11] == pytest.approx(
        first.values["cpu_cores"][0, 1:])
    assert later.values["cpu_cores"][0, :11] == pytest.approx(
        first.values["cpu_cores"][1, 1:])
    assert later.values["cpu_cores"][:, 11] == pytest.approx([2.0, 1.0, 1.0])
    assert not np.isnan(later.values["cpu_cores"]).any()

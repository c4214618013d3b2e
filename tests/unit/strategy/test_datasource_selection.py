"""Which datasource an audit reads, chosen as Watcher chooses: the
strategy's list or Watcher's, in order, prometheus with aetos refused,
a failing one skipped for the next with the reason kept."""
from __future__ import annotations

import datetime

import pytest

from tests.unit.strategy import builders
from tests.unit.strategy.test_adaptive_migration import hot_cluster
from tests.unit.strategy.test_adaptive_migration import load_strategy
from watcher_adaptive.adapters import datasource
from watcher_adaptive.exceptions import DatasourceConflict
from watcher_adaptive.exceptions import MetricSourceError

pytest.importorskip("watcher")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    import watcher.conf  # noqa: F401 - registers Watcher's groups
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


class Named:
    """A source that answers (a RecordingSource) or raises, by name."""

    def __init__(self, name, answer):
        self.name = name
        self.answer = answer
        self.asked = 0

    def read_usage(self, *args, **kwargs):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer.read_usage(*args, **kwargs)


def test_names_this_project_does_not_read_are_skipped():
    assert datasource.check_names(["gnocchi", "grafana", "aetos"]) == \
        ["gnocchi", "aetos"]


@pytest.mark.parametrize("names", [["prometheus", "aetos"],
                                   ["aetos", "gnocchi", "prometheus"]])
def test_prometheus_and_aetos_together_are_refused(names):
    with pytest.raises(DatasourceConflict, match="both prometheus and aetos"):
        datasource.check_names(names)


def test_strategy_list_wins_over_watchers():
    from oslo_config import cfg

    from watcher_adaptive.strategy import datasources

    assert datasources.configured_names(["prometheus"], cfg.CONF) == \
        ["prometheus"]
    # Watcher 17's default order
    assert datasources.configured_names(None, cfg.CONF) == \
        ["gnocchi", "grafana", "aetos"]
    assert datasources.configured_names(None, cfg.ConfigOpts()) == \
        ["gnocchi"]


def test_first_answering_source_is_used_and_skips_are_said():
    first = Named("prometheus", MetricSourceError("prometheus refused"))
    second = Named("gnocchi", builders.RecordingSource({"vm": [0.5]}))
    source = datasource.FallbackSource([("prometheus", lambda: first),
                                        ("gnocchi", lambda: second)])
    window = source.read_usage(["vm"], NOW, NOW, 300)
    assert window.resource_ids == ("vm",)
    assert source.used == "gnocchi"
    assert source.skipped == ["prometheus: MetricSourceError: prometheus "
                              "refused"]
    source.read_usage(["vm"], NOW, NOW, 300)
    assert (first.asked, second.asked) == (2, 2)   # tried again each time


def test_no_source_answering_fails_with_every_reason():
    def cannot_build():
        raise MetricSourceError("[prometheus_client] host is not set")

    source = datasource.FallbackSource([
        ("prometheus", cannot_build),
        ("gnocchi", lambda: Named("gnocchi", ConnectionError("down")))])
    with pytest.raises(MetricSourceError) as err:
        source.read_usage(["vm"], NOW, NOW, 300)
    assert "prometheus: MetricSourceError: [prometheus_client] host" \
        in str(err.value)
    assert "gnocchi: ConnectionError: down" in str(err.value)


def test_audit_with_conflicting_datasources_fails_before_reading(tmp_path):
    model, _ = hot_cluster()
    strategy = load_strategy(tmp_path, None)
    strategy.config.datasources = ["aetos", "prometheus"]
    strategy._compute_model = model
    with pytest.raises(DatasourceConflict):
        strategy.execute()
    assert not (tmp_path / "moves.json").exists()


def test_audit_without_a_reachable_datasource_says_why(tmp_path):
    model, _ = hot_cluster()
    strategy = load_strategy(tmp_path, None)
    strategy.config.datasources = ["prometheus", "grafana"]
    strategy._compute_model = model
    with pytest.raises(MetricSourceError, match="host is not set"):
        strategy.execute()


def test_audit_falls_back_to_the_next_datasource(tmp_path):
    model, cpu = hot_cluster()
    source = datasource.FallbackSource([
        ("prometheus", lambda: Named("prometheus", MetricSourceError(
            "prometheus unreachable after 3 attempt(s)"))),
        ("gnocchi", lambda: Named("gnocchi",
                                  builders.RecordingSource(cpu)))])
    strategy = load_strategy(tmp_path, source)
    strategy._compute_model = model
    assert strategy.execute().actions
    assert strategy.datasource == "gnocchi"
    assert "unreachable" in source.skipped[0]


def test_aetos_is_prometheus_on_watchers_keystone_session():
    from oslo_config import cfg

    from watcher_adaptive.adapters import prometheus
    from watcher_adaptive.strategy import datasources

    class Osc:
        session = object()

    cfg.CONF.set_override("instance_uuid_label", "vm_uuid", "aetos_client")
    try:
        source = datasources.build(
            ["aetos"], cfg.CONF, Osc(),
            {"prometheus_timeout_s": 7.0,
             "prometheus_incremental": True, "prometheus_reread_s": 600,
             "prometheus_matcher_max": 50,
             "min_usage_coverage": 0.8}.__getitem__,
            datasource.AUDIT_METRICS)
        built = source.source("aetos")
    finally:
        cfg.CONF.clear_override("instance_uuid_label", "aetos_client")
    assert isinstance(built, prometheus.PrometheusSource)
    assert (built.name, built.instance_uuid_label, built.timeout_s) == \
        ("aetos", "vm_uuid", 7.0)
    # the decision engine's cache, kept across audits
    assert built.cache is datasources.audit_cache(600)
    assert built.matcher_max == 50
    assert built.adapter.session is Osc.session
    assert (built.adapter.service_type, built.adapter.interface) == \
        ("metric-storage", "public")


def test_a_partial_answer_is_skipped_for_the_next_source():
    cpu = {f"vm-{i}": [0.5] for i in range(10)}
    few = {k: v for k, v in list(cpu.items())[:7]}      # 70 %
    source = datasource.FallbackSource(
        [("prometheus", lambda: FullRows(few)),
         ("gnocchi", lambda: Named("gnocchi",
                                   builders.RecordingSource(cpu)))],
        min_coverage=0.8)
    window = source.read_usage(list(cpu), NOW, NOW, 300)
    assert source.used == "gnocchi" and len(window.resource_ids) == 10
    assert "partial answer: usage for 7 of 10 instance(s)" in \
        source.skipped[0]
    # a profile read (metrics given) is not held to it
    source.read_usage(list(cpu), NOW, NOW, 300, metrics=["profile_mem_used"])
    assert source.used == "prometheus"


class FullRows:
    """Answers a row for every instance asked, NaN where it holds none
    (as the real sources do)."""

    def __init__(self, held):
        self.held = held
        self.name = "prometheus"

    def read_usage(self, resource_ids, start, stop, granularity=300,
                   metrics=None):
        import numpy as np

        ids = tuple(resource_ids)
        cpu = np.array([self.held.get(r, [np.nan]) for r in ids],
                       dtype=float)
        return datasource.UsageWindow(ids, np.zeros(1, "datetime64[s]"),
                                      {"cpu_cores": cpu}, 1, self.name)


def test_audit_on_too_partial_usage_migrates_nothing(tmp_path):
    model, cpu = hot_cluster()
    for name in ("busy-0", "busy-1"):          # 5 of 7 instances left
        del cpu[builders.vm_uuid(name)]
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu))
    strategy._compute_model = model
    with pytest.raises(MetricSourceError,
                       match="usage for 5 of 7 instance.*no migration"):
        strategy.execute()
    assert not (tmp_path / "moves.json").exists()

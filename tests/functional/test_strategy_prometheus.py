"""The Watcher plugin reading a real Prometheus: chosen through Watcher's
own configuration, the same plan as from Gnocchi on the same usage, the
next datasource when Prometheus is down, and no move on what it does not
hold."""
from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from tests.functional.conftest import wait_for_measures
from tests.unit.strategy import builders
from tests.unit.strategy.builders import AUDIT
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.adapters import prometheus_write

pytestmark = pytest.mark.functional
SAMPLES = 12
RISING = np.linspace(1.0, 1.8, SAMPLES)          # of a 2-vCPU VM


class Osc:
    """Watcher's clients as the strategy uses them: Gnocchi only."""

    def __init__(self, gnocchi_client=None) -> None:
        self._gnocchi = gnocchi_client

    def gnocchi(self):
        if self._gnocchi is None:
            raise ConnectionError("no Gnocchi in this test")
        return self._gnocchi


def _usage(owned, layout: dict[str, list[np.ndarray]]):
    """Fresh instance ids per host, their usage rows and the model."""
    hosts = {name: {} for name in layout}
    vms: dict[str, dict] = {}
    ids, rows = [], []
    for host, per_vm in layout.items():
        for cores in per_vm:
            rid = owned.new()[0]
            vms[rid] = {"host": host, "uuid": rid}
            ids.append(rid)
            rows.append(cores)
    now = int(time.time()) // 300 * 300
    times = np.arange(now - SAMPLES * 300, now, 300).astype("datetime64[s]")
    return builders.make_model(hosts, vms), ids, times, np.array(rows)


HOT = {"cmp-1": [RISING] * 5, "cmp-2": [np.full(SAMPLES, 0.2)],
       "cmp-3": [np.full(SAMPLES, 0.2)]}


@pytest.fixture
def watcher_conf(prometheus_endpoint):
    """Watcher's [prometheus_client] pointing at the test server (as an
    operator's watcher.conf would); restored afterwards."""
    from oslo_config import cfg

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    host, port = prometheus_endpoint.rsplit("//", 1)[1].rsplit(":", 1)
    cfg.CONF.set_override("host", host, "prometheus_client")
    cfg.CONF.set_override("port", int(port), "prometheus_client")
    yield cfg.CONF
    cfg.CONF.clear_override("host", "prometheus_client")
    cfg.CONF.clear_override("port", "prometheus_client")


def _execute(tmp_path, model, datasources, osc=None):
    from watcher.common import utils
    from watcher.decision_engine.loading import default

    strategy = default.DefaultStrategyLoader().load("adaptive_migration",
                                                    osc=osc)
    params = {**AUDIT, "horizon": 1800}
    utils.StrictDefaultValidatingDraft4Validator(
        strategy.get_schema()).validate(params)
    strategy.input_parameters.update(params)
    tmp_path.mkdir(exist_ok=True)
    strategy.config.journal_path = str(tmp_path / "moves.json")
    strategy.config.action_type = "migrate"
    strategy.config.datasources = datasources
    strategy._compute_model = model
    return strategy, strategy.execute()


def _moves(solution) -> list[tuple[str, str, str]]:
    return sorted((a["input_parameters"]["resource_id"],
                   a["input_parameters"]["source_node"],
                   a["input_parameters"]["destination_node"])
                  for a in solution.actions)


def test_same_usage_same_plan_through_gnocchi_and_prometheus(
        tmp_path, watcher_conf, gnocchi_client, gnocchi_instances,
        prometheus_endpoint, prometheus_series):
    model, ids, times, cores = _usage(gnocchi_instances, HOT)
    prometheus_series.adopt(*ids)
    writer = gnocchi.GnocchiWriter(gnocchi_client)
    writer.ensure_instances([{"id": r, "vcpus": 2} for r in ids])
    writer.push_usage(ids, times, cores)
    prometheus_write.PrometheusWriter(prometheus_endpoint).push_usage(
        ids, times, cores)
    wait_for_measures(gnocchi_client, {(r, "cpu"): SAMPLES for r in ids})

    via_gnocchi, plan_g = _execute(tmp_path / "g", model, ["gnocchi"],
                                   Osc(gnocchi_client))
    via_prometheus, plan_p = _execute(tmp_path / "p", model,
                                      ["prometheus"])
    assert (via_gnocchi.datasource, via_prometheus.datasource) == \
        ("gnocchi", "prometheus")
    assert _moves(plan_g) and _moves(plan_g) == _moves(plan_p)
    assert via_prometheus.plan.hosts_at_risk_after == 0


def test_prometheus_down_falls_back_to_the_next_datasource(
        tmp_path, watcher_conf, gnocchi_client, gnocchi_instances):
    from oslo_config import cfg

    model, ids, times, cores = _usage(gnocchi_instances, HOT)
    writer = gnocchi.GnocchiWriter(gnocchi_client)
    writer.ensure_instances([{"id": r, "vcpus": 2} for r in ids])
    writer.push_usage(ids, times, cores)
    wait_for_measures(gnocchi_client, {(r, "cpu"): SAMPLES for r in ids})
    with socket.socket() as sock:            # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    cfg.CONF.set_override("port", closed, "prometheus_client")
    strategy, solution = _execute(tmp_path, model,
                                  ["prometheus", "gnocchi"],
                                  Osc(gnocchi_client))
    assert strategy.datasource == "gnocchi" and solution.actions
    skipped = strategy.usage_source().skipped
    assert len(skipped) == 1 and skipped[0].startswith(
        "prometheus: MetricSourceError: prometheus unreachable")


def test_instances_prometheus_does_not_hold_are_not_moved(
        tmp_path, watcher_conf, prometheus_endpoint, prometheus_series):
    from watcher_adaptive.exceptions import MetricSourceError

    model, ids, times, cores = _usage(prometheus_series, HOT)
    writer = prometheus_write.PrometheusWriter(prometheus_endpoint)
    # one of the hot host's VMs has no series (just booted): 6 of 7
    # held, above min_usage_coverage (80 %)
    writer.push_usage(ids[1:], times, cores[1:])
    strategy, solution = _execute(tmp_path / "one", model, ["prometheus"])
    assert strategy.datasource == "prometheus"
    moved = {r for r, _, _ in _moves(solution)}
    assert moved and ids[0] not in moved
    # partial series: 5 of 7 held, too few to plan on; no other
    # datasource configured: the audit fails with the reason, no move
    model, ids, times, cores = _usage(prometheus_series, HOT)
    writer.push_usage(ids[2:], times, cores[2:])
    with pytest.raises(MetricSourceError, match="partial answer: usage "
                       "for 5 of 7 instance"):
        _execute(tmp_path / "partial", model, ["prometheus"])
    assert not (tmp_path / "partial" / "moves.json").exists()

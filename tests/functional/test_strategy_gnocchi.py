"""End to end: the Watcher plugin reads a real Gnocchi and plans."""
from __future__ import annotations

import time

import jsonschema
import numpy as np
import pytest

from tests.functional.conftest import wait_for_measures
from tests.unit.strategy import builders
from tests.unit.strategy.builders import AUDIT
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.exceptions import MetricSourceError

pytestmark = pytest.mark.functional
SAMPLES = 12


def _cluster(client, owned, cores_by_host: dict[str, list[np.ndarray]]):
    """Write each VM's usage (cores in use of a 2-vCPU VM) to Gnocchi, as
    instances the test owns, and return the matching Watcher model."""
    hosts = {name: {} for name in cores_by_host}
    vms: dict[str, dict] = {}
    ids, series = [], []
    for host, per_vm in cores_by_host.items():
        for cores in per_vm:
            rid = owned.new()[0]
            vms[rid] = {"host": host, "uuid": rid}
            ids.append(rid)
            series.append(cores)
    writer = gnocchi.GnocchiWriter(client)
    writer.ensure_instances([{"id": r, "vcpus": 2} for r in ids])
    now = int(time.time()) // 300 * 300
    times = np.arange(now - SAMPLES * 300, now, 300).astype(
        "datetime64[s]")
    writer.push_usage(ids, times, np.array(series))
    wait_for_measures(client, {(rid, "cpu"): SAMPLES for rid in ids})
    return builders.make_model(hosts, vms)


def _execute(tmp_path, client, model, clock=None, **params):
    from watcher.common import utils
    from watcher.decision_engine.loading import default

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    strategy = default.DefaultStrategyLoader().load("adaptive_migration")
    params = {**AUDIT, **params}
    utils.StrictDefaultValidatingDraft4Validator(
        strategy.get_schema()).validate(params)
    strategy.input_parameters.update(params)
    strategy.config.journal_path = str(tmp_path / "moves.json")
    # Watcher's own action: the plain-migrate path (the default is
    # adaptive_migrate, tested where it is set)
    strategy.config.action_type = "migrate"
    strategy._usage_source = gnocchi.GnocchiMetricSource(client)
    strategy._compute_model = model
    if clock is not None:
        strategy._clock = clock
    return strategy, strategy.execute()


def test_cluster_about_to_overload_gets_a_valid_plan(tmp_path,
                                                     gnocchi_client,
                                                     gnocchi_instances):
    from watcher.applier.actions import migration

    rising = np.linspace(1.0, 1.8, SAMPLES)  # of 2 vCPUs
    model = _cluster(gnocchi_client, gnocchi_instances, {
        "cmp-1": [rising] * 5,                   # 9 of 8 cores at the end
        "cmp-2": [np.full(SAMPLES, 0.2)],
        "cmp-3": [np.full(SAMPLES, 0.2)]})
    strategy, solution = _execute(tmp_path, gnocchi_client, model,
                                  horizon=1800)
    assert solution.actions
    schema = migration.Migrate(config={}).schema
    for action in solution.actions:
        jsonschema.validate(action["input_parameters"], schema)
        assert action["input_parameters"]["source_node"] == "cmp-1"
        assert action["input_parameters"]["migration_type"] == "live"
    assert strategy.plan.hosts_at_risk_before == 1
    assert strategy.plan.hosts_at_risk_after == 0
    assert strategy.forecast.source == "reactive"


def _forecaster_state(tmp_path) -> tuple[int, float]:
    """The saved online forecasters' step count and last sample time."""
    from watcher_adaptive.strategy import forecasters

    path = forecasters.state_path(str(tmp_path / "moves.json"))
    with np.load(path, allow_pickle=False) as state:
        return int(state["step"]), float(state["audit.last_s"])


def test_online_forecasters_see_each_gnocchi_sample_once(
        tmp_path, gnocchi_client, gnocchi_instances):
    """Two audits five minutes apart on a real Gnocchi: the first feeds
    the forecasters the window up to its last written sample (the grid
    point of the clock's own five minutes, not written yet, waits), the
    second only the sample written since; no fallback to the reactive
    rule."""
    model = _cluster(gnocchi_client, gnocchi_instances, {
        "cmp-1": [np.full(SAMPLES, 0.4)] * 2,
        "cmp-2": [np.full(SAMPLES, 0.4)] * 2})
    now = int(time.time()) // 300 * 300
    strategy, _ = _execute(tmp_path, gnocchi_client, model,
                           clock=lambda: float(now + 150))
    assert strategy.fallback_reason is None
    assert set(strategy.forecast.forecaster) == {"reactive"}
    steps, last = _forecaster_state(tmp_path)
    assert last == now - 300
    ids = [inst.uuid for inst in model.get_all_instances().values()]
    # the next point of the cumulative counter _cluster integrated (its
    # first sample counts no time): 0.4 cores for five more minutes
    gnocchi.GnocchiWriter(gnocchi_client).push_usage(
        ids, np.array([now], dtype="datetime64[s]"),
        np.full((len(ids), 1), 0.4),
        cpu_ns_start=np.full(len(ids), SAMPLES * 0.4 * 300e9))
    wait_for_measures(gnocchi_client,
                      {(rid, "cpu"): SAMPLES + 1 for rid in ids})
    later, _ = _execute(tmp_path, gnocchi_client, model,
                        clock=lambda: float(now + 450))
    assert later.fallback_reason is None
    assert _forecaster_state(tmp_path) == (steps + 1, float(now))


def test_calm_cluster_gets_an_empty_plan(tmp_path, gnocchi_client,
                                         gnocchi_instances):
    model = _cluster(gnocchi_client, gnocchi_instances, {
        "cmp-1": [np.full(SAMPLES, 0.4)] * 3,
        "cmp-2": [np.full(SAMPLES, 0.5)] * 3})
    strategy, solution = _execute(tmp_path, gnocchi_client, model)
    assert solution.actions == []
    assert strategy.plan.hosts_at_risk_before == 0
    # the usage was really read: every instance has a finite forecast
    assert not strategy.forecast.cold_start.any()


@pytest.fixture
def faulty_gnocchi(gnocchi_endpoint):
    from tests.functional.http_fault_proxy import FaultProxy

    proxy = FaultProxy(gnocchi_endpoint).start()
    yield proxy
    proxy.stop()


def _audit_through(tmp_path, proxy, model, timeout_s=2.0):
    """The strategy reading Gnocchi through the proxy (1 s back-off
    budget, ``timeout_s`` per request); its result or the error."""
    from watcher.common import utils
    from watcher.decision_engine.loading import default

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    strategy = default.DefaultStrategyLoader().load("adaptive_migration")
    params = dict(AUDIT)
    utils.StrictDefaultValidatingDraft4Validator(
        strategy.get_schema()).validate(params)
    strategy.input_parameters.update(params)
    strategy.config.journal_path = str(tmp_path / "moves.json")
    # Watcher's own action: the plain-migrate path (the default is
    # adaptive_migrate, tested where it is set)
    strategy.config.action_type = "migrate"
    strategy._usage_source = gnocchi.GnocchiMetricSource(
        gnocchi.make_client(proxy.url), retries=2, backoff_s=0.2,
        timeout_s=timeout_s, metrics=gnocchi.AUDIT_METRICS)
    strategy._compute_model = model
    started = time.monotonic()
    try:
        return strategy, strategy.execute(), time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - what the audit would see
        return strategy, exc, time.monotonic() - started


@pytest.mark.hardening("gnocchi-audit")
def test_gnocchi_slow_5xx_hung_or_down_during_an_audit(
        tmp_path, gnocchi_client, gnocchi_instances, faulty_gnocchi,
        hardening):
    """Gnocchi slow (within the timeout), answering 503, hung (beyond
    the timeout) or down while an audit reads it: slow still plans; the
    others end the audit with a clear error in bounded time, no plan and
    no half-written move journal (Watcher then marks the audit
    FAILED)."""
    rising = np.linspace(1.0, 1.8, SAMPLES)
    model = _cluster(gnocchi_client, gnocchi_instances, {
        "cmp-1": [rising] * 5, "cmp-2": [np.full(SAMPLES, 0.2)],
        "cmp-3": [np.full(SAMPLES, 0.2)]})
    faulty_gnocchi.delay_s = 0.5
    _, slow, took = _audit_through(tmp_path, faulty_gnocchi, model)
    assert not isinstance(slow, Exception), slow
    assert slow.actions                          # planned, only slower
    seen = [f"slow (0.5 s a request): planned {len(slow.actions)} "
            f"action(s) in {took:.1f} s"]

    def failed_audit(sub, *expect, **kwargs):
        """The audit through the proxy as it is now: a clear error
        saying each of ``expect``, and no move journal."""
        (tmp_path / sub).mkdir()
        _, exc, took = _audit_through(tmp_path / sub, faulty_gnocchi,
                                      model, **kwargs)
        assert isinstance(exc, MetricSourceError), exc
        assert all(e in str(exc) for e in expect), exc
        assert not (tmp_path / sub / "moves.json").exists()
        said = str(exc) if len(str(exc)) < 120 else f"{str(exc)[:117]}..."
        seen.append(f"{sub}: failed in {took:.1f} s with \"{said}\"")

    # bounded: a refusal is not retried, and no answer is retried only
    # as often as the source's budget says (2 attempts here, each cut
    # by its timeout); the seconds that takes are
    # benchmarks/bench_action_faults.py's, not this test's
    faulty_gnocchi.delay_s, faulty_gnocchi.fail_status = 0.0, 503
    failed_audit("503", "503", "refused the aggregates request")
    faulty_gnocchi.fail_status, faulty_gnocchi.delay_s = 0, 5.0
    failed_audit("hung", "unreachable after 2 attempt(s)", timeout_s=1.0)
    faulty_gnocchi.stop()                        # nothing listens now
    failed_audit("down", "unreachable after 2 attempt(s)")
    hardening.record(
        happened="; ".join(seen) + ". No plan and no move journal after "
        "a failure; Watcher marks such an audit FAILED and the next "
        "audit plans", lost="nothing")

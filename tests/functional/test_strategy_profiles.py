"""The behaviour profile in the plan, read from a real Gnocchi: the same
usage history with two profiles, one announcing a batch job, gives two
different action plans, and each move's reason names the profile
evidence (what the profile said and how far it moved the forecast).

The trained model is the product's predictor fitted on a fleet whose
disk write share announces its batch jobs' compute hour
(:mod:`tests.unit.predict.batch_trace`); the profiles arrive the way the
collector writes them (:class:`~watcher_adaptive.profiler.sink.
GnocchiProfileSink`)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.functional.conftest import wait_for_measures
from tests.unit.predict import batch_trace
from tests.unit.strategy import builders
from tests.unit.strategy.test_adaptive_migration import load_strategy
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.predict import predictor
from watcher_adaptive.profiler import sink
from watcher_adaptive.profiler.spool import Spooled

pytestmark = pytest.mark.functional
SAMPLES = 36           # the audit's 3 h (fewer than 12: a cold start)
PROFILE_SAMPLES = 12   # the hour the profile columns average
VCPUS = 2
BUSY = 6               # instances on cmp-1, the host a job may overload


@pytest.fixture(scope="module")
def batch_model(tmp_path_factory) -> str:
    model_file, _ = predictor.save(
        batch_trace.trained(),
        tmp_path_factory.mktemp("model") / "batch-announcing")
    return str(model_file)


def _audit(tmp_path, client, owned, model_path: str, write_share: float):
    """cmp-1 holds :data:`BUSY` instances whose guests report
    ``write_share``, cmp-2 and cmp-3 one quiet instance each; every
    instance used 15 % of its 2 vCPUs for the last 3 hours.  Returns the
    strategy after its audit and the solution."""
    hosts = {"cmp-1": [write_share] * BUSY,
             "cmp-2": [batch_trace.READING], "cmp-3": [batch_trace.READING]}
    vms, shares = {}, {}
    for host, per_vm in hosts.items():
        for share in per_vm:
            rid = owned.new()[0]
            vms[rid] = {"host": host, "uuid": rid}
            shares[rid] = share
    ids = list(vms)
    now = int(time.time()) // 300 * 300
    times = np.arange(now - SAMPLES * 300, now, 300)
    writer = gnocchi.GnocchiWriter(client)
    writer.ensure_instances([{"id": r, "vcpus": VCPUS} for r in ids])
    writer.push_usage(ids, times.astype("datetime64[s]"),
                      np.full((len(ids), SAMPLES),
                              batch_trace.QUIET_CPU * VCPUS))
    pushed = sink.GnocchiProfileSink(client).push([
        Spooled(id=k, resource_id=rid, ts=float(t),
                features={"disk.write_share": shares[rid]})
        for k, (rid, t) in enumerate(
            (rid, t) for rid in ids for t in times[-PROFILE_SAMPLES:])])
    assert not pushed.unknown
    wait_for_measures(client, {
        **{(rid, "cpu"): SAMPLES for rid in ids},
        **{(rid, "adaptive.disk.write_share"): PROFILE_SAMPLES
           for rid in ids}})
    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    strategy = load_strategy(tmp_path, gnocchi.GnocchiMetricSource(client),
                             horizon=1800)
    strategy.config.model_path = model_path
    # the fleet's profiles are trusted here: the default bound
    # (max_profile_shift 0.15 of a VM's size) would not believe an
    # announcement that moves a forecast this far (see the docs)
    strategy.config.max_profile_shift = 1.0
    strategy.config.action_type = "adaptive_migrate"
    strategy._history_source = type("NoHistory", (), {
        "read": staticmethod(lambda _uuid: [])})()
    strategy._compute_model = builders.make_model(
        {name: {} for name in hosts}, vms)
    return strategy, strategy.execute()


def test_a_profile_announcing_a_batch_job_changes_the_plan_and_names_why(
        tmp_path, gnocchi_client, gnocchi_instances, profile_policy,
        batch_model):
    (tmp_path / "reading").mkdir()
    (tmp_path / "writing").mkdir()
    calm, calm_plan = _audit(tmp_path / "reading", gnocchi_client,
                             gnocchi_instances, batch_model,
                             batch_trace.READING)
    job, job_plan = _audit(tmp_path / "writing", gnocchi_client,
                           gnocchi_instances, batch_model,
                           batch_trace.WRITING)
    # both audits forecast with the trained model, from the profiles read
    assert calm.forecast.source == job.forecast.source == "model", \
        (calm.fallback_reason, job.fallback_reason)
    assert np.isfinite(calm.profile_columns[:, 1]).all()
    assert not job.forecast.cold_start.any()
    # same history, two plans: only the announced job overloads cmp-1
    assert calm_plan.actions == []
    assert job_plan.actions
    for why, action in zip(job.explanations, job_plan.actions,
                           strict=True):
        assert why["source"] == "cmp-1" and why["reason"] == "overload"
        evidence = why["profile_evidence"]
        assert evidence["believed"]
        assert evidence["profile"] == {
            "disk_write_share": pytest.approx(batch_trace.WRITING)}
        # the profile, not the history, put the instance over: its share
        # of the upper forecast is most of it
        assert evidence["upper_shift_cpu_cores"] > \
            0.5 * why["upper_cpu_cores"]
        # and the action carries it to the destination's agent
        hint = action["input_parameters"]["hint"]
        assert hint["forecast"]["profile_shift_cpu_cores"] == \
            pytest.approx(evidence["upper_shift_cpu_cores"])

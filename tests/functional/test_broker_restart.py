"""RabbitMQ restarted for real (the private node of
``tools/services/10-rabbitmq.sh``, never the machine's shared broker):
while the destination agent is idle, and while ``adaptive_migrate`` is
in the middle of a migration.  Both sides reconnect, the action ends
cleanly in bounded time, nothing is left running and the agent takes
the pre-configuration once.  Nova is the Compute-API stand-in: the
restart has to fall in the middle of a migration, which the stand-in
holds open on demand."""
from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from tests.functional.compute_api import ComputeApiStandIn
from tests.functional.test_adaptive_migrate import SOURCE
from tests.functional.test_adaptive_migrate import Agent
from tests.functional.test_adaptive_migrate import make_action
from tests.functional.test_adaptive_migrate import params
from tests.unit.nova_hooks.agent.test_manager import ThisProcessHost

pytestmark = [pytest.mark.functional, pytest.mark.slow]
pytest.importorskip("watcher")
CPUS = sorted(os.sched_getaffinity(0))


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


@pytest.fixture
def dest() -> str:
    return f"cmp-r-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def agent(tmp_path, private_broker, dest, guest_process):
    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs to show an affinity change")
    a = Agent(tmp_path, private_broker.url, dest,
              ThisProcessHost(str(tmp_path)))
    yield a
    a.stop()


def call_until_answered(url: str, server: str, method: str,
                        deadline_s: float, **payload) -> tuple[dict, float]:
    """The control plane's call, repeated until the agent answers."""
    from oslo_config import cfg

    from nova_hooks import conf as agent_conf
    from nova_hooks.agent import rpc

    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], project="wa-test", default_config_files=[])
    started = time.monotonic()
    client = rpc.make_client(conf, server, timeout_s=3, url=url)
    last = None
    try:
        while time.monotonic() - started < deadline_s:
            try:
                return client.call({}, method, payload=payload), \
                    time.monotonic() - started
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                last = exc
                time.sleep(1)
    finally:
        client.transport.cleanup()
    raise AssertionError(f"no answer within {deadline_s} s: {last!r}")


@pytest.mark.timeout(300)
@pytest.mark.hardening("broker-idle")
def test_an_idle_agent_reconnects_after_a_broker_restart(
        agent, private_broker, dest, hardening):
    took = private_broker.restart()
    instance = str(uuid.uuid4())
    answer, waited = call_until_answered(
        private_broker.url, dest, "prepare", 90, version="1.0",
        instance_uuid=instance, working_set_kib=4096)
    print(f"\nbroker restart {took:.1f} s; the agent answered "
          f"{waited:.1f} s later")
    assert answer["accepted"] and not answer["duplicate"], answer
    assert agent.manager.hints[instance].expected_hot_kib == 4096
    assert [k for k, *_ in agent.received].count("prepare") == 1
    hardening.record(
        happened=f"a private RabbitMQ node restarted ({took:.1f} s) while "
        f"the agent was idle: it reconnected by itself and answered the "
        f"next prepare {waited:.1f} s after the broker was back, taking "
        f"the hint once", lost="nothing")


@pytest.mark.timeout(600)
@pytest.mark.hardening("broker-mid-action")
def test_a_broker_restart_mid_migration_ends_cleanly(
        agent, private_broker, dest, hardening):
    """The broker restarts while Nova migrates: the action completes in
    bounded time, the agent took the hint once, and no messaging thread
    of the action is left running."""
    restart: dict = {}

    def mover(server, host):
        with api.lock:
            server.migration.status = "running (post-copy)"
        restart["took"] = private_broker.restart()

    api = ComputeApiStandIn({SOURCE: ("enabled", "up"),
                             dest: ("enabled", "up")},
                            on_live_migrate=mover, step_s=0.1).start()
    threads_before = {t.ident for t in threading.enumerate()}
    try:
        vm = str(uuid.uuid4())
        api.add_server(vm, SOURCE)
        action = make_action(api, params(vm, dest), private_broker.url,
                             agent_timeout=3.0, migration_timeout=120.0)
        t0 = time.monotonic()
        assert action.execute() is True
        took = time.monotonic() - t0
    finally:
        api.stop()
    print(f"\nbroker restart {restart['took']:.1f} s inside the "
          f"migration; action done in {took:.1f} s; messages "
          f"{[(k, bool(a)) for k, a in action.messages]}")
    assert api.servers[vm].host == dest
    # bounded: every message of the action ended, answered or given up
    # (its per-call deadline; how long that takes beside a restart:
    # benchmarks/bench_action_faults.py)
    assert [k for k, _ in action.messages][:3] == [
        "prepare", "started", "completed"], action.messages
    kinds = [k for k, *_ in agent.received]
    assert kinds.count("prepare") == 1          # no duplicate pre-config
    # nothing of the action's messaging is left running
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [t.name for t in threading.enumerate()
                if t.ident not in threads_before and t.is_alive()
                and t.name.startswith("agent-")]
        if not left:
            break
        time.sleep(0.5)
    assert not left, left
    answered = [k for k, a in action.messages if a]
    hardening.record(
        happened=f"a private RabbitMQ node restarted ({restart['took']:.1f}"
        f" s) while adaptive_migrate waited on the migration: the action "
        f"completed in {took:.1f} s, the VM is on its destination, the "
        f"agent took the hint once (no duplicate pre-configuration), the "
        f"messages answered were {answered}, no messaging thread left",
        lost="nothing of the migration; a 'completed' not answered in "
        "time is not retried (the agent learns the end from libvirt), so "
        "that migration's history lacks the agent's figures")

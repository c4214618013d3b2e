"""The whole chain, end to end, on this machine: the strategy plans for
an overloading host -> Watcher's own factory builds ``adaptive_migrate``
-> the hint goes over the real RabbitMQ to ``nova-adaptive-agent`` (its
own process, on host B's libvirtd) -> the Compute-API stand-in carries
out ``os-migrateLive`` as a real post-copy live migration between the
two libvirt hosts -> the agent shapes the guest while post-copy still
runs -> the action completes and takes the agent's measured figures.
The timeline is printed.  The stand-in takes Nova's place so that this
chain, and the action's reading of the agent's figures, are checked
without the OpenStack stack too (``WA_OPENSTACK=0`` leaves the stack
out); the same chain through real Nova and Watcher's services is the
overload scenario of ``tests/functional/test_openstack_stack.py``."""
from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import datetime

import pytest

from tests.functional import libvirt_hosts as lh
from tests.functional.compute_api import ComputeApiStandIn
from tests.functional.strategy_plans import plan_for_overloading_host
from tests.functional.test_adaptive_migrate import make_action
from tests.functional.test_destination_agent import Agent
from tests.functional.test_destination_agent import vcpu_affinity_on

pytestmark = [pytest.mark.functional, pytest.mark.slow]
pytest.importorskip("watcher")
CPUS = sorted(os.sched_getaffinity(0))
_LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


def logged_at(log: str, needle: str) -> float:
    """Wall time of the agent's first log line holding ``needle``."""
    for line in log.splitlines():
        m = _LOGGED.match(line)
        if m and needle in line:
            return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") \
                .timestamp()
    return float("nan")


@pytest.mark.timeout(900)
def test_strategy_to_action_to_agent_during_postcopy(
        tmp_path, libvirt_hosts_env, rabbit_transport_url):
    hosts = libvirt_hosts_env
    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs to show an affinity change")
    agent = Agent(tmp_path, hosts, rabbit_transport_url)
    tag = uuid.uuid4().hex[:6]
    source = f"hosta-{tag}"
    planned, _ = plan_for_overloading_host(tmp_path, source, agent.server,
                                           tag)
    params = planned[0]["input_parameters"]
    assert params["destination_node"] == agent.server
    instance = params["resource_id"]
    name = f"wa-e2e-{uuid.uuid4().hex[:6]}"
    timeline: dict = {}

    def live_migrate(server, host):
        """Nova's part: the real post-copy migration A -> B."""
        assert host == agent.server
        with api.lock:
            server.migration.status = "running"
        tl = lh.postcopy_migrate(hosts, name, "A", "B")
        timeline.update(tl)
        if not tl["ok"]:
            raise RuntimeError(tl["error"])

    api = ComputeApiStandIn({source: ("enabled", "up"),
                             agent.server: ("enabled", "up")},
                            on_live_migrate=live_migrate,
                            step_s=0.2).start()
    agent.start()
    try:
        lh.start_guest(hosts, name, "A", uuid=instance)
        lh.wait_heartbeats(hosts, "A", name, count=2)
        api.add_server(instance, source, name=name)
        action = make_action(api, params, rabbit_transport_url,
                             migration_timeout=300.0, agent_timeout=5.0)
        action.pre_condition()
        started = time.time()
        assert action.execute() is True
        finished = time.time()
        action.post_condition()
        records = agent.records()
        t0 = timeline["t0_wall"]
        first_change = min((r["ts"] for r in records if r["kind"] == "done"),
                           default=float("nan"))
        points = {
            "action started": started - t0,
            "hint received by the agent": logged_at(
                agent.logs(), f"prepare for {instance} accepted") - t0,
            "transfer start (Nova's migration)": 0.0,
            "post-copy start (B)": timeline["postcopy_on_dst"],
            "first adjustment": first_change - t0,
            "completion (B)": timeline["resumed_on_dst"],
            "action completed": finished - t0,
        }
        print("\ntimeline (s since the migration call):")
        for what, when in points.items():
            print(f"  {when:8.3f}  {what}")
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")

        # the hint arrived before the transfer, and the agent took it
        assert points["hint received by the agent"] < 0
        opened = [r for r in records if r["kind"] == "open"]
        assert "vm_type db" in opened[0]["detail"]
        # the agent acted while post-copy still ran
        pc_start = t0 + timeline["postcopy_requested"]
        pc_end = t0 + timeline["resumed_on_dst"]
        assert any(r["kind"] == "done" and r.get("action") == "vcpu_affinity"
                   and pc_start <= r["ts"] <= pc_end for r in records)
        assert vcpu_affinity_on(hosts, "B", name) == [[CPUS[-1]]]
        # the action finished on the destination with the agent's figures
        assert api.servers[instance].host == agent.server
        kinds = [k for k, _ in action.messages]
        assert kinds[:3] == ["prepare", "started", "completed"]
        status = dict(action.messages)["status"]
        assert status["found"] and status["status"]["figures"]
        # and the guest is healthy on B
        last_a = max(lh.heartbeats(hosts, "A", name))
        lh.wait_heartbeats(hosts, "B", name, above=last_a, count=2)
    finally:
        api.stop()
        agent.stop()
        lh.remove_guest(hosts, name)

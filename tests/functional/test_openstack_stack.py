"""The operator's path on a real OpenStack (tools/services/45-openstack.sh):
Keystone, Placement, Nova with two libvirt computes on the namespace
libvirt hosts, Glance, Watcher's API, decision engine and applier with
this project's plugins, a nova-adaptive-agent per host.  Each test runs
one scenario of tools/openstack_e2e.py (the ``openstack optimize ...``
CLI, as an operator types it) and asserts on the JSON line it prints.

Nothing here is a stand-in but Neutron (servers boot with no network)
and the usage history, written to Gnocchi as Ceilometer would.  The
Compute-API stand-in (tests/functional/compute_api.py) stays for the
faults real Nova cannot be made to produce on demand: a migration that
never ends, Nova's refusals at each step, a broker cut mid-action.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.functional, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> dict:
    state = Path(os.environ.get(
        "WA_STATE_DIR", "/tmp/watcher-adaptive-state")) / "openstack"
    if (state / "unavailable").exists():
        pytest.skip("OpenStack stack unavailable: "
                    + (state / "unavailable").read_text().strip())
    if not (state / "stack.json").exists():
        pytest.skip("no OpenStack stack (tools/services/45-openstack.sh "
                    "up)")
    return json.loads((state / "stack.json").read_text())


def scenario(stack: dict, name: str) -> dict:
    """Run one scenario; its JSON line (it names its own servers with a
    fresh tag and deletes them)."""
    env = dict(os.environ, PYTHONPATH=stack["site"])
    out = subprocess.run(
        [str(Path(stack["venv"]) / "bin" / "python"),
         str(ROOT / "tools" / "openstack_e2e.py"),
         str(Path(stack["logs"]).parent / "stack.json"),
         "--scenario", name],
        env=env, capture_output=True, text=True, timeout=1500)
    lines = out.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{out.stderr[-3000:]}"
    result = json.loads(lines[-1])
    print(json.dumps(result, indent=1))
    assert "error" not in result, out.stderr[-3000:]
    return result


@pytest.mark.timeout(1500)
def test_overload_is_relieved_by_a_postcopy_migration_the_agent_shapes(
        stack):
    r = scenario(stack, "overload")
    assert r["audit_state"] == "SUCCEEDED"
    assert r["actions"] >= 1
    assert r["destinations"] == [stack["computes"]["B"]]
    assert r["action_plan_state"] == "SUCCEEDED"
    assert r["migrated"] is True
    assert r["postcopy"] is True
    assert r["agent_acted"] is True


@pytest.mark.timeout(900)
def test_calm_cluster_gets_a_plan_with_no_action(stack):
    r = scenario(stack, "calm")
    assert r["audit_state"] == "SUCCEEDED"
    assert r["actions"] == 0


@pytest.mark.timeout(900)
def test_disabled_destination_is_never_chosen(stack):
    r = scenario(stack, "dest-disabled")
    assert r["audit_state"] == "SUCCEEDED"
    # the only other host is disabled: nothing may go there
    assert stack["computes"]["B"] not in r["destinations"]
    assert r["actions"] == 0


@pytest.mark.timeout(1500)
def test_failed_migration_ends_failed_with_the_agent_undone(stack):
    """B's libvirtd is killed while Nova transfers the guest."""
    try:
        r = scenario(stack, "migration-fails")
    finally:
        # B's libvirtd back, and Nova's compute on B up again, for the
        # other tests
        subprocess.run(["bash", str(ROOT / "tools" / "services"
                                    / "30-libvirt-hosts.sh"),
                        "restart-libvirtd", "B"], check=False,
                       capture_output=True, timeout=300)
        time.sleep(1)
    assert r["action_plan_state"] == "FAILED"
    assert "FAILED" in r["action_states"]
    assert r["server_host"] == stack["computes"]["A"]
    # Nova itself puts the server in ERROR here (its rollback on the
    # destination cannot reach B's dead libvirtd; measured once), so
    # the server's status is not asserted
    assert r["migrated"] is False
    assert r["agent_undone"] is True

"""The operator's path on the test stack of tools/services/45-openstack.sh,
driven through the ``openstack`` CLI (``openstack optimize ...`` for
Watcher); run by tools/openstack-e2e.sh in the stack's virtualenv.

    python tools/openstack_e2e.py STACK_JSON [--scenario NAME]

Scenarios (each boots its own servers, named with a fresh tag, and
deletes them at the end):

``overload`` (default)
    two servers on host A whose usage (written to Gnocchi as Ceilometer
    would) climbs towards A's cores; the audit plans an
    ``adaptive_migrate`` to host B, the applier runs it, Nova
    live-migrates with post-copy, B's agent acts during post-copy.
``calm``
    the same servers with flat, low usage: an action plan with no action.
``dest-disabled``
    the overload with B's nova-compute service disabled: no action may
    name B (and there is no other host).
``migration-fails``
    the overload, with B's libvirtd killed while the transfer runs: the
    action and the plan end FAILED, the server runs on A, B's agent
    closed what it opened.

Prints one JSON object on the last line of stdout; progress goes to
stderr.  Exit 0 when the scenario ran (whatever its figures), 1 when a
step failed (the JSON then has ``error``), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any
from typing import Callable
from typing import Optional

SCENARIOS = ("overload", "calm", "dest-disabled", "migration-fails")
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED", "DELETED"}
_LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


class Stack:
    def __init__(self, path: Path) -> None:
        self.d = json.loads(path.read_text())
        self.env = dict(os.environ)
        self.env.update({
            "OS_AUTH_URL": self.d["auth_url"], "OS_USERNAME": "admin",
            "OS_PASSWORD": self.d["password"], "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_REGION_NAME": self.d["region"],
            "OS_COMPUTE_API_VERSION": "2.80",
        })
        self.openstack = str(Path(self.d["venv"]) / "bin" / "openstack")
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3
        self.session = ks_session.Session(auth=v3.Password(
            auth_url=self.d["auth_url"], username="admin",
            password=self.d["password"], project_name="admin",
            user_domain_id="default", project_domain_id="default"))

    def get(self, service: str, path: str, **headers: str) -> Any:
        """A GET through the REST API (for polling: the CLI takes
        seconds per call to start on a loaded machine)."""
        url = {"compute": self.d["compute_url"],
               "watcher": self.d["watcher_url"]}[service]
        from keystoneauth1 import exceptions as kexc
        for attempt in range(5):
            try:
                return self.session.get(url.rstrip("/") + path,
                                        headers=headers or None).json()
            except kexc.ConnectFailure as exc:  # a worker restarting
                log(f"{service} {path}: {exc}; again in 3 s")
                if attempt == 4:
                    raise
                time.sleep(3)

    def nova(self, path: str) -> Any:
        return self.get("compute", path,
                        **{"OpenStack-API-Version": "compute 2.80"})

    def watcher(self, path: str) -> Any:
        return self.get("watcher", path,
                        **{"OpenStack-API-Version": "infra-optim 1.3"})

    def cli(self, *args: str, parse: bool = True) -> Any:
        """One ``openstack`` command; its JSON output when ``parse``."""
        cmd = [self.openstack, *args]
        if parse:
            cmd += ["-f", "json"]
        log("$ openstack " + " ".join(args))
        out = subprocess.run(cmd, env=self.env, capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"openstack {' '.join(args)}: "
                               f"{out.stderr.strip()[-400:]}")
        return json.loads(out.stdout) if parse and out.stdout.strip() \
            else out.stdout


def wait(what: str, probe: Callable[[], Any], timeout_s: float,
         every_s: float = 2.0) -> Any:
    """``probe()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s "
                               f"waiting for {what}")
        time.sleep(every_s)


def boot(stack: Stack, name: str, count: int, host: str
         ) -> dict[str, str]:
    """``count`` servers on ``host`` (no network), one CLI call; name ->
    id once ACTIVE."""
    stack.cli("server", "create", "--image", stack.d["image_name"],
              "--flavor", stack.d["flavor_name"], "--nic", "none",
              "--availability-zone", f"nova:{host}", "--min", str(count),
              "--max", str(count), name)

    def active() -> Optional[dict[str, str]]:
        mine = [x for x in stack.nova("/servers/detail")["servers"]
                if x["name"].startswith(name)]
        bad = [x for x in mine if x["status"] == "ERROR"]
        if bad:
            raise RuntimeError(f"server {bad[0]['name']} went to ERROR: "
                               f"{bad[0].get('fault')}")
        if len(mine) == count and all(x["status"] == "ACTIVE"
                                      for x in mine):
            return {x["name"]: x["id"] for x in mine}
        return None

    return wait("the servers to be ACTIVE", active, 600, 2)


def cap_postcopy(stack: Stack, server_ids: list[str], mib_s: int) -> None:
    """Post-copy's bandwidth for the servers' domains on host A, in
    MiB/s.  Nova caps pre-copy only (``live_migration_bandwidth``); over
    the hosts' veth a 192 MiB guest's post-copy ends in 0.2 s (measured),
    too soon for any agent, as on no real network for a real guest (at
    16 MiB/s it lasted 3.4 s: most pages are zero pages)."""
    import libvirt

    hosts = json.loads(Path(stack.d["hosts_json"]).read_text())
    conn = libvirt.open(hosts["hosts"]["A"]["uri"])
    try:
        for sid in server_ids:
            name = stack.nova(f"/servers/{sid}")["server"][
                "OS-EXT-SRV-ATTR:instance_name"]
            conn.lookupByName(name).migrateSetMaxSpeed(
                mib_s, libvirt.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY)
    finally:
        conn.close()


def feed_usage(stack: Stack, ids: list[str], host: str, rising: bool
               ) -> None:
    """Ceilometer's metrics for the servers, in the Gnocchi of
    20-gnocchi.sh (the stack's Keystone front reads the same storage):
    12 five-minute samples, climbing to 0.95 of a core each, or flat at
    0.2."""
    import numpy as np

    from watcher_adaptive.adapters import gnocchi

    client = gnocchi.make_client(stack.d["gnocchi_basic_url"])
    writer = gnocchi.GnocchiWriter(client)
    writer.ensure_instances([{"id": i, "vcpus": 1, "host": host}
                             for i in ids])
    n = 12
    now = int(time.time()) // 300 * 300
    times = np.arange(now - n * 300, now, 300).astype("datetime64[s]")
    per_vm = np.linspace(0.5, 0.95, n) if rising else np.full(n, 0.2)
    writer.push_usage(list(ids), times, np.array([per_vm] * len(ids)))

    def processed() -> bool:
        for rid in ids:
            got = client.metric.get_measures(
                "cpu", resource_id=rid, granularity=300, refresh=True)
            if len(got) < n - 1:
                return False
        return True

    wait("Gnocchi to aggregate the usage", processed, 180, 2)


def model_has(stack: Stack, ids: list[str]) -> Callable[[], bool]:
    """Watcher's compute model holds every server (its collector runs
    every 10 s)."""
    def probe() -> bool:
        rows = stack.watcher("/v1/data_model?data_model_type=compute")
        seen = {r.get("server_uuid") for r in rows.get("context", [])}
        return all(i in seen for i in ids)
    return probe


def journal(stack: Stack, which: str) -> list[dict]:
    path = Path(stack.d["agents"][which]["journal"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()]


def logged_times(path: Path, needle: str) -> list[float]:
    """Epoch times of the log lines of ``path`` holding ``needle``
    (oslo.log writes local time)."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        m = _LOGGED.match(line)
        if m and needle in line:
            out.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
                       .timestamp())
    return out


def kill_libvirtd_when_migrating(stack: Stack, server: str) -> None:
    """Kill host B's libvirtd once Nova's migration of ``server`` runs
    (the destination's libvirt dies mid-transfer)."""
    hosts = json.loads(Path(stack.d["hosts_json"]).read_text())
    pid = int(hosts["hosts"]["B"]["libvirtd_pid"])

    def running() -> bool:
        rows = stack.nova(f"/os-migrations?instance_uuid={server}")
        return any(r["status"].startswith("running")
                   for r in rows["migrations"])

    wait("the migration to run", running, 300, 0.5)
    log(f"killing host B's libvirtd ({pid})")
    os.kill(pid, 9)


def run(stack: Stack, scenario: str) -> dict[str, Any]:
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    a, b = stack.d["computes"]["A"], stack.d["computes"]["B"]
    result: dict[str, Any] = {"scenario": scenario, "tag": tag}
    ids: dict[str, str] = {}
    disabled = False
    try:
        ids = boot(stack, f"wa-e2e-{tag}", 2, a)
        log(f"servers ACTIVE on {a}: {', '.join(ids.values())}")
        cap_postcopy(stack, list(ids.values()), 4)
        feed_usage(stack, list(ids.values()), a, scenario != "calm")
        wait("Watcher's model to hold the servers",
             model_has(stack, list(ids.values())), 180, 3)
        if scenario == "dest-disabled":
            stack.cli("compute", "service", "set", "--disable",
                      "--disable-reason", f"wa-e2e {tag}", b,
                      "nova-compute", parse=False)
            disabled = True
            time.sleep(12)  # the collector's next pass sees it
        tmpl = stack.cli("optimize", "audittemplate", "create",
                         f"wa-e2e-{tag}", "workload_balancing",
                         "--strategy", "adaptive_migration")
        audit = stack.cli(
            "optimize", "audit", "create", "-a", tmpl["UUID"],
            "-p", "horizon=1800", "-p", "overload_threshold=0.8",
            "-p", "target_utilization=0.6", "-p", "underload_threshold=0.2",
            "-p", "granularity=300",
            "-p", "period=3600")
        audit_id = audit["UUID"]
        state = wait("the audit to end", lambda: (
            lambda s: s if s in TERMINAL else None)(
                stack.watcher(f"/v1/audits/{audit_id}")["state"]), 300, 1)
        result["audit_state"] = state
        plans = stack.watcher(
            f"/v1/action_plans?audit_uuid={audit_id}")["action_plans"]
        if not plans:
            raise RuntimeError("the audit made no action plan")
        plan_id = plans[0]["uuid"]

        def actions() -> list[dict]:
            return [x for x in stack.watcher(
                f"/v1/actions/detail?action_plan_uuid={plan_id}")["actions"]
                if x["action_type"] in ("adaptive_migrate", "migrate")]

        moves = actions()
        result["actions"] = len(moves)
        result["destinations"] = sorted({
            x["input_parameters"].get("destination_node", "")
            for x in moves})
        if scenario in ("calm", "dest-disabled") or not moves:
            result["action_plan_state"] = stack.watcher(
                f"/v1/action_plans/{plan_id}")["state"]
            return result
        moved = moves[0]["input_parameters"]["resource_id"]
        before = time.time()
        stack.cli("optimize", "actionplan", "start", plan_id)
        if scenario == "migration-fails":
            kill_libvirtd_when_migrating(stack, moved)
        state = wait("the action plan to end", lambda: (
            lambda s: s if s in TERMINAL else None)(
                stack.watcher(f"/v1/action_plans/{plan_id}")["state"]),
            900, 1)
        after = time.time()
        result["action_plan_state"] = state
        result["action_states"] = [x["state"] for x in actions()]
        server = stack.nova(f"/servers/{moved}")["server"]
        host = server.get("OS-EXT-SRV-ATTR:host")
        migs = stack.nova(f"/os-migrations?instance_uuid={moved}")[
            "migrations"]
        result["server_host"] = host
        result["server_status"] = server.get("status")
        result["migration_status"] = [m["status"] for m in migs]
        result["migrated"] = bool(
            host == b and any(m["status"] == "completed" for m in migs))
        logs = Path(stack.d["logs"])
        switched = [t for t in logged_times(
            logs / "nova-compute-A-app.log",
            "Switching to post-copy migration mode") if t >= before]
        result["postcopy"] = bool(switched)
        records = [r for r in journal(stack, "B") if r["ts"] >= before]
        phases = [(r["ts"], str(r.get("after"))) for r in records
                  if r["kind"] == "phase"]
        pc_start = min((t for t, p in phases if "post" in p.lower()),
                       default=None)
        pc_end = min((t for t, p in phases
                      if t >= (pc_start or after) and "post" not in
                      p.lower()), default=after)
        result["journal_kinds"] = sorted({r["kind"] for r in records})
        result["agent_acted"] = bool(pc_start is not None and any(
            r["kind"] == "done" and pc_start <= r["ts"] <= pc_end
            for r in records))
        if scenario == "migration-fails":
            opened = {r["vm"] for r in records if r["kind"] == "open"}
            closed = {r["vm"] for r in records if r["kind"] == "close"}
            result["agent_opened"] = sorted(opened)
            result["agent_undone"] = opened <= closed
        return result
    except Exception as exc:  # the JSON line says what failed
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        if disabled:
            stack.cli("compute", "service", "set", "--enable", b,
                      "nova-compute", parse=False)
        for sid in ids.values():
            stack.session.delete(
                f"{stack.d['compute_url'].rstrip('/')}/servers/{sid}",
                raise_exc=False)
        result["e2e_s"] = round(time.monotonic() - t0, 1)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stack_json", type=Path)
    p.add_argument("--scenario", choices=SCENARIOS, default="overload")
    args = p.parse_args(argv)
    if not args.stack_json.is_file():
        p.error(f"{args.stack_json}: no such file (is the stack up?)")
    result = run(Stack(args.stack_json), args.scenario)
    result["finished_at"] = datetime.now(timezone.utc).isoformat(
        timespec="seconds")
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())

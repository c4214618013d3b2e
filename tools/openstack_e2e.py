"""The operator's path on the test stack of tools/services/45-openstack.sh,
driven through the ``openstack`` CLI (``openstack optimize ...`` for
Watcher); run by tools/openstack-e2e.sh in the stack's virtualenv.

    python tools/openstack_e2e.py STACK_JSON [--scenario NAME]
    python tools/openstack_e2e.py STACK_JSON --restore

``--restore`` puts host B back as the scenarios expect it (the tests'
finalizers call it): B's libvirtd and nova-compute running, its
nova-compute service enabled (if a scenario disabled it) and up in Nova
and in Watcher's compute model.

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
``dest-down``
    the overload with B's nova-compute stopped until Nova reports it
    down: no action may name B.  B's nova-compute is started again at
    the end.
``migration-fails``
    the overload, with B's libvirtd killed while the transfer runs,
    once B's agent has opened its session for the arriving guest: the
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

SCENARIOS = ("overload", "calm", "dest-disabled", "dest-down",
             "migration-fails")
ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "tools" / "services"
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

    def delete(self, service: str, path: str) -> None:
        """A DELETE through the REST API; its failure is logged only
        (clean-up)."""
        url = {"compute": self.d["compute_url"],
               "watcher": self.d["watcher_url"]}[service]
        try:
            r = self.session.delete(
                url.rstrip("/") + path, raise_exc=False,
                headers={"OpenStack-API-Version": "infra-optim 1.3"}
                if service == "watcher" else None)
        except Exception as exc:  # noqa: BLE001 - clean-up only
            log(f"DELETE {service} {path}: {exc}")
            return
        if r.status_code >= 400 and r.status_code != 404:
            log(f"DELETE {service} {path}: HTTP {r.status_code}")

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


def compute_service(stack: Stack, host: str) -> dict:
    """Nova's record of ``host``'s nova-compute service (state up/down,
    status enabled/disabled)."""
    rows = stack.nova(f"/os-services?binary=nova-compute&host={host}")[
        "services"]
    if len(rows) != 1:
        raise RuntimeError(f"Nova lists {len(rows)} nova-compute services "
                           f"on {host}")
    return rows[0]


def nova_says(stack: Stack, host: str, state: Optional[str] = None,
              status: Optional[str] = None) -> Callable[[], bool]:
    """Nova reports ``host``'s nova-compute with that state and status."""
    def probe() -> bool:
        svc = compute_service(stack, host)
        return ((state is None or svc["state"] == state)
                and (status is None or svc["status"] == status))
    return probe


def watcher_says(stack: Stack, host: str, state: Optional[str] = None,
                 status: Optional[str] = None) -> Callable[[], bool]:
    """Watcher's compute model has ``host`` with that state and status
    (its collector resynchronises every 10 s)."""
    def probe() -> bool:
        rows = [r for r in stack.watcher(
            "/v1/data_model?data_model_type=compute").get("context", [])
            if r.get("node_hostname") == host]
        return bool(rows) and all(
            (state is None or r.get("node_state") == state)
            and (status is None or r.get("node_status") == status)
            for r in rows)
    return probe


def host_dir(stack: Stack, which: str) -> Path:
    """Host ``which``'s directory of 30-libvirt-hosts.sh (its
    libvirtd.pid is current after a restart; hosts.json keeps the
    first PID)."""
    hosts = json.loads(Path(stack.d["hosts_json"]).read_text())
    return Path(hosts["hosts"][which]["log_dir"]).parent


def service_script(*args: str) -> None:
    out = subprocess.run(["bash", *args], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, PYTHONPATH=""))
    log(f"$ bash {' '.join(args)}: exit {out.returncode} "
        f"{(out.stdout + out.stderr).strip()[-300:]}")
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {out.stderr[-300:]}")


def restore(stack: Stack) -> dict[str, Any]:
    """Host B as the scenarios expect it: its libvirtd and nova-compute
    running, the service enabled, up in Nova and in Watcher's model."""
    b = stack.d["computes"]["B"]
    pidfile = host_dir(stack, "B") / "libvirtd.pid"
    try:
        alive = Path(f"/proc/{int(pidfile.read_text().split()[0])}").exists()
    except (OSError, ValueError, IndexError):
        alive = False
    if not alive:
        service_script(str(SERVICES / "30-libvirt-hosts.sh"),
                       "restart-libvirtd", "B")
    service_script(str(SERVICES / "45-openstack.sh"), "start-compute", "B")
    svc = compute_service(stack, b)
    if svc["status"] == "disabled" and str(
            svc.get("disabled_reason") or "").startswith("wa-e2e"):
        stack.cli("compute", "service", "set", "--enable", b,
                  "nova-compute", parse=False)
    # a compute whose libvirt connection was lost is disabled by Nova
    # itself ("AUTO: ..."), and enabled again once it reconnects
    wait(f"Nova to report {b} up and enabled",
         nova_says(stack, b, "up", "enabled"), 600, 2)
    wait(f"Watcher's model to have {b} up and enabled",
         watcher_says(stack, b, "up", "enabled"), 180, 2)
    return {"restored": b}


def drop_usage(stack: Stack, ids: list[str]) -> None:
    """The servers' instance resources (and their metrics) out of
    Gnocchi again."""
    if not ids:
        return
    from watcher_adaptive.adapters import gnocchi

    client = gnocchi.make_client(stack.d["gnocchi_basic_url"])
    for rid in ids:
        try:
            client.resource.delete(rid)
        except Exception as exc:  # noqa: BLE001 - clean-up only
            if "not found" not in str(exc).lower():
                log(f"Gnocchi resource {rid}: {exc}")


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


def kill_libvirtd_when_managed(stack: Stack, server: str,
                               since: float) -> list[str]:
    """Kill host B's libvirtd once Nova's migration of ``server`` runs
    and B's agent has opened its session for the arriving guest (the
    destination's libvirt dies mid-transfer, with the agent holding
    changes to undo).  Returns the journal kinds the agent had written
    for the guest by then."""
    pid = int((host_dir(stack, "B") / "libvirtd.pid").read_text().split()[0])

    def running() -> bool:
        rows = stack.nova(f"/os-migrations?instance_uuid={server}")
        return any(r["status"].startswith("running")
                   for r in rows["migrations"])

    def opened() -> bool:
        return any(r["vm"] == server and r["kind"] == "open"
                   and r["ts"] >= since for r in journal(stack, "B"))

    wait("the migration to run", running, 300, 0.5)
    wait("B's agent to open its session for the guest", opened, 300, 0.2)
    if not running():
        raise RuntimeError("the migration ended before B's libvirtd "
                           "could be killed mid-transfer")
    kinds = sorted({r["kind"] for r in journal(stack, "B")
                    if r["vm"] == server and r["ts"] >= since})
    log(f"killing host B's libvirtd ({pid}); the agent wrote {kinds}")
    os.kill(pid, 9)
    return kinds


def run(stack: Stack, scenario: str) -> dict[str, Any]:
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    a, b = stack.d["computes"]["A"], stack.d["computes"]["B"]
    result: dict[str, Any] = {"scenario": scenario, "tag": tag}
    ids: dict[str, str] = {}
    disabled = stopped = False
    made: list[str] = []  # Watcher objects to delete, newest last
    try:
        ids = boot(stack, f"wa-e2e-{tag}", 2, a)
        log(f"servers ACTIVE on {a}: {', '.join(ids.values())}")
        if scenario == "dest-down":
            # Nova reports it down once its last report is older than
            # service_down_time (60 s): wait for exactly that, while
            # the usage goes in
            service_script(str(SERVICES / "45-openstack.sh"),
                           "stop-compute", "B")
            stopped = True
        cap_postcopy(stack, list(ids.values()), 4)
        feed_usage(stack, list(ids.values()), a, scenario != "calm")
        wait("Watcher's model to hold the servers",
             model_has(stack, list(ids.values())), 180, 3)
        if scenario == "dest-disabled":
            stack.cli("compute", "service", "set", "--disable",
                      "--disable-reason", f"wa-e2e {tag}", b,
                      "nova-compute", parse=False)
            disabled = True
            wait(f"Watcher's model to have {b} disabled",
                 watcher_says(stack, b, status="disabled"), 180, 2)
        if scenario == "dest-down":
            wait(f"Nova to report {b} down",
                 nova_says(stack, b, state="down"), 300, 2)
            wait(f"Watcher's model to have {b} down",
                 watcher_says(stack, b, state="down"), 180, 2)
        if scenario not in ("dest-disabled", "dest-down"):
            # what the other scenarios take for granted (a test before
            # may have stopped or disabled B; its finalizer restores it)
            wait(f"Watcher's model to have {b} up and enabled",
                 watcher_says(stack, b, "up", "enabled"), 180, 2)
        result["dest_service"] = {
            k: compute_service(stack, b)[k] for k in ("state", "status")}
        tmpl = stack.cli("optimize", "audittemplate", "create",
                         f"wa-e2e-{tag}", "workload_balancing",
                         "--strategy", "adaptive_migration")
        made.append(f"/v1/audit_templates/{tmpl['UUID']}")
        audit = stack.cli(
            "optimize", "audit", "create", "-a", tmpl["UUID"],
            "-p", "horizon=1800", "-p", "overload_threshold=0.8",
            "-p", "target_utilization=0.6", "-p", "underload_threshold=0.2",
            "-p", "granularity=300",
            "-p", "period=3600")
        audit_id = audit["UUID"]
        made.append(f"/v1/audits/{audit_id}")
        state = wait("the audit to end", lambda: (
            lambda s: s if s in TERMINAL else None)(
                stack.watcher(f"/v1/audits/{audit_id}")["state"]), 300, 1)
        result["audit_state"] = state
        plans = stack.watcher(
            f"/v1/action_plans?audit_uuid={audit_id}")["action_plans"]
        if not plans:
            raise RuntimeError("the audit made no action plan")
        plan_id = plans[0]["uuid"]
        made.append(f"/v1/action_plans/{plan_id}")

        def actions() -> list[dict]:
            return [x for x in stack.watcher(
                f"/v1/actions/detail?action_plan_uuid={plan_id}")["actions"]
                if x["action_type"] in ("adaptive_migrate", "migrate")]

        moves = actions()
        result["actions"] = len(moves)
        result["destinations"] = sorted({
            x["input_parameters"].get("destination_node", "")
            for x in moves})
        if scenario in ("calm", "dest-disabled", "dest-down") \
                or not moves:
            result["action_plan_state"] = stack.watcher(
                f"/v1/action_plans/{plan_id}")["state"]
            return result
        moved = moves[0]["input_parameters"]["resource_id"]
        before = time.time()
        stack.cli("optimize", "actionplan", "start", plan_id)
        if scenario == "migration-fails":
            result["agent_before_kill"] = kill_libvirtd_when_managed(
                stack, moved, before)
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
        # what this run made goes, whatever happened
        for path in reversed(made):
            stack.delete("watcher", path)
        for sid in ids.values():
            stack.delete("compute", f"/servers/{sid}")
        drop_usage(stack, list(ids.values()))
        try:
            if disabled or stopped:
                restore(stack)  # enables it, starts it, waits for both
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            result.setdefault("error", f"restoring {b}: "
                              f"{type(exc).__name__}: {exc}")
        result["e2e_s"] = round(time.monotonic() - t0, 1)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stack_json", type=Path)
    p.add_argument("--scenario", choices=SCENARIOS, default="overload")
    p.add_argument("--restore", action="store_true",
                   help="put host B back (running, enabled, up) and exit")
    args = p.parse_args(argv)
    if not args.stack_json.is_file():
        p.error(f"{args.stack_json}: no such file (is the stack up?)")
    if args.restore:
        try:
            result = restore(Stack(args.stack_json))
        except Exception as exc:  # noqa: BLE001 - the JSON line says it
            result = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        result = run(Stack(args.stack_json), args.scenario)
    result["finished_at"] = datetime.now(timezone.utc).isoformat(
        timespec="seconds")
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())

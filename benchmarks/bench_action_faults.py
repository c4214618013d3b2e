#!/usr/bin/env python3
"""Seconds until ``adaptive_migrate`` and an audit give up on a fault.

The functional tests check what happens on each fault (the order of the
messages and of Nova's requests, the outcome, nothing left running); how
fast it happens is measured here, against targets, so that a slow or
loaded machine fails no test.  Each scenario runs ``--runs`` times and
its median and worst seconds are printed as one JSON document, with the
target and whether the worst run met it:

* the action (``adaptive_migrate`` through Watcher's factory, the
  Compute-API stand-in of ``tests/functional/compute_api.py``, the
  destination agent's RPC endpoint in this process on a RabbitMQ of
  ``tools/services/10-rabbitmq.sh``): Nova refuses (target 10 s); the
  migration outlasts ``migration_timeout`` = 1.5 s (from 1.5 s, target
  8 s); no agent listens, ``agent_timeout`` = 1 s (three messages given
  up, target 3 x (2 x 1 + 2) + 5 = 17 s); the broker cut through a TCP
  proxy from the start, mid-migration, or mid-migration for good
  (target 20 s);
* the audit (the strategy through Watcher's loader, reading Gnocchi
  through an HTTP fault proxy; no Gnocchi needed): Gnocchi answers 503
  (target 10 s), hangs beyond a 1 s timeout (two attempts and the
  back-off: 2 x 1 + 0.2 + 3 = 5.2 s), or is down (10 s).

Usage: WA_STATE_DIR=... python benchmarks/bench_action_faults.py
       [--runs 3] [--transport-url rabbit://...] [--only action|audit]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: scenario -> target seconds (the bounds the functional tests once
#: asserted)
TARGETS = {
    "action: Nova refuses": 10.0,
    "action: migration timeout 1.5 s": 8.0,
    "action: no agent (agent_timeout 1 s)": 3 * (2 * 1.0 + 2.0) + 5,
    "action: broker cut from the start": 20.0,
    "action: broker cut mid-migration": 20.0,
    "action: broker cut mid-migration for good": 20.0,
    "audit: Gnocchi 503": 10.0,
    "audit: Gnocchi hung (1 s timeout)": 2 * 1.0 + 0.2 + 3,
    "audit: Gnocchi down": 10.0,
}


def _transport_url() -> str | None:
    state = Path(os.environ.get(
        "WA_STATE_DIR", Path(tempfile.gettempdir()) /
        "watcher-adaptive-state"))
    f = state / "rabbitmq" / "transport_url"
    return f.read_text().strip() if f.exists() else None


class _Guest:
    """A process that stands for the guest (it has no vCPU threads, so
    the agent changes no affinity: this benchmark times messages)."""

    def __init__(self, tmp: Path) -> None:
        self.proc = subprocess.Popen(["sleep", "3600"])
        (tmp / "guest.pid").write_text(str(self.proc.pid))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def action_scenarios(url: str, tmp: Path) -> dict:
    """Scenario name -> a callable that runs it once and returns its
    seconds."""
    from oslo_config import cfg

    from tests.functional import test_adaptive_migrate as t
    from tests.functional.compute_api import ComputeApiStandIn
    from tests.functional.tcp_proxy import TcpProxy
    from tests.unit.nova_hooks.agent.test_manager import ThisProcessHost

    cfg.CONF([], project="watcher", default_config_files=[])

    def once(behaviour="complete", refuse=None, with_agent=True,
             transport=url, on_live_migrate=None, **options) -> float:
        dest = f"cmp-bench-{uuid.uuid4().hex[:8]}"
        run_dir = tmp / dest
        run_dir.mkdir()
        guest = _Guest(run_dir)
        agent = t.Agent(run_dir, url, dest, ThisProcessHost(
            str(run_dir))) if with_agent else None
        api = ComputeApiStandIn({t.SOURCE: ("enabled", "up"),
                                 dest: ("enabled", "up")},
                                on_live_migrate=on_live_migrate,
                                step_s=0.2).start()
        try:
            vm = str(uuid.uuid4())
            api.add_server(vm, t.SOURCE)
            api.behaviour = behaviour
            if refuse:
                api.refuse_next = refuse
            action = t.make_action(api, t.params(vm, dest), transport,
                                   **options)
            started = time.monotonic()
            action.execute()
            return time.monotonic() - started
        finally:
            api.stop()
            if agent is not None:
                agent.stop()
            guest.close()

    def broker_cut(when: str) -> float:
        host, port = t._host_port(url)
        proxy = TcpProxy(host, port)
        through = url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        if when != "from the start":
            proxy.start()

        def cut(server, target):
            proxy.stop()
            time.sleep(1.5)
            if when == "mid-migration":
                proxy.start()
            time.sleep(0.5)

        try:
            return once(transport=through, agent_timeout=1.0,
                        on_live_migrate=None if when == "from the start"
                        else cut)
        finally:
            proxy.stop()

    return {
        "action: Nova refuses": lambda: once(refuse=(
            409, "Cannot 'os-migrateLive' instance while it is in "
            "task_state migrating")),
        "action: migration timeout 1.5 s": lambda: once(
            behaviour="hang", migration_timeout=1.5),
        "action: no agent (agent_timeout 1 s)": lambda: once(
            with_agent=False, agent_timeout=1.0),
        "action: broker cut from the start": lambda: broker_cut(
            "from the start"),
        "action: broker cut mid-migration": lambda: broker_cut(
            "mid-migration"),
        "action: broker cut mid-migration for good": lambda: broker_cut(
            "mid-migration for good"),
    }


def audit_scenarios(tmp: Path, errors: list) -> dict:
    from tests.functional.http_fault_proxy import FaultProxy
    from tests.unit.strategy import builders
    from tests.unit.strategy.builders import AUDIT
    from watcher_adaptive.adapters import gnocchi
    from watcher_adaptive.replay import watcher_bridge

    hosts = {"cmp-1": {}, "cmp-2": {}}
    vms = {str(uuid.uuid4()): {"host": "cmp-1"} for _ in range(5)}
    for rid, vm in vms.items():
        vm["uuid"] = rid

    def once(fail_status=0, delay_s=0.0, down=False,
             timeout_s=2.0) -> float:
        from watcher.common import utils
        from watcher.decision_engine.loading import default

        # 127.0.0.1:9: nothing behind the proxy (never reached: the
        # proxy answers, hangs, or is itself gone)
        proxy = FaultProxy("http://127.0.0.1:9").start()
        proxy.fail_status, proxy.delay_s = fail_status, delay_s
        if down:
            proxy.stop()
        watcher_bridge._ensure_watcher_conf()
        strategy = default.DefaultStrategyLoader().load(
            "adaptive_migration")
        params = dict(AUDIT)
        utils.StrictDefaultValidatingDraft4Validator(
            strategy.get_schema()).validate(params)
        strategy.input_parameters.update(params)
        sub = tmp / f"audit-{uuid.uuid4().hex[:8]}"
        sub.mkdir()
        strategy.config.journal_path = str(sub / "moves.json")
        strategy._usage_source = gnocchi.GnocchiMetricSource(
            gnocchi.make_client(proxy.url), retries=2, backoff_s=0.2,
            timeout_s=timeout_s, metrics=gnocchi.AUDIT_METRICS)
        strategy._compute_model = builders.make_model(hosts, vms)
        started = time.monotonic()
        try:
            strategy.execute()
        except Exception as exc:  # noqa: BLE001 - the failure is expected
            errors.append(str(exc)[:160])
        finally:
            took = time.monotonic() - started
            if not down:
                proxy.stop()
        return took

    return {
        "audit: Gnocchi 503": lambda: once(fail_status=503),
        "audit: Gnocchi hung (1 s timeout)": lambda: once(
            delay_s=5.0, timeout_s=1.0),
        "audit: Gnocchi down": lambda: once(down=True),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transport-url", default=_transport_url())
    parser.add_argument("--only", choices=("action", "audit"))
    args = parser.parse_args(argv)
    out: dict = {"runs": args.runs, "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scenarios: dict = {}
        #: the audits' errors, as the audit saw them
        errors: list[str] = []
        if args.only in (None, "action"):
            if args.transport_url:
                scenarios.update(action_scenarios(args.transport_url, tmp))
            else:
                out["skipped"] = "action: no RabbitMQ (start " \
                    "tools/services/10-rabbitmq.sh or --transport-url)"
        if args.only in (None, "audit"):
            scenarios.update(audit_scenarios(tmp, errors))
        for name, run in scenarios.items():
            errors.clear()
            seconds = [run() for _ in range(args.runs)]
            worst = max(seconds)
            out["scenarios"][name] = {
                "median_s": round(statistics.median(seconds), 2),
                "max_s": round(worst, 2), "target_s": TARGETS[name],
                "met": worst <= TARGETS[name]}
            if errors:
                out["scenarios"][name]["error"] = errors[-1]
            print(f"{name}: {out['scenarios'][name]}", file=sys.stderr,
                  flush=True)
    out["all_met"] = all(s["met"] for s in out["scenarios"].values())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

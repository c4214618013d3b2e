"""The destination agent for real: nova-adaptive-agent runs as its own
process against host B's libvirtd, gets the forecast over RabbitMQ, and
shapes the guest while a real post-copy live migration from host A is
still pulling its memory."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.functional import libvirt_hosts as lh
from tests.functional.agent_messaging import AgentClient
from tests.functional.agent_messaging import notifications_topic
from tests.functional.conftest import state_dir

pytestmark = [pytest.mark.functional, pytest.mark.slow]
CPUS = sorted(os.sched_getaffinity(0))
MIB = 1024


@pytest.fixture(scope="module")
def hosts(libvirt_hosts_env):
    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs to show an affinity change")
    return libvirt_hosts_env


@pytest.fixture(scope="module")
def transport_url(rabbit_transport_url) -> str:
    return rabbit_transport_url


@pytest.fixture
def guest(hosts):
    name = f"wa-agent-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        lh.remove_guest(hosts, name)


class Agent:
    """A ``nova-adaptive-agent`` process of the test's own, against host
    B: its host name and notifications topic are unique (see
    :mod:`tests.functional.agent_messaging`), its RPC client is one
    transport; :meth:`close` (also run for every agent still open when
    its test ends, passed or not: ``tests/functional/conftest.py``)
    stops the process and releases the client.  ``resource_manager``:
    more lines for its ``[resource_manager]`` section."""

    #: agents not closed yet
    live: "set[Agent]" = set()

    def __init__(self, tmp: Path, hosts: dict, transport_url: str,
                 max_concurrent: int = 2,
                 backends: str = "postcopy_trace,balloon_stats,dirty_rate,"
                                 "numa_maps,damon",
                 resource_manager: str = "") -> None:
        self.tmp = tmp
        self.server = f"hostb-{uuid.uuid4().hex[:8]}"
        self.transport_url = transport_url
        self.notifications_topic = notifications_topic(self.server)
        self.client = AgentClient(transport_url, self.server)
        self.journal = tmp / "journal.jsonl"
        self.log = tmp / "agent.log"
        self.conf = tmp / "agent.conf"
        b = hosts["hosts"]["B"]
        self.conf.write_text(f"""[DEFAULT]
transport_url = {transport_url}
log_file = {self.log}
[agent]
libvirt_uri = {b['uri']}
host = {self.server}
# the test's guests are not Nova's instances
guests = all
journal_path = {self.journal}
qemu_run_dir = {b['qemu_run_dir']}
rpc_enabled = true
notifications_enabled = true
notifications_topic = {self.notifications_topic}
qemu_log_dir = {b['serial_dir']}
hook_marker_dir = {tmp / 'markers'}
steady_manage_s = 3600
max_concurrent_migrations = {max_concurrent}
[page_sampling]
transfer_interval_s = 0.25
interval_s = 1
vm_type_thresholds = m1.tiny:0.4/0.04/20
# dirty_rate too by default (off by default in the product)
backends = {backends}
[resource_manager]
guest_cpus = {CPUS[-1]}
balloon_floor_mib = 96
balloon_headroom_mib = 16
balloon_min_change_mib = 8
balloon_max_step_mib = 64
balloon_require_guest_need = false
# these tests exercise the second monitor during post-copy (off by
# default: it frees nothing before completion)
balloon_during_postcopy = true
{resource_manager}
""")
        self.proc = None
        Agent.live.add(self)

    def start(self) -> None:
        before = len(self.logs())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nova_hooks.cmd.agent", "--config-file",
             str(self.conf)], stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)
        # up, with its RPC endpoint listening (an agent that could not
        # start it lives on and retries later: not up for a test)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log = self.logs()[before:]
            if self.proc.poll() is not None:
                break
            if "rpc could not start" in log:
                break
            if "nova-adaptive-agent up" in log and \
                    f"server {self.server}" in log:
                return
            time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"agent did not come up with its RPC "
                             f"endpoint:\n{self.logs()[before:]}")

    def call(self, method: str, **payload):
        """``method`` over RPC on this agent (10 s timeout)."""
        return self.client.call(method, **payload)

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def records(self) -> list[dict]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in
                self.journal.read_text().splitlines() if line.strip()]

    def stop(self, sig=signal.SIGTERM) -> None:
        """Stop the process (it may be started again); killed when
        ``sig`` did not end it within 60 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=60)
                raise AssertionError(
                    f"agent ignored signal {sig} for 60 s; killed:\n"
                    f"{self.logs()[-3000:]}") from None

    def close(self) -> None:
        """Stop the process for good and release the RPC client."""
        Agent.live.discard(self)
        try:
            self.stop()
        finally:
            self.client.close()


def rpc_call(agent: Agent, method: str, **payload):
    """``method`` on ``agent`` over RPC (its one client)."""
    return agent.call(method, **payload)


def notify_pre(transport_url: str, server: str, instance: str,
               flavor: str, agent: Agent) -> None:
    """Nova's destination compute announcing the incoming migration
    (instance.live_migration_pre.start, as a versioned notification)."""
    import oslo_messaging as messaging
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([], project="nova-adaptive-test")
    transport = messaging.get_notification_transport(conf, url=transport_url)
    notifier = messaging.Notifier(
        transport, publisher_id=f"nova-compute:{server}",
        driver="messagingv2", topics=[agent.notifications_topic])
    payload = {"nova_object.name": "InstanceActionPayload",
               "nova_object.namespace": "nova",
               "nova_object.version": "1.8",
               "nova_object.data": {
                   "uuid": instance, "host": "hosta", "node": "hosta",
                   "flavor": {"nova_object.name": "FlavorPayload",
                              "nova_object.data": {"name": flavor}}}}
    # the listener's queue may still be being declared: say it again
    # until the agent logs it (a repeat changes nothing)
    for _ in range(10):
        notifier.info({}, "instance.live_migration_pre.start", payload)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if "instance.live_migration_pre.start from" in agent.logs():
                transport.cleanup()
                return
            time.sleep(0.2)
    transport.cleanup()
    raise AssertionError(f"the agent never saw the notification:\n"
                         f"{agent.logs()}")


def vcpu_affinity_on(hosts, host, name) -> list[list[int]]:
    from nova_hooks.agent import qemu

    run_dir = hosts["hosts"][host]["qemu_run_dir"]
    vcpus, _ = qemu.threads("/proc", qemu.qemu_pid(run_dir, name))
    return [qemu.get_affinity(vcpus[i]) for i in sorted(vcpus)]


def balloon_kib(hosts, host, name) -> int:
    with lh.connection(hosts, host) as conn:
        return int(conn.lookupByName(name).info()[2])


def _between(records, kind, action, channel, lo, hi):
    return [r for r in records if r["kind"] == kind
            and r.get("action") == action and r.get("channel") == channel
            and lo <= r["ts"] <= hi]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("second_monitor", [True, False],
                         ids=["qmp2", "queued"])
def test_agent_shapes_the_guest_during_postcopy(
        tmp_path, hosts, transport_url, guest, second_monitor):
    agent = Agent(tmp_path, hosts, transport_url)
    agent.start()
    try:
        # with the second monitor, QEMU also traces its post-copy page
        # requests for the postcopy_trace backend
        lh.start_guest(hosts, guest, "A", second_monitor=second_monitor,
                       trace_postcopy=second_monitor)
        with lh.connection(hosts, "A") as conn:
            instance = conn.lookupByName(guest).UUIDString()
        before = lh.wait_heartbeats(hosts, "A", guest, count=2)
        answer = rpc_call(agent, "prepare",
                          version="1.0", instance_uuid=instance,
                          working_set_kib=64 * MIB)
        assert answer["accepted"] and not answer["duplicate"], answer
        notify_pre(transport_url, agent.server, instance, "m1.tiny", agent)
        hint_at = time.time()
        tl = lh.postcopy_migrate(hosts, guest, "A", "B")
        assert tl["ok"], tl
        t0 = tl["t0_wall"]
        # the window opens when the switch to post-copy was asked for:
        # the agent's own event may reach it before the test's does
        pc_start = t0 + tl["postcopy_requested"]
        pc_end = t0 + tl["resumed_on_dst"]
        # let the completion handling land
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                r["kind"] == "done" and r.get("channel") == "queued"
                or (r["kind"] == "done" and r.get("channel") == "libvirt")
                for r in agent.records()):
            if second_monitor and _between(agent.records(), "done",
                                           "balloon", "qmp", 0, 1e12):
                break
            time.sleep(0.5)
        time.sleep(2)
        records = agent.records()
        timeline = {
            "hint received": hint_at - t0,
            "transfer start": 0.0,
            "post-copy start (B)": tl["postcopy_on_dst"],
            "first adjustment": min((r["ts"] for r in records
                                     if r["kind"] == "done"),
                                    default=float("nan")) - t0,
            "completion (B)": tl["resumed_on_dst"],
        }
        print("\ntimeline (s since the migration call):")
        for what, when in timeline.items():
            print(f"  {when:8.3f}  {what}")
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")

        # the flavor from Nova's notification chose the thresholds
        opened = [r for r in records if r["kind"] == "open"]
        assert opened[0]["detail"] == (
            "incoming migration (thresholds 0.4/0.04/20, vm_type m1.tiny)")
        # the guest was sampled while post-copy ran
        observed = [r for r in records if r["kind"] == "observe"]
        during = [r for r in observed if r["after"]["phase"] == "postcopy"]
        assert during, records
        assert "numa_maps" in during[0]["after"]["sources"]
        if second_monitor:
            traced = [r for r in during
                      if "postcopy_trace" in r["after"]["sources"]]
            assert traced and traced[0]["after"]["miss_ratio"] is not None
        # what the agent measured, asked over RPC (the migration action
        # records it in the migration history)
        answer = rpc_call(agent, "status",
                          version="1.0", instance_uuid=instance)
        assert answer["found"], answer
        status = answer["status"]
        print("status:", json.dumps(status, indent=1))
        assert status["phase"] == "steady" and status["rounds"] > 0
        assert "numa_maps" in status["backends"]["active"]
        assert status["figures"]["guest_bytes"] == \
            hosts["guest"]["memory_mib"] * MIB * 1024
        # after completion the libvirt backends watch the guest too
        # (and for the dirty rate's first figure, one of its measuring
        # periods after that backend starts)
        def watched() -> dict:
            return rpc_call(agent, "status", version="1.0",
                            instance_uuid=instance)["status"]

        deadline = time.monotonic() + 60
        status = watched()
        while time.monotonic() < deadline and not (
                {"balloon_stats", "dirty_rate"}
                <= set(status["backends"]["active"])
                and status["figures"].get("dirty_rate_bps") is not None):
            time.sleep(1)
            status = watched()
        assert {"balloon_stats", "dirty_rate"} <= set(
            status["backends"]["active"]), status
        assert status["figures"].get("dirty_rate_bps") is not None
        assert status["figures"].get("guest_need_kib", 0) > 0
        # affinity moved while post-copy was still running ...
        assert _between(records, "done", "vcpu_affinity", "sched",
                        pc_start, pc_end), records
        # (how soon after post-copy began: bench_agent_migration.py's
        # reaction latency, target <= 1 s)
        # ... and really is what the journal says, in libvirt's view too
        assert vcpu_affinity_on(hosts, "B", guest) == [[CPUS[-1]]]
        with lh.connection(hosts, "B") as conn:
            pins = conn.lookupByName(guest).vcpuPinInfo(0)
        assert [c for c, on in enumerate(pins[0]) if on] == [CPUS[-1]]
        memory_mib = hosts["guest"]["memory_mib"]
        target = max(96, 64 + 16) * MIB
        if second_monitor:
            # the balloon moved through the second monitor during post-copy
            assert _between(records, "done", "balloon", "qmp", pc_start,
                            pc_end), records
        else:
            # queued during post-copy, made through libvirt at completion
            assert _between(records, "intent", "balloon", "queued",
                            pc_start, pc_end), records
            assert _between(records, "done", "balloon", "libvirt", pc_end,
                            pc_end + 120), records
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                balloon_kib(hosts, "B", guest) != target:
            time.sleep(0.5)      # the guest gives its pages back
        assert balloon_kib(hosts, "B", guest) == target < memory_mib * MIB
        # the guest carries on, on B
        last_a = max(lh.heartbeats(hosts, "A", guest))
        assert last_a >= before[-1]
        lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)

        # the agent dies (SIGKILL) and starts again: it restores what the
        # journal shows open, and the guest goes back to where it was
        agent.stop(signal.SIGKILL)
        agent.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                vcpu_affinity_on(hosts, "B", guest) != [CPUS]:
            time.sleep(0.5)
        assert vcpu_affinity_on(hosts, "B", guest) == [CPUS]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                balloon_kib(hosts, "B", guest) != memory_mib * MIB:
            time.sleep(0.5)
        assert balloon_kib(hosts, "B", guest) == memory_mib * MIB
        closes = [r for r in agent.records() if r["kind"] == "close"]
        assert closes and closes[-1]["detail"].startswith("restored")
        lh.wait_heartbeats(hosts, "B", guest,
                           above=max(lh.heartbeats(hosts, "B", guest)))
    finally:
        agent.stop()


@pytest.mark.timeout(600)
@pytest.mark.hardening("migration-aborted")
def test_an_aborted_migration_is_undone_and_the_source_untouched(
        tmp_path, hosts, transport_url, guest, hardening):
    import threading

    import libvirt

    agent = Agent(tmp_path, hosts, transport_url)
    agent.start()
    try:
        lh.start_guest(hosts, guest, "A")
        with lh.connection(hosts, "A") as conn:
            instance = conn.lookupByName(guest).UUIDString()
        lh.wait_heartbeats(hosts, "A", guest, count=2)
        source_affinity = vcpu_affinity_on(hosts, "A", guest)
        # a forecast naming a node: the agent pre-configures the affinity
        # as soon as the incoming guest appears, before any page arrived
        answer = rpc_call(agent, "prepare",
                          version="1.0", instance_uuid=instance,
                          preferred_node=0)
        assert answer["accepted"], answer
        result: dict = {}

        def migrate():
            with lh.connection(hosts, "A") as conn:
                try:
                    conn.lookupByName(guest).migrateToURI3(
                        hosts["hosts"]["B"]["migrate_uri"],
                        {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 1},
                        libvirt.VIR_MIGRATE_LIVE
                        | libvirt.VIR_MIGRATE_PEER2PEER
                        | libvirt.VIR_MIGRATE_POSTCOPY)
                    result["ok"] = True
                except libvirt.libvirtError as exc:
                    result["error"] = exc.get_error_message()

        mig = threading.Thread(target=migrate, daemon=True)
        mig.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                r["kind"] == "done" for r in agent.records()):
            time.sleep(0.2)
        preconfigured = [r for r in agent.records() if r["kind"] == "done"]
        assert preconfigured and preconfigured[0]["after"] == [[CPUS[-1]]]
        with lh.connection(hosts, "A") as conn:
            conn.lookupByName(guest).abortJob()
        mig.join(timeout=120)
        assert "error" in result, result
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                r["kind"] == "close" for r in agent.records()):
            time.sleep(0.2)
        records = agent.records()
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")
        closes = [r for r in records if r["kind"] == "close"]
        assert closes and closes[-1]["detail"] == \
            "restored: migration failed", records
        assert lh.active_domains(hosts, "B") == []
        # the source never saw the agent: same affinity, still running
        assert vcpu_affinity_on(hosts, "A", guest) == source_affinity
        last = max(lh.heartbeats(hosts, "A", guest))
        lh.wait_heartbeats(hosts, "A", guest, above=last)
        hardening.record(
            happened="a real migration A->B aborted (abortJob) after the "
            "agent had pre-configured the incoming guest's affinity from "
            "the forecast: the agent restored and closed its session "
            "('restored: migration failed'), B runs nothing, the guest "
            "runs on A with its affinity unchanged",
            lost="nothing (the migration, by the operator's choice)")
    finally:
        agent.stop()


@pytest.mark.timeout(600)
@pytest.mark.hardening("libvirtd-postcopy")
def test_the_agent_follows_libvirtd_through_a_restart(
        tmp_path, hosts, transport_url, guest, hardening):
    """libvirtd on the destination restarts while the agent is idle: the
    agent reconnects, follows events again, and shapes the next
    incoming migration during post-copy."""
    agent = Agent(tmp_path, hosts, transport_url)
    agent.start()
    try:
        lh.start_guest(hosts, guest, "A")
        root = Path(__file__).resolve().parents[2]
        subprocess.run(
            ["bash", str(root / "tools/services/30-libvirt-hosts.sh"),
             "restart-libvirtd", "B"], check=True, capture_output=True,
            env={**os.environ, "WA_STATE_DIR": str(state_dir())},
            timeout=120)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and \
                "events followed again" not in agent.logs():
            time.sleep(0.5)
        assert "events followed again" in agent.logs(), agent.logs()
        assert "lost; reconnecting" in agent.logs()
        tl = lh.postcopy_migrate(hosts, guest, "A", "B")
        assert tl["ok"], tl
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                r["kind"] == "done" for r in agent.records()):
            time.sleep(0.5)
        done = [r for r in agent.records() if r["kind"] == "done"
                and r.get("action") == "vcpu_affinity"]
        assert done and done[0]["ts"] <= tl["t0_wall"] + \
            tl["resumed_on_dst"], agent.records()
        last_a = max(lh.heartbeats(hosts, "A", guest))
        lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)
        hardening.record(
            happened="B's libvirtd restarted while the agent was idle: it "
            "reconnected with back-off, followed events again and shaped "
            "the next incoming migration during its post-copy",
            lost="nothing")
    finally:
        agent.stop()


@pytest.mark.timeout(900)
def test_the_migrate_begin_hook_adds_a_second_monitor_on_the_destination(
        tmp_path, hosts, transport_url, guest):
    """libvirt's qemu hook rewrites the incoming domain's XML on host B
    only (``migrate begin``): the guest, started on A without a second
    monitor, gets one on B, and the agent balloons through it while
    post-copy still runs."""
    root = Path(__file__).resolve().parents[2]
    hook_dir = Path(hosts["hosts"]["B"]["log_dir"]).parent / "etc" / "hooks"
    hook = hook_dir / "qemu"
    hook_dir.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        f"export NOVA_ADAPTIVE_HOOK_MARKER_DIR={tmp_path / 'markers'}\n"
        "export NOVA_ADAPTIVE_HOOK_SECOND_MONITOR="
        "'/run/libvirt/qemu/{name}.qmp2'\n"
        f"exec {sys.executable} -m nova_hooks.cmd.qemu_hook \"$@\"\n")
    hook.chmod(0o755)

    def restart_b():
        # libvirtd looks for hook scripts when it starts
        subprocess.run(
            ["bash", str(root / "tools/services/30-libvirt-hosts.sh"),
             "restart-libvirtd", "B"], check=True, capture_output=True,
            env={**os.environ, "WA_STATE_DIR": str(state_dir())},
            timeout=120)

    restart_b()
    agent = Agent(tmp_path, hosts, transport_url)
    try:
        agent.start()
        lh.start_guest(hosts, guest, "A", second_monitor=False)
        with lh.connection(hosts, "A") as conn:
            instance = conn.lookupByName(guest).UUIDString()
        lh.wait_heartbeats(hosts, "A", guest, count=2)
        answer = rpc_call(agent, "prepare",
                          version="1.0", instance_uuid=instance,
                          working_set_kib=64 * MIB)
        assert answer["accepted"], answer
        tl = lh.postcopy_migrate(hosts, guest, "A", "B")
        assert tl["ok"], tl
        t0 = tl["t0_wall"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                r["kind"] == "done" and r.get("channel") == "qmp"
                for r in agent.records()):
            time.sleep(0.5)
        records = agent.records()
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")
        qmp_done = [r for r in records if r["kind"] == "done"
                    and r.get("action") == "balloon"
                    and r.get("channel") == "qmp"]
        assert qmp_done, records
        assert qmp_done[0]["ts"] <= t0 + tl["resumed_on_dst"]
        run_dir = Path(hosts["hosts"]["B"]["qemu_run_dir"])
        assert (run_dir / f"{guest}.qmp2").is_socket()
        # the hook's marker is on the agent's timeline, before the
        # incoming QEMU started
        status = rpc_call(agent, "status",
                          version="1.0", instance_uuid=instance)["status"]
        timeline = status["timeline_s"]
        assert timeline["hook_migrate_begin"] <= timeline["incoming"]
        last_a = max(lh.heartbeats(hosts, "A", guest))
        lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)
    finally:
        agent.stop()
        hook.unlink()
        restart_b()


def _slow_postcopy_ballooned(hosts, guest, agent, transport_url):
    """Start ``guest`` on A (second monitor), hint the agent, and begin a
    post-copy migration to B slowed to 4 MiB/s in a thread; return once
    the agent ballooned through the second monitor, post-copy still
    running: ``(instance uuid, the migration's timeline dict (filled
    when it ends), its thread)``."""
    import threading

    lh.start_guest(hosts, guest, "A", second_monitor=True)
    with lh.connection(hosts, "A") as conn:
        instance = conn.lookupByName(guest).UUIDString()
    lh.wait_heartbeats(hosts, "A", guest, count=2)
    rpc_call(agent, "prepare", version="1.0",
             instance_uuid=instance, working_set_kib=64 * MIB)
    result: dict = {}
    mig = threading.Thread(target=lambda: result.update(
        lh.postcopy_migrate(hosts, guest, "A", "B",
                            postcopy_bandwidth_mib=4)), daemon=True)
    mig.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            r["kind"] == "done" and r.get("channel") == "qmp"
            for r in agent.records()):
        time.sleep(0.1)
    shaped = [r for r in agent.records() if r["kind"] == "done"]
    assert any(r.get("channel") == "qmp" for r in shaped), shaped
    return instance, result, mig


@pytest.mark.timeout(900)
@pytest.mark.hardening("agent-kill-postcopy")
def test_agent_killed_during_postcopy_restores_and_the_migration_goes_on(
        tmp_path, hosts, transport_url, guest, hardening):
    """SIGKILL while post-copy still pulls the guest's memory (slowed to
    4 MiB/s): the restarted agent restores from its journal while
    post-copy runs (affinity with sched_setaffinity, the balloon through
    the second monitor), the migration completes, the guest lives, and
    it ends with what the journal says."""
    agent = Agent(tmp_path, hosts, transport_url)
    agent.start()
    try:
        _, result, mig = _slow_postcopy_ballooned(hosts, guest, agent,
                                                  transport_url)
        agent.stop(signal.SIGKILL)
        killed_at = time.time()
        agent.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                r["kind"] == "close" for r in agent.records()):
            time.sleep(0.2)
        records = agent.records()
        closed = [r for r in records if r["kind"] == "close"]
        assert closed and closed[-1]["detail"] == \
            "restored: agent restarted", records
        restored_at = closed[-1]["ts"]
        mig.join(timeout=600)
        print("\nkilled", round(killed_at - result["t0_wall"], 2),
              "s after the migration call; restored",
              round(restored_at - result["t0_wall"], 2), "s; completion",
              result.get("resumed_on_dst"), "s")
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")
        assert result["ok"], result
        # the restore happened while post-copy still ran
        assert restored_at < result["t0_wall"] + result["resumed_on_dst"]
        # the guest ends as the journal says: everything as it was
        memory_mib = hosts["guest"]["memory_mib"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                balloon_kib(hosts, "B", guest) != memory_mib * MIB:
            time.sleep(0.5)
        assert balloon_kib(hosts, "B", guest) == memory_mib * MIB
        # the restore sets the affinity back too (read until it has, or
        # the deadline: under load it can trail the balloon)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                vcpu_affinity_on(hosts, "B", guest) != [CPUS]:
            time.sleep(0.5)
        assert vcpu_affinity_on(hosts, "B", guest) == [CPUS]
        last_a = max(lh.heartbeats(hosts, "A", guest))
        lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)
        t0 = result["t0_wall"]
        hardening.record(
            happened=f"post-copy slowed to 4 MiB/s; the agent shaped the "
            f"guest (balloon through the second monitor), was SIGKILLed "
            f"{killed_at - t0:.2f} s after the migration call, restarted "
            f"and restored from its journal at {restored_at - t0:.2f} s "
            f"while post-copy still ran; the migration completed at "
            f"{result['resumed_on_dst']:.1f} s; the guest ends as the "
            f"journal says (full balloon, all CPUs) and keeps running",
            lost="the shaping of that migration (by design: a restarted "
            "agent restores)")
    finally:
        agent.stop()


@pytest.mark.timeout(900)
@pytest.mark.hardening("libvirtd-postcopy")
def test_libvirtd_restarted_during_postcopy(tmp_path, hosts, transport_url,
                                            guest, hardening):
    """The destination's libvirtd restarts while post-copy runs (slowed to
    4 MiB/s).  Measured: the source's migration call fails ("client
    socket is closed") and the source guest is left paused, but QEMU's
    transfer goes on and the guest runs on B, which libvirt then shows
    running/migrated.  The agent reconnects, catches up with that state
    (it may have missed the event), hands its changes to libvirt and
    keeps the guest as the journal says."""
    root = Path(__file__).resolve().parents[2]
    agent = Agent(tmp_path, hosts, transport_url)
    agent.start()
    try:
        instance, result, mig = _slow_postcopy_ballooned(
            hosts, guest, agent, transport_url)
        subprocess.run(
            ["bash", str(root / "tools/services/30-libvirt-hosts.sh"),
             "restart-libvirtd", "B"], check=True, capture_output=True,
            env={**os.environ, "WA_STATE_DIR": str(state_dir())},
            timeout=120)
        mig.join(timeout=600)
        print("\nsource's view of the migration:", result.get("ok"),
              result.get("error"))
        # QEMU finishes the transfer; libvirt on B shows it migrated
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and \
                lh.domain_state(hosts, "B", guest) in ((1, 10), (3, 12)):
            time.sleep(1)     # still in post-copy
        assert lh.domain_state(hosts, "B", guest)[0] == 1    # running
        assert lh.domain_state(hosts, "B", guest)[1] != 10   # migrated
        # the agent caught up: its session reached steady state and its
        # pinning went through libvirt
        deadline = time.monotonic() + 90
        status = {}
        while time.monotonic() < deadline:
            status = rpc_call(agent, "status",
                              version="1.0", instance_uuid=instance)
            if status["found"] and status["status"]["phase"] == "steady":
                break
            time.sleep(1)
        records = agent.records()
        print("journal:", *(json.dumps(r) for r in records), sep="\n  ")
        assert status["status"]["phase"] == "steady", status
        assert "reconnected" in agent.logs()
        with lh.connection(hosts, "B") as conn:
            pins = conn.lookupByName(guest).vcpuPinInfo(0)
        assert [c for c, on in enumerate(pins[0]) if on] == [CPUS[-1]]
        assert vcpu_affinity_on(hosts, "B", guest) == [[CPUS[-1]]]
        # never below the floor the agent was given (96 MiB)
        assert balloon_kib(hosts, "B", guest) >= 96 * MIB
        last = max(lh.heartbeats(hosts, "B", guest))
        lh.wait_heartbeats(hosts, "B", guest, above=last, count=2)
        hardening.record(
            happened=f"B's libvirtd restarted while post-copy (4 MiB/s) "
            f"ran: the source's migration call returned "
            f"{'ok' if result.get('ok') else repr(result.get('error'))}, "
            f"QEMU finished the transfer and B shows the guest running; "
            f"the agent reconnected, caught up with that state, reached "
            f"steady state, handed its pinning to libvirt and kept the "
            f"balloon at {balloon_kib(hosts, 'B', guest) // MIB} MiB (floor "
            f"96)", lost="nothing of the guest; Nova would see the "
            "source's error for a migration that succeeded (a libvirt "
            "limit)")
    finally:
        agent.stop()

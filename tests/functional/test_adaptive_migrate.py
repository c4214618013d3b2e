"""``adaptive_migrate`` for real where it can be: Watcher's own action
factory loads and validates it, the hint and the lifecycle messages go
over the real RabbitMQ to the destination agent's real RPC endpoint
(with the real resource manager and journal; this test process plays
QEMU), and the real python-novaclient drives a Compute-API stand-in
over HTTP (:mod:`tests.functional.compute_api`).  The stand-in is here
for the faults real Nova cannot be made to produce on demand: its
refusals at each step, a migration that errors or never ends, a lost
answer to the migration request, an API outage while the action waits
(the few normal cases beside them share its fixture); the normal path
through real Nova, Watcher's services and the libvirt driver is
``tests/functional/test_openstack_stack.py``.  The other faults are
real: a broker cut through a TCP proxy, an agent that is not there."""
from __future__ import annotations

import os
import threading
import time
import types
import uuid

import pytest

from tests.functional.compute_api import ComputeApiStandIn
from tests.functional.tcp_proxy import TcpProxy
from tests.functional.waiting import until
from tests.unit.nova_hooks.agent.test_manager import ThisProcessHost

pytestmark = [pytest.mark.functional]
pytest.importorskip("watcher")
CPUS = sorted(os.sched_getaffinity(0))
MIB = 1024
SOURCE = "cmp-a"


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


class StandInClients:
    """What the action takes from Watcher's ``OpenStackClients``: a
    keystoneauth1 session (here ``noauth`` on the stand-in's endpoint)
    and a Gnocchi client."""

    def __init__(self, endpoint: str, gnocchi=None) -> None:
        from keystoneauth1 import noauth
        from keystoneauth1 import session

        self.session = session.Session(auth=noauth.NoAuth(
            endpoint=endpoint))
        self._gnocchi = gnocchi

    def gnocchi(self):
        if self._gnocchi is None:
            raise RuntimeError("no Gnocchi in this test")
        return self._gnocchi


class Agent:
    """The destination agent's RPC endpoint on the real broker, in this
    process, with the real manager and journal; what it received is
    kept with its time.  :meth:`close` (also run for one still open
    when its test ends) stops it."""

    #: agents not closed yet
    live: "set[Agent]" = set()

    def __init__(self, tmp_path, transport_url: str, server: str,
                 host) -> None:
        from oslo_config import cfg

        from nova_hooks import conf as agent_conf
        from nova_hooks.agent import rpc
        from nova_hooks.agent.journal import Journal
        from nova_hooks.agent.manager import Manager
        from nova_hooks.core.settings import AgentPolicy
        from nova_hooks.core.types import BalloonPolicy
        from nova_hooks.core.types import PinningPolicy

        conf_file = tmp_path / f"{server}.conf"
        conf_file.write_text(f"[DEFAULT]\ntransport_url = {transport_url}"
                             f"\n[agent]\nhost = {server}\n")
        conf = cfg.ConfigOpts()
        agent_conf.register_opts(conf)
        conf(["--config-file", str(conf_file)], project="wa-test",
             default_config_files=[])
        self.journal = Journal(str(tmp_path / f"{server}.jsonl"))
        self.manager = Manager(host, self.journal, AgentPolicy(
            pinning=PinningPolicy(guest_cpus=frozenset(CPUS[-1:])),
            balloon=BalloonPolicy(floor_kib=64 * MIB, headroom_kib=16 * MIB,
                                  require_guest_need=False)))
        self.received: list[tuple[str, float, dict, dict]] = []
        #: figures added to the answer to ``completed``, as an agent that
        #: measured page temperatures would (today's agent does not)
        self.report: dict = {}
        agent = self

        class Recording(rpc.AgentEndpoint):
            def _handle(self, kind, payload):
                at = time.time()
                answer = super()._handle(kind, payload)
                if kind == "completed" and agent.report:
                    answer = {**answer, "measured": dict(agent.report)}
                agent.received.append((kind, at, payload, answer))
                return answer

        self.endpoint = Recording(self.manager.prepare, self.manager.signal,
                                  self.manager.status)
        self.server = rpc.make_server(conf, self.endpoint)
        Agent.live.add(self)
        try:
            self.server.start()
        except BaseException:
            self.close()
            raise

    def kinds(self) -> list[str]:
        return [k for k, *_ in self.received]

    def close(self) -> None:
        """Stop listening and release the transport (once)."""
        if self not in Agent.live:
            return
        Agent.live.discard(self)
        try:
            self.server.stop()
            self.server.wait()
        finally:
            self.server.transport.cleanup()

    stop = close


@pytest.fixture
def dest() -> str:
    return f"cmp-b-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def agent(tmp_path, rabbit_transport_url, dest, guest_process):
    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs to show an affinity change")
    a = Agent(tmp_path, rabbit_transport_url, dest,
              ThisProcessHost(str(tmp_path)))
    yield a
    a.stop()


@pytest.fixture
def nova_api(dest):
    api = ComputeApiStandIn({SOURCE: ("enabled", "up"),
                             dest: ("enabled", "up")}, step_s=0.2)
    api.start()
    yield api
    api.stop()


def params(instance: str, dest: str) -> dict:
    return {"resource_id": instance, "resource_name": "vm-1",
            "migration_type": "live", "source_node": SOURCE,
            "destination_node": dest,
            "hint": {"vm_type": "web", "profile_id": "2",
                     "expected_hot_kib": 96 * MIB,
                     "expected_hot_source": "class_default",
                     "memory_kib": 512 * MIB, "preferred_node": 0,
                     "forecast": {"quantile": 0.9, "horizon_s": 1800,
                                  "expected_cpu_cores": 1.2,
                                  "upper_cpu_cores": 1.8},
                     "thresholds": {"hot_access_rate": 0.4}}}


def make_action(api: ComputeApiStandIn, input_parameters: dict,
                transport_url: str, gnocchi=None, **options):
    """Through Watcher's own factory: entry point, options registered
    under [watcher_actions.adaptive_migrate], schema validated."""
    from watcher.applier.actions import factory

    db_action = types.SimpleNamespace(action_type="adaptive_migrate",
                                      input_parameters=input_parameters)
    action = factory.ActionFactory().make_action(
        db_action, osc=StandInClients(api.url, gnocchi))
    action.config.update({"agent_transport_url": transport_url,
                          "agent_timeout": 2.0, "poll_interval": 0.2,
                          "migration_timeout": 30.0,
                          "record_history": gnocchi is not None})
    action.config.update(options)
    return action


def agent_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith("agent-") and t.is_alive()]


def test_hint_reaches_the_agent_before_nova_and_migration_completes(
        agent, nova_api, rabbit_transport_url, dest):
    from watcher.common import exception

    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url)
    action.pre_condition()
    t0 = time.time()
    assert action.execute() is True
    took = time.time() - t0
    action.post_condition()

    assert nova_api.servers[vm].host == dest
    assert [m.status for m in nova_api.migrations_of(vm)] == ["completed"]
    assert agent.kinds() == ["prepare", "started", "completed"]
    assert all(answer["accepted"] and not answer["duplicate"]
               for *_, answer in agent.received)
    prepare = agent.received[0][2]
    assert prepare["working_set_kib"] == 96 * MIB
    assert prepare["preferred_node"] == 0
    assert prepare["thresholds"] == {"hot_access_rate": 0.4}
    assert prepare["forecast"]["quantile"] == 0.9
    # one correlation id for the whole conversation
    assert len({p["migration_id"] for _, _, p, _ in agent.received}) == 1
    assert agent.received[2][2]["nova_migration_id"] == \
        str(nova_api.migrations_of(vm)[0].id)
    # the hint arrived before Nova was asked
    posts = [i for i, (m, p, _) in enumerate(nova_api.requests)
             if m == "POST"]
    assert len(posts) == 1 and nova_api.requests[posts[0]][2] == "2.65"
    # the agent's journal shows the forecast's pre-configuration
    records = agent.journal.load()
    pre = [r for r in records if r.vm == vm and r.kind.value == "intent"
           and r.detail.startswith("forecast pre-configuration")]
    assert pre, "\n".join(str(r.to_dict()) for r in records)
    done = [r for r in records if r.kind.value == "done"
            and r.action == pre[0].action and r.seq > pre[0].seq]
    assert done
    started_at, completed_at = agent.received[1][1], agent.received[2][1]
    assert started_at <= done[0].ts <= completed_at
    # the balloon target is the hint's hot set plus the agent's headroom
    balloon = [r.after for r in records if r.kind.value == "done"
               and r.action is not None and r.action.value == "balloon"]
    assert balloon and balloon[-1] == 96 * MIB + 16 * MIB
    print(f"\nsuccess: {took:.2f} s; agent got "
          f"{', '.join(agent.kinds())}; journal {len(records)} records")

    with pytest.raises(exception.ActionSkipped):
        action.pre_condition()       # it is not on the source any more


@pytest.mark.parametrize("code,message", [
    (409, "Cannot 'os-migrateLive' instance while it is in task_state "
          "migrating"),
    (400, "Migration pre-check error: Unable to migrate: no shared "
          "storage"),
])
def test_nova_refusing_fails_cleanly_and_tells_the_agent(
        agent, nova_api, rabbit_transport_url, dest, code, message):
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    nova_api.refuse_next = (code, message)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url)
    action.pre_condition()
    assert action.execute() is False
    assert nova_api.servers[vm].host == SOURCE
    assert nova_api.migrations_of(vm) == []
    # a refusal ends the action at once: the refused request is the last
    # one Nova saw (no waiting on a migration) and no wait was begun
    assert nova_api.requests[-1][0] == "POST", nova_api.requests
    assert action._run.accepted_at is None
    assert agent.kinds() == ["prepare", "aborted"]
    assert action._run.outcome.name == "REFUSED"
    assert action.abort() is True        # nothing runs: nothing to stop
    assert agent.kinds() == ["prepare", "aborted"]


def test_migration_error_leaves_the_server_on_its_source(
        agent, nova_api, rabbit_transport_url, dest):
    from watcher.common import exception

    nova_api.behaviour = "error"
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url)
    assert action.execute() is False
    assert [m.status for m in nova_api.migrations_of(vm)] == ["error"]
    assert agent.kinds() == ["prepare", "started", "aborted"]
    with pytest.raises(exception.ActionExecutionFailure):
        action.post_condition()
    # the manager closed the pre-configured session as restored
    assert any(r.vm == vm and r.kind.value == "close"
               for r in agent.journal.load())


def test_timeout_aborts_the_running_migration(
        agent, nova_api, rabbit_transport_url, dest):
    nova_api.behaviour = "hang"
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         migration_timeout=1.5)
    assert action.execute() is False
    run = action._run
    assert run.outcome.name == "TIMED_OUT"
    # it waited out its timeout on its own clock (never gave up early),
    # then cancelled: Nova saw the request, the polling, then the abort
    assert run.ended_at - run.accepted_at >= 1.5
    assert [m.status for m in nova_api.migrations_of(vm)] == ["cancelled"]
    methods = [m for m, _, _ in nova_api.requests]
    assert methods.count("DELETE") == 1, methods
    assert methods.index("POST") < methods.index("DELETE")
    assert "GET" in methods[methods.index("POST"):methods.index("DELETE")]
    assert nova_api.servers[vm].host == SOURCE
    assert agent.kinds() == ["prepare", "started", "aborted"]


def test_abort_from_watcher_stops_a_running_migration(
        agent, nova_api, rabbit_transport_url, dest):
    nova_api.behaviour = "hang"
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url)
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("ok", action.execute()))
    worker.start()
    assert until(lambda: any(m.status == "running" for m in
                                  nova_api.migrations_of(vm)), 10)
    assert action.abort() is True
    worker.join(10)
    assert not worker.is_alive() and result["ok"] is False
    assert [m.status for m in nova_api.migrations_of(vm)] == ["cancelled"]
    assert agent.kinds().count("aborted") == 1
    assert action._run.outcome.name == "ABORTED"


def test_destination_agent_down_does_not_hold_the_migration(
        nova_api, rabbit_transport_url, dest):
    # no RPC server listens for ``dest``: every call times out
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         agent_timeout=1.0)
    t0 = time.monotonic()
    assert action.execute() is True
    took = time.monotonic() - t0
    action.post_condition()
    # every message was given up (none left waiting), and the migration
    # was asked for after the unanswered hint, not held by it (how long
    # the give-ups take: benchmarks/bench_action_faults.py)
    assert action.messages == [("prepare", None), ("started", None),
                    ("completed", None)]
    assert [m for m, _, _ in nova_api.requests].count("POST") == 1
    assert [m.status for m in nova_api.migrations_of(vm)] == ["completed"]
    # the transport's close may outlive the action on a daemon thread
    # (agent_rpc: beyond the timeout + 2 s; 3 s was not enough at load
    # average 15): it ends, nothing of the action keeps running
    assert until(lambda: not agent_threads(), 30), agent_threads()
    print(f"\nagent down: completed in {took:.2f} s")


@pytest.mark.parametrize("when", ["from_the_start", "mid_migration",
                                  "mid_migration_for_good"])
def test_broker_cut_the_action_still_finishes(
        agent, dest, rabbit_transport_url, when):
    host, port = _host_port(rabbit_transport_url)
    proxy = TcpProxy(host, port)
    url = rabbit_transport_url.replace(f"{host}:{port}",
                                       f"127.0.0.1:{proxy.port}")
    if when != "from_the_start":
        proxy.start()

    def cut_and_restore(server, target):
        # the broker goes away while the guest moves (and comes back)
        proxy.stop()
        time.sleep(1.5)
        if when == "mid_migration":
            proxy.start()
        time.sleep(0.5)

    api = ComputeApiStandIn({SOURCE: ("enabled", "up"),
                             dest: ("enabled", "up")},
                            on_live_migrate=cut_and_restore
                            if when != "from_the_start" else None,
                            step_s=0.2).start()
    try:
        vm = str(uuid.uuid4())
        api.add_server(vm, SOURCE)
        action = make_action(api, params(vm, dest), url, agent_timeout=1.0)
        t0 = time.monotonic()
        assert action.execute() is True
        took = time.monotonic() - t0
        action.post_condition()
    finally:
        api.stop()
        proxy.stop()
    assert api.servers[vm].host == dest
    # every message ended (answered or given up); none left running
    assert [k for k, _ in action.messages][:3] == [
        "prepare", "started", "completed"], action.messages
    assert until(lambda: not agent_threads(), 5), agent_threads()
    got = agent.kinds()
    if when == "from_the_start":
        assert got == []
    elif when == "mid_migration":
        # the driver reconnected: nothing was lost
        assert got == ["prepare", "started", "completed"]
    else:
        assert got == ["prepare", "started"]
    print(f"\nbroker cut {when}: completed in {took:.2f} s; agent got "
          f"{got}")


def _host_port(url: str) -> tuple[str, int]:
    hostport = url.rsplit("@", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.partition(":")
    return host, int(port or 5672)


@pytest.mark.parametrize("behaviour,outcome", [("complete", 0),
                                               ("hang", 2)])
def test_outcome_lands_in_gnocchi_as_migration_history(
        agent, nova_api, rabbit_transport_url, dest, gnocchi_client,
        gnocchi_instances, behaviour, outcome):
    from watcher_adaptive.adapters import migration_history as mh

    vm = gnocchi_instances.new()[0]
    gnocchi_client.resource.create("instance", {"id": vm})
    nova_api.add_server(vm, SOURCE)
    nova_api.behaviour = behaviour
    agent.report = {"hot_kib": 81920, "warm_kib": 40960,
                    "cold_kib": 400000, "miss_ratio": 0.125}
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         gnocchi=gnocchi_client, migration_timeout=2.0)
    before = time.time()
    assert action.execute() is (behaviour == "complete")
    rows = mh.MigrationHistory(gnocchi_client).read(vm)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["outcome"] == outcome
    assert 0 < row["duration_s"] < time.time() - before
    assert row["expected_hot_kib"] == 96 * MIB
    assert row["agent_prepared"] == 1.0
    # Nova's in-progress figures, seen while it ran
    assert row["memory_total_bytes"] == 256 * 2**20
    assert 0 < row["memory_processed_bytes"] <= 256 * 2**20
    if behaviour == "complete":
        assert {k: row[k] for k in agent.report} == agent.report
    else:
        assert "hot_kib" not in row
    assert "downtime_ms" not in row          # Nova does not report it
    policy = gnocchi_client.metric.get(
        "adaptive.migration.outcome", resource_id=vm)["archive_policy"]
    assert policy["name"] == mh.ARCHIVE_POLICY
    print(f"\nhistory ({behaviour}):", row)


def test_unknown_instance_costs_the_migration_nothing(
        nova_api, rabbit_transport_url, dest, gnocchi_client):
    vm = str(uuid.uuid4())               # Gnocchi has no such resource
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         gnocchi=gnocchi_client, agent_timeout=0.5)
    assert action.execute() is True
    assert nova_api.servers[vm].host == dest


def test_nova_api_outage_while_waiting_is_ridden_out(
        nova_api, rabbit_transport_url, dest):
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         agent_timeout=0.5)
    action.pre_condition()
    nova_api.unavailable_gets = 4       # the API restarts mid-migration
    assert action.execute() is True
    assert nova_api.unavailable_gets == 0
    assert nova_api.servers[vm].host == dest


@pytest.mark.parametrize("started", [True, False])
def test_lost_answer_to_the_migration_request(
        nova_api, rabbit_transport_url, dest, started):
    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url,
                         agent_timeout=0.5)
    if started:
        nova_api.lose_next_answer = True     # Nova took it, answer lost
    else:
        nova_api.refuse_next = (500, "Unexpected API Error.")
    assert action.execute() is started
    assert nova_api.servers[vm].host == (dest if started else SOURCE)
    assert len(nova_api.migrations_of(vm)) == int(started)


def test_nova_api_down_fails_the_pre_condition(
        nova_api, rabbit_transport_url, dest):
    from watcher.common import exception

    vm = str(uuid.uuid4())
    nova_api.add_server(vm, SOURCE)
    action = make_action(nova_api, params(vm, dest), rabbit_transport_url)
    nova_api.unavailable_gets = 100
    with pytest.raises(exception.ActionExecutionFailure, match="503"):
        action.pre_condition()


def test_strategy_output_to_completed_migrations(
        tmp_path, rabbit_transport_url, guest_process):
    """The strategy's adaptive_migrate actions, as planned for an
    overloading host, executed one by one: the hint the strategy wrote
    reaches the agent of the host the plan chose."""
    from tests.functional.strategy_plans import plan_for_overloading_host
    from watcher_adaptive.core import hotset

    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs")
    tag = uuid.uuid4().hex[:6]
    src, dst = f"hot-{tag}", f"calm-{tag}"
    planned, vms = plan_for_overloading_host(tmp_path, src, dst, tag)

    agent = Agent(tmp_path, rabbit_transport_url, dst,
                  ThisProcessHost(str(tmp_path)))
    api = ComputeApiStandIn({src: ("enabled", "up"),
                             dst: ("enabled", "up")}, step_s=0.1).start()
    try:
        for name, instance in vms.items():
            api.add_server(instance, src, name=name)
        t0 = time.monotonic()
        for planned_action in planned:
            action = make_action(api, planned_action["input_parameters"],
                                 rabbit_transport_url)
            action.pre_condition()
            assert action.execute() is True
            action.post_condition()
        took = time.monotonic() - t0
    finally:
        api.stop()
        agent.stop()
    moved = {a["input_parameters"]["resource_id"] for a in planned}
    assert {u for u, s in api.servers.items() if s.host == dst} == moved
    prepares = {p["instance_uuid"]: p for k, _, p, a in agent.received
                if k == "prepare" and a["accepted"]}
    assert set(prepares) == moved
    for p in prepares.values():
        assert p["vm_type"] == "db"
        assert p["working_set_kib"] == round(
            hotset.CLASS_DEFAULT_HOT_SHARE["db"] * 2048 * 1024)
        assert p["forecast"]["horizon_s"] == 1800
    print(f"\nstrategy -> {len(planned)} adaptive_migrate -> completed "
          f"in {took:.2f} s")


@pytest.mark.parametrize("fails", [False, True])
def test_pluggable_mover_carries_the_migration(
        agent, rabbit_transport_url, dest, fails):
    """What the libvirt end-to-end test plugs in: a callable that moves
    the guest while the record says running (here it only walks the
    record into post-copy, as Nova shows it, and waits until the action
    has read the figures of the migration in progress)."""
    calls = []

    def mover(server, host):
        calls.append((server.uuid, host, server.migration.status))
        with api.lock:
            server.migration.status = "running (post-copy)"
            server.migration.memory_processed_bytes = 2**20
            seen = len(api.requests)
        live = f"/servers/{server.uuid}/migrations"

        def read_and_moved_on() -> bool:
            # the action polls one request at a time: a request after
            # its read of the live figures means it has merged them
            after = [path for _, path, _ in api.requests[seen:]]
            return live in after and after.index(live) < len(after) - 1

        assert until(read_and_moved_on, timeout_s=120), api.requests[seen:]
        if fails:
            raise RuntimeError("post-copy failed")

    api = ComputeApiStandIn({SOURCE: ("enabled", "up"),
                             dest: ("enabled", "up")},
                            on_live_migrate=mover, step_s=0.1).start()
    try:
        vm = str(uuid.uuid4())
        api.add_server(vm, SOURCE)
        action = make_action(api, params(vm, dest), rabbit_transport_url)
        assert action.execute() is (not fails)
    finally:
        api.stop()
    assert calls == [(vm, dest, "running")]
    assert api.servers[vm].host == (SOURCE if fails else dest)
    assert [m.status for m in api.migrations_of(vm)] == \
        ["error" if fails else "completed"]
    assert action._run.last.memory_processed_bytes == 2**20
    assert agent.kinds()[-1] == ("aborted" if fails else "completed")

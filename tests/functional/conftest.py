"""Fixtures for tests against the real local services that
``tools/run-tests.sh`` starts (``tools/services/``)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

#: The functional tests run on two xdist workers (``--dist loadgroup``
#: in tools/run-tests.sh), each worker taking whole groups.  Modules that
#: share a machine-wide resource are one group, run one after the other:
#: the two namespace libvirt hosts (and the OpenStack computes on them: a
#: scenario kills a host's libvirtd), and Gnocchi's whole instance list
#: (the 10,000-instance load, and the training job that reads every
#: instance).  Every other module is a group of its own, so that its
#: module-scoped fixtures are set up once.
GROUPS = {
    "libvirt-hosts": ("test_concurrent_migrations", "test_dest_reclaim",
                      "test_destination_agent", "test_end_to_end_migration",
                      "test_libvirt_hosts", "test_openstack_stack",
                      "test_profiler_qemu_ga"),
    "gnocchi-fleet": ("test_audit_at_scale", "test_train_job"),
}
_GROUP_OF = {module: group for group, modules in GROUPS.items()
             for module in modules}


def group_of(nodeid: str) -> str:
    """The group of a functional test (its module's name but for the
    modules of :data:`GROUPS`)."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return _GROUP_OF.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup`` by :func:`group_of`: xdist's own loadgroup
    renames each marked test's node id, which pytest 9 no longer lets
    it do (the tests of a group then ran on both workers)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


#: fixtures that wait for a late job of tools/run-tests.sh
#: (:func:`wait_for_late_job`)
LATE_FIXTURES = frozenset({"stack", "aetos_stack"})


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """A test on the libvirt hosts outside their group could run beside
    one that kills a host's libvirtd: refused at collection.  The tests
    that wait for a late job go after the others (a stable sort of the
    random order: the order among each part is kept), so that their
    group's worker runs its other tests while the OpenStack stack comes
    up (a fresh machine's clean-clone run: the libvirt hosts' worker
    waited 330 s for it in the middle of the group)."""
    stray = sorted({item.nodeid.split("::", 1)[0] for item in items
                    if "libvirt_hosts_env" in item.fixturenames
                    and group_of(item.nodeid) != "libvirt-hosts"})
    if stray:
        raise pytest.UsageError(
            f"{', '.join(stray)} use(s) the libvirt hosts: add the module "
            "to GROUPS['libvirt-hosts'] in tests/functional/conftest.py")
    items.sort(key=lambda item: bool(LATE_FIXTURES
                                     & set(item.fixturenames)))


def state_dir() -> Path:
    default = Path(os.environ.get("TMPDIR", "/tmp")) / \
        "watcher-adaptive-state"
    return Path(os.environ.get("WA_STATE_DIR", default))


#: how long a test waits for a late job of tools/run-tests.sh (the
#: OpenStack stack's install and bring-up took 1,113 s on a fresh,
#: loaded machine)
LATE_JOB_TIMEOUT_S = 2400.0


def wait_for_late_job(job: str) -> None:
    """Return once ``job`` (a background job of tools/run-tests.sh, e.g.
    ``45-openstack-up``) has ended, when this run started it: the
    functional tests start while the OpenStack stack and Aetos's
    Keystone are still coming up (``$WA_LATE_JOBS``, the jobs' log
    directory).  A run without the variable, or without that job, does
    not wait."""
    logs = os.environ.get("WA_LATE_JOBS")
    if not logs or not (Path(logs) / f"{job}.log").exists():
        return
    done = Path(logs) / f"{job}.rc"
    deadline = time.monotonic() + LATE_JOB_TIMEOUT_S
    while not done.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{job} still running after "
                        f"{LATE_JOB_TIMEOUT_S:.0f} s (log: {logs}/{job}.log)")
        time.sleep(2)


@pytest.fixture(scope="session")
def gnocchi_endpoint() -> str:
    base = state_dir() / "gnocchi"
    if (base / "unavailable").exists():
        pytest.skip("Gnocchi unavailable: "
                    + (base / "unavailable").read_text().strip())
    if not (base / "endpoint").exists():
        pytest.skip(f"Gnocchi not started ({base}/endpoint missing; run "
                    "the tests through tools/run-tests.sh)")
    return (base / "endpoint").read_text().strip()


@pytest.fixture(scope="session")
def gnocchi_client(gnocchi_endpoint):
    from watcher_adaptive.adapters import gnocchi
    return gnocchi.make_client(gnocchi_endpoint)


@pytest.fixture(scope="module")
def profile_policy(gnocchi_endpoint):
    """The profiles' archive policy and rule, made by the setup command."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "watcher_adaptive.cmd.main",
                          "profiler-setup", "--gnocchi", gnocchi_endpoint],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "watcher-adaptive-profile" in out.stdout
    return "watcher-adaptive-profile"


def seed_instances(ids: list[str], archive_policy: str,
                   metrics: tuple[str, ...] = ("cpu",), vcpus: float = 2.0,
                   processes: int = 2, timeout_s: float = 900.0) -> bool:
    """Create ``instance`` resources through the indexer of the Gnocchi
    that ``tools/services/20-gnocchi.sh`` started
    (``tools/services/gnocchi_seed.py``: no batch endpoint exists for
    resources, and one REST request each makes 10,000 take minutes).
    Returns ``False``, having done nothing, when that server is not
    ours to reach that way (then create them through the API)."""
    import subprocess
    import tempfile

    base = state_dir() / "gnocchi"
    python, conf = base / "venv" / "bin" / "python", base / "gnocchi.conf"
    if not (python.exists() and conf.exists()):
        return False
    script = Path(__file__).resolve().parents[2] / "tools" / "services" \
        / "gnocchi_seed.py"
    cmd = [str(python), str(script), "--config-file", str(conf),
           "--archive-policy", archive_policy, "--vcpus", str(vcpus)]
    for metric in metrics:
        cmd += ["--metric", metric]
    with tempfile.TemporaryDirectory() as tmp:
        running = []
        for k in range(processes):
            part = Path(tmp) / f"ids-{k}"
            part.write_text("\n".join(ids[k::processes]) + "\n")
            with part.open() as stdin:
                running.append(subprocess.Popen(
                    cmd, stdin=stdin, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True))
        for proc in running:
            out, err = proc.communicate(timeout=timeout_s)
            assert proc.returncode == 0, err[-2000:]
    return True


def wait_for_measures(client, expected: dict[tuple[str, str], int],
                      timeout_s: float = 180.0,
                      granularity: int = 300) -> None:
    """Block until every ``(resource_id, metric)`` of ``expected`` has at
    least its number of aggregated points (``mean`` at ``granularity``).

    Each read asks with ``refresh=true``: the API aggregates that
    metric's waiting measures itself, so the wait is on exactly the
    metrics the test reads, not on gnocchi-metricd's backlog, which
    other tests' (or the 10,000-VM test's) metrics may fill.  On the
    deadline it names every metric short of its points."""
    from gnocchiclient import exceptions as gexc

    pending = dict(expected)
    got: dict[tuple[str, str], int | str] = {}
    deadline = time.monotonic() + timeout_s
    while pending:
        for (rid, metric), n in list(pending.items()):
            try:
                points = client.metric.get_measures(
                    metric, resource_id=rid, granularity=granularity,
                    aggregation="mean", refresh=True)
            except (gexc.ClientException, OSError) as exc:
                # e.g. 503 while metricd holds the metric's lock
                got[rid, metric] = f"{type(exc).__name__}: {exc}"
                continue
            got[rid, metric] = len(points)
            if len(points) >= n:
                del pending[rid, metric]
        if not pending:
            return
        if time.monotonic() > deadline:
            missing = ", ".join(
                f"{m} of {r}: {got.get((r, m))} of {n} points"
                for (r, m), n in sorted(pending.items()))
            raise AssertionError(
                f"Gnocchi did not aggregate {len(pending)} of "
                f"{len(expected)} metric(s) within {timeout_s:.0f} s: "
                f"{missing}")
        time.sleep(0.5)


def wait_for_points(client, resource_id: str, metric: str, n: int,
                    timeout_s: float = 180.0) -> None:
    """:func:`wait_for_measures` for one metric."""
    wait_for_measures(client, {(resource_id, metric): n}, timeout_s)


def delete_instances(client, ids: list[str], chunk: int = 500) -> None:
    """Delete ``instance`` resources (and so their metrics) by id, a
    batch request per ``chunk``; ids Gnocchi does not hold are fine."""
    for lo in range(0, len(ids), chunk):
        client.resource.batch_delete(
            {"in": {"id": list(ids[lo:lo + chunk])}},
            resource_type="instance")


class OwnedInstances:
    """The ``instance`` resources one test creates in the shared Gnocchi:
    fresh ids, deleted when the test ends (passed or not), so that no
    test reads, waits on or depends on another's."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def new(self, n: int = 1) -> list[str]:
        """``n`` fresh instance ids, owned by this test."""
        ids = [str(uuid.uuid4()) for _ in range(n)]
        self.ids += ids
        return ids

    def adopt(self, *ids: str) -> None:
        """Own ids made elsewhere (deleted with the others)."""
        self.ids += [i for i in ids if i not in self.ids]


@pytest.fixture
def gnocchi_instances(gnocchi_client):
    owned = OwnedInstances()
    yield owned
    delete_instances(gnocchi_client, owned.ids)


@pytest.fixture(scope="session")
def prometheus_endpoint() -> str:
    """The private Prometheus of ``tools/services/50-prometheus.sh``."""
    base = state_dir() / "prometheus"
    if (base / "unavailable").exists():
        pytest.skip("Prometheus unavailable: "
                    + (base / "unavailable").read_text().strip())
    if not (base / "endpoint").exists():
        pytest.skip(f"Prometheus not started ({base}/endpoint missing; run "
                    "the tests through tools/run-tests.sh)")
    return (base / "endpoint").read_text().strip()


class OwnedSeries:
    """What one test puts in the shared Prometheus: fresh label values
    (its series are deleted when it ends) and scrape targets (a file in
    the server's file-SD directory, removed when it ends)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.values: list[str] = []
        self.target_files: list[Path] = []

    def new(self, n: int = 1) -> list[str]:
        """``n`` fresh uuids, owned by this test."""
        ids = [str(uuid.uuid4()) for _ in range(n)]
        self.values += ids
        return ids

    def adopt(self, *values: str) -> None:
        self.values += [v for v in values if v not in self.values]

    def scrape(self, address: str, labels: dict[str, str]) -> None:
        """Have the server scrape ``address`` (host:port) with
        ``labels`` on its target."""
        import json

        path = state_dir() / "prometheus" / "targets" / \
            f"{uuid.uuid4()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": [address],
                                    "labels": labels}]))
        tmp.rename(path)            # the watcher never sees half a file
        self.target_files.append(path)

    def cleanup(self) -> None:
        import requests

        for path in self.target_files:
            path.unlink(missing_ok=True)
        for label in ("resource", "fqdn"):
            for lo in range(0, len(self.values), 500):
                regex = "|".join(self.values[lo:lo + 500])
                requests.post(
                    f"{self.endpoint}/api/v1/admin/tsdb/delete_series",
                    params={"match[]": f'{{{label}=~"{regex}"}}'},
                    timeout=60)


@pytest.fixture
def prometheus_series(prometheus_endpoint):
    owned = OwnedSeries(prometheus_endpoint)
    yield owned
    owned.cleanup()


@pytest.fixture(scope="module")
def agent_pyz(tmp_path_factory) -> Path:
    """The guest agent as the zipapp a guest runs."""
    from watcher_adaptive.profiler import zipapp

    return zipapp.build(tmp_path_factory.mktemp("pyz") / "agent.pyz")


@pytest.fixture(scope="module")
def libvirt_hosts_env() -> dict:
    """``hosts.json`` of the two local libvirt hosts, with libvirt-python
    importable; skips with the reason otherwise."""
    from tests.functional import libvirt_hosts as lh

    try:
        hosts = lh.load_hosts()
    except lh.Unavailable as e:
        pytest.skip(str(e))
    pytest.importorskip(
        "libvirt", reason="libvirt-python not installed (pip install "
        "'.[host-agent]'; it builds against libvirt-dev)")
    return hosts


class PrivateBroker:
    """The private RabbitMQ node of ``tools/services/10-rabbitmq.sh``,
    which the restart tests may stop and start (never the shared one)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.restarts = 0

    def restart(self) -> float:
        """Stop and start the node for real; the seconds it took."""
        import subprocess

        root = Path(__file__).resolve().parents[2]
        started = time.monotonic()
        subprocess.run(["bash", str(root / "tools/services/10-rabbitmq.sh"),
                        "private-restart"], check=True,
                       capture_output=True, timeout=180,
                       env={**os.environ, "WA_STATE_DIR": str(state_dir())})
        self.restarts += 1
        return time.monotonic() - started


@pytest.fixture(scope="session")
def private_broker() -> PrivateBroker:
    base = state_dir() / "rabbitmq"
    if (base / "private_unavailable").exists():
        pytest.skip("private RabbitMQ node unavailable: "
                    + (base / "private_unavailable").read_text().strip())
    if not (base / "private_transport_url").exists():
        pytest.skip("private RabbitMQ node not started (run the tests "
                    "through tools/run-tests.sh)")
    if not (base / "rabbit.pid").exists():
        pytest.skip("the private RabbitMQ node on 5673 belongs to another "
                    "checkout's run: not ours to restart")
    return PrivateBroker((base / "private_transport_url").read_text()
                         .strip())


@pytest.fixture(scope="session")
def rabbit_transport_url() -> str:
    """The broker ``tools/services/10-rabbitmq.sh`` found or started."""
    base = state_dir() / "rabbitmq"
    if (base / "unavailable").exists():
        pytest.skip("RabbitMQ unavailable: "
                    + (base / "unavailable").read_text().strip())
    if not (base / "transport_url").exists():
        pytest.skip("RabbitMQ not started (run the tests through "
                    "tools/run-tests.sh)")
    return (base / "transport_url").read_text().strip()


@pytest.fixture(autouse=True)
def _no_agent_outlives_its_test():
    """Every destination agent a test made (a process, or the RPC
    endpoint in this process) is stopped and its connections released
    when the test ends, passed or failed, so that none answers, follows
    libvirt's events or holds broker connections in a later test."""
    yield
    for name in ("tests.functional.test_destination_agent",
                 "tests.functional.test_adaptive_migrate"):
        module = sys.modules.get(name)
        agent_class = getattr(module, "Agent", None)
        for agent in list(getattr(agent_class, "live", ())):
            agent.close()


#: a stand-in for QEMU: two threads named as libvirt names vCPU threads,
#: its main thread an emulator thread; it lives until its stdin closes
_GUEST = """
import sys, threading
ready = threading.Barrier(3)
def run(i):
    tid = threading.get_native_id()
    with open(f"/proc/self/task/{tid}/comm", "w") as f:
        f.write(f"CPU {i}/TCG")
    ready.wait()
    threading.Event().wait()
for i in range(2):
    threading.Thread(target=run, args=(i,), daemon=True).start()
ready.wait()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def guest_process(tmp_path) -> int:
    """A process of the test's own that plays the guest's QEMU for an
    agent in this process (``ThisProcessHost`` of ``tmp_path``): its pid
    in ``tmp_path/guest.pid``.  The agent's affinity changes land on it,
    not on the test process, whose threads and every process it starts
    meanwhile (a broker, an agent) would inherit them; it is killed when
    the test ends."""
    proc = subprocess.Popen([sys.executable, "-c", _GUEST],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", \
            "the guest stand-in did not start"
        (tmp_path / "guest.pid").write_text(str(proc.pid))
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()

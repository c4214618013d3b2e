"""Fixtures for tests against the real local services that
``tools/run-tests.sh`` starts (``tools/services/``)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def state_dir() -> Path:
    default = Path(os.environ.get("TMPDIR", "/tmp")) / \
        "watcher-adaptive-state"
    return Path(os.environ.get("WA_STATE_DIR", default))


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


def wait_for_points(client, resource_id: str, metric: str, n: int,
                    timeout_s: float = 90.0) -> None:
    """Block until metricd has aggregated ``n`` points of ``metric``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        points = client.metric.get_measures(
            metric, resource_id=resource_id, granularity=300,
            aggregation="mean")
        if len(points) >= n:
            return
        time.sleep(0.5)
    raise AssertionError(f"gnocchi-metricd did not process {metric} of "
                         f"{resource_id} within {timeout_s} s")


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

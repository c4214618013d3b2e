"""The profiler's host collector as its own process, and the guest side
of the functional profiler tests: the real guest agent (the zipapp on a
bare interpreter), instances in Gnocchi, and what of a guest landed."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAFFIC = Path(__file__).with_name("guest_traffic.py")


class Collector:
    def __init__(self, tmp: Path, endpoint: str, guests: list[str],
                 **options) -> None:
        self.tmp = tmp
        self.status_path = tmp / "status.json"
        # Unix socket paths are limited to 107 bytes: pytest's tmp_path
        # with a uuid file name can be longer
        self.socket_dir = Path(tempfile.mkdtemp(prefix="wa-", dir="/tmp"))
        opts = {"channel": "socket", "guest_discovery": "static",
                "guests": ",".join(guests), "socket_dir": self.socket_dir,
                "spool_path": tmp / "spool.sqlite",
                "status_path": self.status_path, "gnocchi_auth": "basic",
                "gnocchi_endpoint": endpoint, "flush_interval": 0.3,
                "status_interval": 0.2, "records_per_minute": 120,
                "burst": 10, "max_backoff": 1, "poll_interval": 1}
        opts.update(options)
        conf = tmp / "collector.conf"
        conf.write_text("[profiler_collector]\n" + "".join(
            f"{k} = {v}\n" for k, v in opts.items()))
        self.log = open(tmp / "collector.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher_adaptive.cmd.collector",
             "--config-file", str(conf)], stdout=self.log,
            stderr=subprocess.STDOUT)
        self.wait(lambda s: True)

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def wait(self, ok, timeout_s: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logs()
            st = self.status()
            if st and ok(st):
                return st
            time.sleep(0.2)
        raise AssertionError(f"status never matched: {self.status()}\n"
                             f"{self.logs()}")

    def socket(self, guest: str) -> str:
        return str(self.socket_dir / f"{guest}.sock")

    def memory_kib(self) -> dict[str, int]:
        """``VmRSS`` and ``VmHWM`` (the peak resident set) in KiB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text() \
                .splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields

    def logs(self) -> str:
        self.log.flush()
        return (self.tmp / "collector.log").read_text()[-3000:]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        return rc


def run_agent(pyz: Path, socket_path: str, count: int) -> subprocess.Popen:
    """A guest agent in its own process, on a bare interpreter."""
    return subprocess.Popen([sys.executable, "-I", str(pyz), "--channel",
                             f"unix:{socket_path}", "--interval", "1",
                             "--count", str(count), "--no-perf"])


def landed(client, resource_id: str, timeout_s: float = 90.0,
           expect: int | None = None,
           metric: str = "adaptive.cpu.count") -> int:
    """Records of ``resource_id`` Gnocchi holds (the count aggregate of
    one profile metric, once metricd caught up)."""
    deadline = time.monotonic() + timeout_s
    total = 0
    while time.monotonic() < deadline:
        try:
            points = client.metric.get_measures(
                metric, resource_id=resource_id,
                aggregation="count", granularity=30, refresh=True)
        except Exception:  # noqa: BLE001 - metric not created yet
            points = []
        total = int(sum(p[2] for p in points))
        if expect is None or total >= expect:
            return total
        time.sleep(0.5)
    return total


def make_instances(client, owned, *ids: str) -> None:
    """Create ``ids`` as instances owned by the test (``owned``: the
    ``gnocchi_instances`` fixture, which deletes them afterwards)."""
    owned.adopt(*ids)
    for rid in ids:
        client.resource.create("instance", {"id": rid})


def start_traffic(tmp: Path, name: str, plan: dict) -> subprocess.Popen:
    """Guests of ``plan`` (see ``guest_traffic.py``) in one process."""
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(plan))
    return subprocess.Popen([sys.executable, str(TRAFFIC), str(path)],
                            stdout=subprocess.PIPE, text=True)


def traffic_report(proc: subprocess.Popen, timeout_s: float = 120.0
                   ) -> dict[str, dict]:
    """Socket path -> what that guest sent (``{"sent": {kind: n},
    "bytes": n, "started": t, "ended": t}``)."""
    out, _ = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, out
    return json.loads(out)["guests"]

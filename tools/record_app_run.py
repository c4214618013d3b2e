"""Record the guest agent beside a real application under its schedule.

One run = one application kind and seed: the schedule
``tools/data/profile-schedules/<kind>-<seed>.json``
(``tools/make_profile_schedules.py``) says what the application does,
second by second.  The application, its load generator and the guest
agent run together in their own PID, mount and network namespaces and
in a cgroup of their own (cgroup v1: ``cpuacct`` and ``memory``), so
that:

* the agent sees the application's processes (``/proc/<pid>/io``) and
  network (``/proc/net``: only the namespace's loopback) and nothing of
  the host's;
* it still sees the host's CPU, memory and disk totals (``/proc/stat``,
  ``/proc/meminfo``, ``/proc/diskstats`` are not namespaced): neighbours
  show there as they would to a guest without its own kernel;
* the demand to forecast is measured outside, from the cgroup: CPU
  seconds (``cpuacct.usage``) and memory in use per interval.

Each output line (gzip'd JSON lines) is ``{"t", "phase", "level",
"agent_cpu_ms", "cpu_cores", "cpu_wait_cores", "mem_mib", "load1",
"record"}``, ``record`` being the agent's and ``agent_cpu_ms`` the CPU
time its sampling took; ``cpu_wait_cores`` is the time the application's
live threads waited for a CPU (a busy machine's neighbours), so that
got + waited comes nearer to what it asked for.
Needs root, ``unshare`` and ``ip``.  Every kind has a driver:
``redis`` (``redis-server``, ``redis-benchmark``), ``postgres`` (a
PostgreSQL server of its own under ``pgbench``), ``nginx`` (under
ApacheBench) and the batch kinds ``etl``, ``backup``, ``compile``,
``ml-training`` and ``idle-cron`` (standard tools looped on a duty
cycle: ``dd``, ``gzip``, ``tar``, ``find``, ``gcc``, numpy).
``tools/services/42-recorder-tools.sh up`` installs what they need.

    python tools/record_app_run.py --kind redis --seed 1 \\
        --output tools/data/profile-apps/redis-1.jsonl.gz

``--time-scale 0.05`` plays the schedule 20 times faster (a test).
``--cpu-shares N`` adds the run's own ``cpu`` cgroup with that weight
against the machine's other processes (1024 each): on a busy machine
the application then gets near what it asks for instead of a
neighbour's share (the functional test uses it; the data set's runs
so far were recorded without it).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable
from typing import Iterator
from typing import Optional

import numpy as np

from watcher_adaptive.evaluate import profile_schedule
from watcher_adaptive.exceptions import ProfileDataError
from watcher_adaptive.profiler.guest import agent as guest_agent

SCHEDULES = Path(__file__).resolve().parent / "data" / "profile-schedules"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpuacct", "memory")
#: the inner process's first line: the application and the agent are up
STARTED = {"started": True}


def as_user(user: str, argv: list[str]) -> list[str]:
    """``argv`` run as ``user``; ``setpriv`` execs it (no process in
    between to swallow the signals that stop it)."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}",
            "--init-groups", "--", *argv]


def answers(probe: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until the server answers ``probe``, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within "
                               f"{seconds:g} s")
        time.sleep(0.1)


class _Job:
    """At most one process at a time: a load batch or a duty cycle."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def busy(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, argv: list[str], cwd: Optional[Path] = None) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def loop(self, command: str, seconds: float, cwd: Path,
             user: Optional[str] = None) -> None:
        """``command`` again and again for ``seconds``, then idle: a
        duty cycle whose busy share follows the schedule's level."""
        argv = ["timeout", f"{seconds:.2f}", "sh", "-c",
                f"while :; do {command}; done"]
        self.run(as_user(user, argv) if user else argv, cwd)

    def stop(self) -> None:
        if self.busy():
            assert self.proc is not None
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Redis:
    """``redis-server`` on the namespace's loopback, driven by
    ``redis-benchmark`` at the schedule's request rate (one batch per
    interval, sized to the rate); ``snapshot`` phases fork a ``BGSAVE``
    to disk."""

    tools = ("redis-server", "redis-benchmark", "redis-cli")
    #: requests per second at level 1: about what this 2-core machine
    #: serves (13,700 GET or SET a second measured, loaded), so that the
    #: peak saturates the CPU and the quiet phases are quiet
    max_rate = 20000
    port = 6379

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = _Job()
        self.bench = _Job()
        self.saved_at = -1.0

    def start(self) -> None:
        self.server.run(
            ["redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--dir", str(self.workdir), "--save", "",
             "--appendonly", "no"])
        answers(lambda: self._cli("PING") == "PONG", 10, "redis-server")
        # a data set for the snapshots to write
        self._cli("DEBUG", "POPULATE", "200000", "key", "256")

    def drive(self, phase: str, level: float, seconds: float) -> None:
        """Start the next ``seconds`` of load at ``level`` and return at
        once: the agent samples while the requests run.  A batch still
        running (the server could not keep up) is left to finish."""
        if phase == "snapshot" and time.monotonic() - self.saved_at > 30:
            self.saved_at = time.monotonic()
            self._cli("BGSAVE")
        requests = int(self.max_rate * level * seconds)
        if self.bench.busy() or requests < 10:
            return
        clients = max(1, min(50, int(50 * level)))
        self.bench.run(
            ["redis-benchmark", "-p", str(self.port), "-q", "-n",
             str(requests), "-c", str(clients), "-t", "get,set,lpush",
             "-d", "256", "-r", "200000"])

    def stop(self) -> None:
        self.bench.stop()
        self.server.stop()

    def _cli(self, *words: str) -> str:
        done = subprocess.run(["redis-cli", "-p", str(self.port), *words],
                              capture_output=True, text=True, timeout=30,
                              check=False)
        return done.stdout.strip()


class Postgres:
    """A PostgreSQL server of its own (``initdb`` in the work directory,
    run as the ``postgres`` user, Unix socket only) under ``pgbench``'s
    TPC-B-like transactions at the schedule's rate (``-R``, one batch per
    interval).  The report window first reads the accounts table in
    full (``report_read``), then aggregates and sorts it with little
    ``work_mem`` (``report``: CPU and temporary files), while the
    transactions go on at a fifth of the peak rate."""

    tools = ("pgbench", "psql", "setpriv", "pg_config")
    user = "postgres"
    #: transactions per second at level 1: what this 2-core machine
    #: commits with ``synchronous_commit = off`` (4,800-5,000 a second
    #: measured with 4 and 16 clients, unpaced), so that the peak
    #: saturates the CPU
    max_rate = 5000
    scale = 10  # pgbench_accounts: 1,000,000 rows, about 150 MiB
    reports = {
        "report_read": "SELECT * FROM pgbench_accounts",
        "report": "SET work_mem = '4MB'; SELECT aid % 9973 AS k, "
                  "sum(abalance), count(*) FROM pgbench_accounts "
                  "GROUP BY 1 ORDER BY 2 DESC, 1"}

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.home = workdir / "pg"
        self.server = _Job()
        self.benches = (_Job(), _Job())
        self.report = _Job()

    def _as_user(self, *argv: str) -> list[str]:
        return as_user(self.user, list(argv))

    def start(self) -> None:
        bindir = subprocess.run(["pg_config", "--bindir"], check=True,
                                capture_output=True, text=True
                                ).stdout.strip()
        self.workdir.chmod(0o755)  # the server's user walks into it
        self.home.mkdir()
        shutil.chown(self.home, self.user, self.user)
        subprocess.run(self._as_user(
            f"{bindir}/initdb", "-D", str(self.home / "data"), "-A",
            "trust", "-U", self.user, "--no-sync"), check=True,
            stdout=subprocess.DEVNULL)
        self.server.run(self._as_user(
            f"{bindir}/postgres", "-D", str(self.home / "data"), "-k",
            str(self.home), "-c", "listen_addresses=", "-c",
            "synchronous_commit=off", "-c", "shared_buffers=64MB"))
        answers(lambda: subprocess.run(
            ["pg_isready", "-q", "-h", str(self.home)],
            check=False).returncode == 0, 30, "postgres")
        subprocess.run(self._as_user(
            "pgbench", "-h", str(self.home), "-i", "-q", "-s",
            str(self.scale), self.user), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def drive(self, phase: str, level: float, seconds: float) -> None:
        query = self.reports.get(phase)
        if query is not None and not self.report.busy() \
                and level * seconds >= 0.05:
            sql = query.replace("'", "'\\''")
            self.report.loop(
                f"psql -q -h {self.home} -U {self.user} -c '{sql}' "
                "> /dev/null", level * seconds, self.home, self.user)
        rate = self.max_rate * (0.2 if query is not None else level)
        # pgbench paces itself (-R) for the interval; its start-up and
        # end overrun the interval, so the next batch may start while
        # the last one finishes (two at most)
        free = [b for b in self.benches if not b.busy()]
        if not free or rate * seconds < 1:
            return
        clients = max(1, min(16, int(16 * level)))
        free[0].run(self._as_user(
            "pgbench", "-h", str(self.home), "-n", "-c", str(clients),
            "-j", "1", "-R", f"{rate:.0f}", "-T",
            str(max(1, round(seconds))), self.user))

    def stop(self) -> None:
        self.report.stop()
        for bench in self.benches:
            bench.stop()
        # SIGTERM: a smart shutdown would wait for the clients
        if self.server.busy():
            assert self.server.proc is not None
            self.server.proc.send_signal(signal.SIGINT)
            self.server.proc.wait(timeout=30)


class Nginx:
    """``nginx`` serving static pages on the namespace's loopback (gzip
    on, so that requests cost CPU as a real site's do), driven by
    ApacheBench (``ab``, keep-alive) at the schedule's request rate:
    one batch per interval, sized to the rate."""

    tools = ("nginx", "ab")
    #: requests per second at level 1: what this 2-core machine serves
    #: of the page, gzip'd for each request to 45 KB (920 a second
    #: measured with 10 and 50 clients, unpaced), so that the peak
    #: saturates the CPU
    max_rate = 1000
    port = 8080

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = _Job()
        self.bench = _Job()

    def start(self) -> None:
        w = self.workdir
        self.workdir.chmod(0o755)  # the workers run as nobody
        (w / "www").mkdir()
        # 64 KiB of made-up words: text that costs gzip what a real
        # page does (a repeated string would compress for free)
        rng = np.random.default_rng(0)
        ends = np.cumsum(rng.integers(2, 10, 11000))
        letters = rng.integers(ord("a"), ord("z") + 1, int(ends[-1]),
                               dtype=np.uint8).tobytes().decode()
        text = " ".join(letters[a:b] for a, b in zip([0, *ends[:-1]],
                                                     ends, strict=True))
        (w / "www" / "page.html").write_text(
            "<html><body><p>" + text + "</p></body></html>\n")
        (w / "nginx.conf").write_text(
            f"daemon off; worker_processes 2; pid {w}/nginx.pid;\n"
            f"error_log {w}/error.log;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  access_log {w}/access.log;\n"
            f"  client_body_temp_path {w}/nginx-body;\n"
            f"  proxy_temp_path {w}/nginx-proxy;\n"
            f"  fastcgi_temp_path {w}/nginx-fastcgi;\n"
            f"  uwsgi_temp_path {w}/nginx-uwsgi;\n"
            f"  scgi_temp_path {w}/nginx-scgi;\n"
            "  gzip on; gzip_comp_level 6; gzip_min_length 0;\n"
            "  gzip_http_version 1.0;\n"  # ab speaks HTTP/1.0
            "  gzip_types text/html;\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {w}/www; }}\n"
            "}\n")
        self.server.run(["nginx", "-p", str(w), "-c", str(w / "nginx.conf"),
                         "-e", str(w / "error.log")])
        answers(lambda: subprocess.run(
            ["ab", "-q", "-n", "1",
             f"http://127.0.0.1:{self.port}/page.html"],
            capture_output=True, check=False).returncode == 0, 10, "nginx")

    def drive(self, phase: str, level: float, seconds: float) -> None:
        requests = int(self.max_rate * level * seconds)
        if self.bench.busy() or requests < 10:
            return
        clients = max(1, min(50, int(50 * level)))
        self.bench.run(
            ["ab", "-q", "-k", "-n", str(requests), "-c", str(clients),
             "-H", "Accept-Encoding: gzip",
             f"http://127.0.0.1:{self.port}/page.html"])

    def stop(self) -> None:
        self.bench.stop()
        self.server.stop()


class Batch:
    """A batch kind: each phase is a shell command looped for the
    phase's level times the interval, then idle (a duty cycle), so that
    the demand follows the level.  Reads bypass the page cache
    (``iflag=direct``), writes are synced, as a batch job's bulk I/O is
    on a real disk."""

    tools = ("sh", "timeout", "dd", "gzip")
    #: per kind: phase -> command (run in the work directory, which holds
    #: ``data.bin``, 64 MiB of random bytes)
    commands: dict[str, dict[str, str]] = {
        "etl": {
            "read": "dd if=data.bin of=/dev/null bs=1M iflag=direct",
            "transform": "gzip -6 -c data.bin | gzip -d > /dev/null",
            "write": "dd if=/dev/zero of=out.bin bs=1M count=32 "
                     "oflag=direct conv=fsync"},
        "backup": {
            "walk": "find /usr/share /usr/lib -xdev -printf '%s %p\\n' "
                    "> /dev/null",
            "compress": "tar -cf - -C /usr/share/doc . | gzip -6 "
                        "> /dev/null",
            "write": "dd if=/dev/zero of=out.bin bs=1M count=32 "
                     "oflag=direct conv=fsync"},
        "compile": {
            "fetch": "find /usr/include -name '*.h' -exec cat {} + "
                     "> /dev/null",
            "compile": "gcc -O2 -c prog.c -o prog.o",
            "link": "gcc prog.o -o prog && dd if=prog of=prog.copy "
                    "oflag=direct conv=fsync bs=64k 2>/dev/null"},
        "ml-training": {
            "load": "dd if=data.bin of=/dev/null bs=1M iflag=direct",
            "train": f"{sys.executable} -c 'import numpy as np; "
                     "a = np.random.rand(256, 256); "
                     "[a @ a for _ in range(200)]'",
            "checkpoint": "dd if=data.bin of=ckpt.bin bs=1M count=32 "
                          "oflag=direct conv=fsync"},
        "idle-cron": {
            "cron": "gzip -9 -c data.bin > /dev/null"},
    }

    def __init__(self, workdir: Path, kind: str) -> None:
        self.workdir = workdir
        self.kind = kind
        self.job = _Job()

    def start(self) -> None:
        with open(self.workdir / "data.bin", "wb") as f:
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        # a C file that takes the compiler a while
        body = "\n".join(f"double f{i}(double x) {{ return x * {i} + "
                         f"f{i - 1 if i else 0}(x / 2); }}"
                         for i in range(1, 400))
        (self.workdir / "prog.c").write_text(
            "double f0(double x) { return x; }\n" + body
            + "\nint main(void) { return (int) f399(1.0); }\n")

    def drive(self, phase: str, level: float, seconds: float) -> None:
        command = self.commands[self.kind].get(phase)
        if self.job.busy() or command is None or level * seconds < 0.05:
            return
        self.job.loop(command, level * seconds, self.workdir)

    def stop(self) -> None:
        self.job.stop()


Driver = Redis | Postgres | Nginx | Batch
#: the kinds with a driver: how to make it in a work directory, and the
#: programs it needs
DRIVERS: dict[str, tuple[Callable[[Path], Driver], tuple[str, ...]]] = {
    "redis": (Redis, Redis.tools),
    "postgres": (Postgres, Postgres.tools),
    "nginx": (Nginx, Nginx.tools),
    **{kind: (functools.partial(Batch, kind=kind),
              Batch.tools + (("gcc",) if kind == "compile" else ()))
       for kind in Batch.commands}}


# --- inside the namespaces ---------------------------------------------
class _Lines:
    """The agent's channel: keeps the last record."""

    def __init__(self) -> None:
        self.last: Optional[str] = None

    def send(self, line: str) -> bool:
        self.last = line
        return True

    def close(self) -> None:
        pass


def inner(kind: str, schedule: profile_schedule.Schedule, interval_s: float,
          scale: float) -> int:
    """Run the application and the agent; one JSON line per interval on
    stdout."""
    # the first process of a PID namespace ignores a SIGTERM it has no
    # handler for: without one the recorder could not stop it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as work:
        app = DRIVERS[kind][0](Path(work))
        app.start()
        channel = _Lines()
        agent = guest_agent.Agent(channel, interval_s, use_perf=False)
        agent.start()
        print(json.dumps(STARTED), flush=True)
        started = time.monotonic()
        next_tick = started + interval_s
        try:
            while True:
                t = (time.monotonic() - started) / scale
                if t >= schedule.duration_s:
                    break
                phase = schedule.phase_at(t)
                app.drive(phase.name, phase.level_at(t), interval_s)
                time.sleep(max(0.0, next_tick - time.monotonic()))
                next_tick += interval_s
                # the agent's own cost in a busy guest: the CPU time of
                # its sampling (this thread's, nothing of the drivers')
                spent = time.thread_time()
                agent.tick()
                spent = time.thread_time() - spent
                print(json.dumps({"t": round(t, 1), "phase": phase.name,
                                  "level": round(phase.level_at(t), 3),
                                  "agent_cpu_ms": round(spent * 1e3, 2),
                                  "record": json.loads(channel.last or "{}")},
                                 separators=(",", ":")), flush=True)
        finally:
            app.stop()
    return 0


# --- outside ------------------------------------------------------------
@contextlib.contextmanager
def cgroup(name: str, controllers: tuple[str, ...] = CONTROLLERS
           ) -> Iterator[dict[str, Path]]:
    """A cgroup per controller, removed afterwards (controllers mounted
    together, ``cpu,cpuacct``, share one)."""
    dirs = {c: CGROUP_ROOT / c / name for c in controllers}
    made = list(dict.fromkeys(d.resolve() for d in dirs.values()))
    for d in made:
        d.mkdir()
    try:
        yield dirs
    finally:
        for d in made:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:  # processes still leaving
                    time.sleep(0.1)


def _read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _run_delays_ns(tasks: Path) -> dict[str, int]:
    """Per live thread of the cgroup, the nanoseconds it has waited for
    a CPU since it started (``/proc/<tid>/schedstat``)."""
    delays = {}
    for tid in tasks.read_text().split():
        try:
            delays[tid] = int(Path(f"/proc/{tid}/schedstat").read_text()
                              .split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone since the list was read
    return delays


def waited_ns(before: dict[str, int], now: dict[str, int]) -> int:
    """What the threads alive at ``now`` waited since ``before``: a
    thread born in between counts from its start.  A thread that ended
    in between is not seen; its wait since ``before`` is lost, never
    subtracted (a difference of totals subtracted a finished load
    generator's whole earlier wait: under load, intervals alternated
    between 2.6 cores and nothing)."""
    return sum(max(0, d - before.get(tid, 0)) for tid, d in now.items())


def record(kind: str, seed: int, output: Path, schedules: Path,
           interval_s: float, scale: float,
           cpu_shares: Optional[int] = None) -> int:
    path = schedules / f"{kind}-{seed}.json"
    if not path.is_file():
        raise ProfileDataError(f"{path}: no such schedule "
                               "(tools/make_profile_schedules.py)")
    schedule = profile_schedule.from_dict(json.loads(path.read_text()))
    if kind not in DRIVERS:
        raise ProfileDataError(f"no driver for {kind!r} yet; drivers: "
                               f"{', '.join(DRIVERS)}")
    missing = [t for t in (*DRIVERS[kind][1], "unshare", "ip")
               if shutil.which(t) is None]
    if missing:
        raise ProfileDataError(f"missing on this machine: "
                               f"{', '.join(missing)}")
    if os.geteuid() != 0:
        raise ProfileDataError("needs root (namespaces, cgroups)")
    name = f"wa-record-{kind}-{seed}-{os.getpid()}"
    cmd = ["unshare", "--net", "--pid", "--mount", "--fork", "--mount-proc",
           "--", sys.executable, str(Path(__file__).resolve()), "--inner",
           "--kind", kind, "--seed", str(seed), "--schedules",
           str(schedules), "--interval", str(interval_s), "--time-scale",
           str(scale)]
    lines = 0
    controllers = CONTROLLERS + (("cpu",) if cpu_shares else ())
    with cgroup(name, controllers) as dirs, \
            gzip.open(output, "wt") as out:
        if cpu_shares:
            (dirs["cpu"] / "cpu.shares").write_text(str(cpu_shares))
        def join() -> None:
            # in the child before exec: unshare and all it starts are
            # in the cgroup from their first instruction
            for d in dirs.values():
                (d / "cgroup.procs").write_text(str(os.getpid()))

        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                start_new_session=True, preexec_fn=join)
        assert proc.stdout is not None
        try:
            usage = dirs["cpuacct"] / "cpuacct.usage"
            memory = dirs["memory"] / "memory.usage_in_bytes"
            tasks = dirs["cpuacct"] / "tasks"
            cpu_before, t_before = _read_int(usage), time.monotonic()
            wait_before = _run_delays_ns(tasks)
            for line in proc.stdout:
                doc = json.loads(line)
                cpu_now, t_now = _read_int(usage), time.monotonic()
                wait_now = _run_delays_ns(tasks)
                if doc == STARTED:
                    # the application is up: the first interval starts
                    # here, without the interpreter's and the servers'
                    # start-up
                    cpu_before, t_before = cpu_now, t_now
                    wait_before = wait_now
                    continue
                span = max(t_now - t_before, 1e-3)
                doc["cpu_cores"] = round(
                    (cpu_now - cpu_before) / 1e9 / span, 4)
                # time runnable but waiting for a CPU (neighbours): got +
                # waited is nearer what the application asked for
                doc["cpu_wait_cores"] = round(
                    waited_ns(wait_before, wait_now) / 1e9 / span, 4)
                doc["mem_mib"] = round(_read_int(memory) / 2**20, 1)
                # the machine's load: a busy one understates the demand
                doc["load1"] = round(os.getloadavg()[0], 2)
                cpu_before, t_before = cpu_now, t_now
                wait_before = wait_now
                out.write(json.dumps(doc, separators=(",", ":")) + "\n")
                lines += 1
                if lines % 30 == 0:
                    print(f"{kind}-{seed}: {doc['t']:.0f} of "
                          f"{schedule.duration_s} s, phase {doc['phase']}, "
                          f"{doc['cpu_cores']:.2f} cores",
                          file=sys.stderr, flush=True)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    if code != 0:
        raise RuntimeError(f"the recording's inner process exited {code}")
    print(f"{lines} records -> {output}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--schedules", type=Path, default=SCHEDULES)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="play the schedule this many times its speed "
                             "(below 1: faster)")
    parser.add_argument("--cpu-shares", type=int,
                        help="the run's weight against the machine's other "
                             "processes (cgroup v1 cpu.shares, each of "
                             "them 1024): on a busy machine the "
                             "application then gets what it asks for")
    parser.add_argument("--inner", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 < args.time_scale <= 1:
        parser.exit(2, "record_app_run: --time-scale must be in (0, 1]\n")
    if args.cpu_shares is not None and not 2 <= args.cpu_shares <= 262144:
        parser.exit(2, "record_app_run: --cpu-shares must be in "
                       "[2, 262144]\n")
    try:
        if args.inner:
            schedule = profile_schedule.from_dict(json.loads(
                (args.schedules / f"{args.kind}-{args.seed}.json")
                .read_text()))
            return inner(args.kind, schedule, args.interval,
                         args.time_scale)
        if args.output is None:
            parser.exit(2, "record_app_run: --output is required\n")
        # a stop (SIGTERM) unwinds, so that the run's cgroups and
        # processes go with it
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return record(args.kind, args.seed, args.output, args.schedules,
                      args.interval, args.time_scale, args.cpu_shares)
    except ProfileDataError as exc:
        parser.exit(2, f"record_app_run: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())

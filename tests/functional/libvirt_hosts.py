"""Helpers for the two local libvirt "hosts" that
``tools/services/30-libvirt-hosts.sh`` starts: read ``hosts.json``, start
the tiny TCG guest on one host and live-migrate it with post-copy to the
other, returning a timeline of what happened.

Needs libvirt-python (the ``host-agent`` extra); the module itself imports
it lazily so that reading ``hosts.json`` works without it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from pathlib import Path

HEARTBEAT = re.compile(r"^HB (\d+) ", re.M)


class Unavailable(Exception):
    """The libvirt hosts are not there; the message says why."""


def state_dir() -> Path:
    default = Path(os.environ.get("TMPDIR", "/tmp")) / \
        "watcher-adaptive-state"
    return Path(os.environ.get("WA_STATE_DIR", default)) / "libvirt"


def load_hosts(base: Path | None = None) -> dict:
    """``hosts.json`` as a dict, or :class:`Unavailable` with the reason
    the service script wrote."""
    base = base or state_dir()
    if (base / "unavailable").exists():
        raise Unavailable("libvirt hosts unavailable: "
                          + (base / "unavailable").read_text().strip())
    if not (base / "hosts.json").exists():
        raise Unavailable(f"libvirt hosts not started ({base}/hosts.json "
                          "missing; run tools/services/30-libvirt-hosts.sh"
                          " up, or the tests through tools/run-tests.sh)")
    return json.loads((base / "hosts.json").read_text())


#: QEMU trace events of the destination's post-copy page requests
POSTCOPY_TRACE_EVENTS = ("postcopy_ram_fault_thread_request",
                         "postcopy_place_page")
_QEMU_NS = "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"


def domain_xml(hosts: dict, name: str, second_monitor: bool = False,
               trace_postcopy: bool = False,
               uuid: str | None = None,
               workload: tuple[int, int, int] | None = None,
               memory_mib: int | None = None) -> str:
    """The guest's domain XML; ``second_monitor`` adds a second QMP
    monitor at ``<qemu_run_dir>/<name>.qmp2`` on whichever host runs it,
    ``trace_postcopy`` has QEMU log its post-copy page requests to the
    domain log (the ``postcopy_trace`` backend reads them); ``uuid`` gives
    the domain that UUID (Nova's instance UUID); ``workload`` (hot MiB,
    cold MiB, dirty MiB/s) starts the guest's ``wa-workload`` (see
    :func:`workload_lines`); ``memory_mib`` overrides the guest's memory
    size."""
    guest = hosts["guest"]
    key = "domain_xml_template_qmp2" if second_monitor \
        else "domain_xml_template"
    text = Path(guest[key]).read_text()
    if trace_postcopy:
        args = "".join(f"<qemu:arg value='-trace'/><qemu:arg value='{ev}'/>"
                       for ev in POSTCOPY_TRACE_EVENTS)
        if "<qemu:commandline>" in text:
            text = text.replace("<qemu:commandline>",
                                f"<qemu:commandline>{args}", 1)
        else:
            text = text.replace("</domain>", f"<qemu:commandline>{args}"
                                "</qemu:commandline></domain>", 1)
        if _QEMU_NS not in text:
            text = text.replace("<domain ", f"<domain {_QEMU_NS} ", 1)
    if memory_mib is not None:
        old = guest["memory_mib"]
        for tag in ("memory", "currentMemory"):
            text = text.replace(f"<{tag} unit='MiB'>{old}</{tag}>",
                                f"<{tag} unit='MiB'>{int(memory_mib)}</{tag}>")
    if workload is not None:
        arg = "wa_workload=" + ",".join(str(int(x)) for x in workload)
        # the TSC: a fine clock for the latency probe (the guest falls
        # back to jiffies, 4 ms steps, without it under TCG)
        arg += " tsc=reliable clocksource=tsc"
        text = text.replace("</cmdline>", f" {arg}</cmdline>", 1)
    if uuid is not None:
        text = text.replace("<name>", f"<uuid>{uuid}</uuid><name>", 1)
    return text.replace(guest["name_placeholder"], name)


def serial_log(hosts: dict, host: str, name: str) -> Path:
    """The guest's serial console log as written on ``host`` (each host
    has its own /var/log/libvirt)."""
    return Path(hosts["hosts"][host]["serial_dir"]) / f"{name}.serial"


def heartbeats(hosts: dict, host: str, name: str) -> list[int]:
    """The heartbeat counters the guest printed while it ran on ``host``."""
    try:
        text = serial_log(hosts, host, name).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [int(n) for n in HEARTBEAT.findall(text.replace("\r", ""))]


WORKLOAD_READY = re.compile(r"^WL-READY (\d+) (\d+) ", re.M)
LATENCY = re.compile(r"^LAT (\d+) (\d+) ([0-9.]+) ([0-9.]+) ([0-9.]+)",
                     re.M)


def workload_ready(hosts: dict, host: str, name: str) -> bool:
    """The guest's ``wa-workload`` has filled its hot and cold areas."""
    try:
        text = serial_log(hosts, host, name).read_text(errors="replace")
    except FileNotFoundError:
        return False
    return bool(WORKLOAD_READY.search(text.replace("\r", "")))


def workload_lines(hosts: dict, host: str, name: str) -> list[dict]:
    """The latency lines ``wa-workload`` printed on ``host``: per second
    of the guest, the hot-page accesses timed and their p50/p99/max in
    microseconds (guest clock)."""
    try:
        text = serial_log(hosts, host, name).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [{"sec": int(a), "count": int(b), "p50_us": float(c),
             "p99_us": float(d), "max_us": float(e)}
            for a, b, c, d, e in LATENCY.findall(text.replace("\r", ""))]


def wait_heartbeats(hosts: dict, host: str, name: str, above: int = 0,
                    count: int = 1, timeout_s: float = 120.0) -> list[int]:
    """Block until ``count`` heartbeats numbered above ``above`` appear in
    ``host``'s serial log; return all of them."""
    deadline = time.monotonic() + timeout_s
    while True:
        beats = heartbeats(hosts, host, name)
        if len([b for b in beats if b > above]) >= count:
            return beats
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{count} heartbeat(s) above {above} not seen on host "
                f"{host} within {timeout_s} s (got {beats[-5:]}, see "
                f"{serial_log(hosts, host, name)})")
        time.sleep(0.5)


_loop_lock = threading.Lock()
_loop_started = False


def _libvirt():
    """libvirt-python with its default event loop running in a thread
    (needed for domain events; registered once per process)."""
    global _loop_started
    import libvirt

    with _loop_lock:
        if not _loop_started:
            libvirt.registerErrorHandler(lambda *_: None, None)
            libvirt.virEventRegisterDefaultImpl()

            def run():
                while True:
                    libvirt.virEventRunDefaultImpl()

            threading.Thread(target=run, name="libvirt-events",
                             daemon=True).start()
            _loop_started = True
    return libvirt


@contextlib.contextmanager
def connection(hosts: dict, host: str):
    libvirt = _libvirt()
    conn = libvirt.open(hosts["hosts"][host]["uri"])
    try:
        yield conn
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


def start_guest(hosts: dict, name: str, host: str = "A",
                boot_timeout_s: float = 120.0,
                second_monitor: bool = False,
                trace_postcopy: bool = False,
                uuid: str | None = None,
                workload: tuple[int, int, int] | None = None,
                memory_mib: int | None = None) -> list[int]:
    """Define and start the guest ``name`` on ``host``; return once it
    prints a heartbeat (the heartbeats seen so far)."""
    with contextlib.suppress(FileNotFoundError):
        serial_log(hosts, host, name).unlink()
    with connection(hosts, host) as conn:
        dom = conn.defineXML(domain_xml(hosts, name, second_monitor,
                                        trace_postcopy, uuid, workload,
                                        memory_mib))
        dom.create()
    return wait_heartbeats(hosts, host, name, timeout_s=boot_timeout_s)


def remove_guest(hosts: dict, name: str) -> list[str]:
    """Destroy and undefine ``name`` wherever it is; what was done."""
    libvirt = _libvirt()
    done = []
    for host in hosts["hosts"]:
        with connection(hosts, host) as conn:
            try:
                dom = conn.lookupByName(name)
            except libvirt.libvirtError:
                continue
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
                    done.append(f"destroyed on {host}")
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isPersistent():
                    dom.undefine()
                    done.append(f"undefined on {host}")
    return done


def _detail_names(libvirt) -> dict:
    """{(event, detail): 'DETAIL'} from the module's constants."""
    events = {v: k[len("VIR_DOMAIN_EVENT_"):] for k, v in vars(libvirt)
              .items() if re.fullmatch(r"VIR_DOMAIN_EVENT_[A-Z]+", k)
              and isinstance(v, int) and not k.endswith("_LAST")}
    names = {}
    for ev, ev_name in events.items():
        prefix = f"VIR_DOMAIN_EVENT_{ev_name}_"
        for k, v in vars(libvirt).items():
            if k.startswith(prefix) and not k.endswith("_LAST"):
                names[(ev, v)] = k[len(prefix):]
    return events, names


def postcopy_migrate(hosts: dict, name: str, src: str = "A",
                     dst: str = "B", bandwidth_mib: int = 8,
                     postcopy_bandwidth_mib: int = 16,
                     switch_after_s: float = 3.0,
                     timeout_s: float = 300.0) -> dict:
    """Live-migrate the running guest ``name`` from ``src`` to ``dst``
    peer-to-peer (``migrateToURI3`` to the destination's TCP URI, as seen
    from the source's namespace): pre-copy capped at ``bandwidth_mib``
    MiB/s, ``migrateStartPostCopy`` after ``switch_after_s`` s, post-copy
    capped at ``postcopy_bandwidth_mib`` MiB/s.  The domain is persisted
    on ``dst`` and undefined on ``src`` (as Nova does).

    Returns the timeline: ``events`` (lifecycle and job events of both
    hosts, ``t`` in seconds since the migration call), the times of the
    phases, the source's job statistics before the switch and at
    completion, and ``ok``/``error``.
    """
    libvirt = _libvirt()
    ev_names, detail_names = _detail_names(libvirt)
    t0 = time.monotonic()
    tl: dict = {"name": name, "src": src, "dst": dst,
                "t0_wall": time.time(),
                "bandwidth_mib": bandwidth_mib,
                "postcopy_bandwidth_mib": postcopy_bandwidth_mib,
                "events": [], "ok": False, "error": None,
                "postcopy_requested": None, "postcopy_on_dst": None,
                "resumed_on_dst": None, "completed": None,
                "job_before_switch": None, "job_completed": None}
    lock = threading.Lock()
    on_dst_postcopy = threading.Event()
    done = threading.Event()

    def now():
        return round(time.monotonic() - t0, 3)

    def record(host, event, detail=None, **extra):
        with lock:
            tl["events"].append({"t": now(), "host": host, "event": event,
                                 "detail": detail, **extra})

    def lifecycle(host):
        def cb(_conn, dom, event, detail, _opaque):
            if dom.name() != name:
                return
            ev = ev_names.get(event, str(event))
            det = detail_names.get((event, detail), str(detail))
            record(host, ev, det)
            if host == dst and ev == "RESUMED":
                if det == "POSTCOPY":
                    tl["postcopy_on_dst"] = now()
                    on_dst_postcopy.set()
                elif det == "MIGRATED":
                    tl["resumed_on_dst"] = now()
        return cb

    def job_completed(host):
        def cb(_conn, dom, params, _opaque):
            if dom.name() == name:
                record(host, "JOB_COMPLETED", None, stats=dict(params))
                if host == src:
                    tl["job_completed"] = dict(params)
        return cb

    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
             | libvirt.VIR_MIGRATE_POSTCOPY | libvirt.VIR_MIGRATE_PERSIST_DEST
             | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    params = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: bandwidth_mib,
              libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY:
                  postcopy_bandwidth_mib}
    dest_uri = hosts["hosts"][dst]["migrate_uri"]
    tl["dest_uri"] = dest_uri
    with contextlib.ExitStack() as stack:
        conns = {h: stack.enter_context(connection(hosts, h))
                 for h in (src, dst)}
        # the migration call blocks: give it a connection of its own
        mig_conn = stack.enter_context(connection(hosts, src))
        for h, conn in conns.items():
            ids = [conn.domainEventRegisterAny(
                       None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                       lifecycle(h), None),
                   conn.domainEventRegisterAny(
                       None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                       job_completed(h), None)]
            for i in ids:
                stack.callback(_deregister, libvirt, conn, i)
        src_dom = conns[src].lookupByName(name)
        tl["heartbeats_on_src_at_start"] = heartbeats(hosts, src, name)[-1:]

        def migrate():
            try:
                mig_conn.lookupByName(name).migrateToURI3(
                    dest_uri, params, flags)
                tl["ok"] = True
            except libvirt.libvirtError as e:
                tl["error"] = e.get_error_message()
            tl["completed"] = now()
            record(src, "MIGRATE_RETURNED", "ok" if tl["ok"] else "error")
            done.set()

        record(src, "MIGRATE_CALLED", f"to {dest_uri}")
        threading.Thread(target=migrate, name="migrate", daemon=True).start()
        # switch once the job moves memory and switch_after_s has passed
        # (under load libvirt's job exists a while before QEMU's
        # migration, which refuses the switch until then: retry)
        refusals = 0
        while not done.is_set():
            elapsed = time.monotonic() - t0
            try:
                job = src_dom.jobStats()
            except libvirt.libvirtError:
                job = {}
            if (elapsed >= switch_after_s and job.get("type") ==
                    libvirt.VIR_DOMAIN_JOB_UNBOUNDED
                    and job.get("memory_processed", 0) > 0):
                tl["job_before_switch"] = {
                    k: job.get(k) for k in (
                        "time_elapsed", "memory_total", "memory_processed",
                        "memory_remaining", "memory_bps",
                        "memory_dirty_rate")}
                tl["heartbeats_on_src_at_switch"] = \
                    heartbeats(hosts, src, name)[-1:]
                try:
                    src_dom.migrateStartPostCopy(0)
                    tl["postcopy_requested"] = now()
                    record(src, "POSTCOPY_REQUESTED")
                except libvirt.libvirtError as e:
                    record(src, "POSTCOPY_REQUEST_FAILED",
                           e.get_error_message())
                    refusals += 1
                    if refusals < 20:
                        time.sleep(0.25)
                        continue
                break
            if elapsed > timeout_s:
                break
            time.sleep(0.1)
        if not done.wait(max(0.0, timeout_s - (time.monotonic() - t0))):
            with contextlib.suppress(libvirt.libvirtError):
                src_dom.abortJob()
            tl["error"] = f"migration did not finish within {timeout_s} s"
            done.wait(30)
        # the destination's RESUMED/MIGRATED and the source's
        # STOPPED/MIGRATED events may trail the source's return (by
        # seconds on a loaded machine: two CPU hogs beside the tests)

        def settled() -> bool:
            stopped = any(e["host"] == src and e["event"] == "STOPPED"
                          for e in list(tl["events"]))
            return tl["resumed_on_dst"] is not None and \
                (stopped or not tl["ok"])

        deadline = time.monotonic() + 60
        while not settled() and time.monotonic() < deadline:
            time.sleep(0.1)
    tl["events"].sort(key=lambda e: e["t"])
    return tl


def _deregister(libvirt, conn, callback_id):
    try:
        conn.domainEventDeregisterAny(callback_id)
    except libvirt.libvirtError:
        pass


def domain_state(hosts: dict, host: str, name: str):
    """(state, reason) of ``name`` on ``host``, or None when the host
    does not know it."""
    libvirt = _libvirt()
    with connection(hosts, host) as conn:
        try:
            return tuple(conn.lookupByName(name).state())
        except libvirt.libvirtError:
            return None


def active_domains(hosts: dict, host: str) -> list[str]:
    with connection(hosts, host) as conn:
        return sorted(d.name() for d in conn.listAllDomains(
            _libvirt().VIR_CONNECT_LIST_DOMAINS_ACTIVE))

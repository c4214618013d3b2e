"""A stand-in for the part of Nova's Compute API the ``adaptive_migrate``
action uses, served over real HTTP (stdlib ``http.server`` in a thread)
so that the real python-novaclient talks to it:

* ``GET /servers/{id}``
* ``POST /servers/{id}/action`` with ``os-migrateLive``
* ``GET /os-migrations`` (``instance_uuid``, ``migration_type``)
* ``GET /servers/{id}/migrations`` (in progress only, with memory
  figures) and ``DELETE /servers/{id}/migrations/{mid}`` (abort)
* ``GET /os-services`` (``host``, ``binary``)

State moves as in Nova: the server goes ``ACTIVE`` -> ``MIGRATING``
(task state ``migrating``) -> ``ACTIVE`` on the new host, the record
``queued`` -> ``preparing`` -> ``running`` -> ``completed`` (or
``error`` with the server back on its source, or ``cancelled`` after an
abort).

Who carries a migration out is pluggable: by default a timer walks the
record through its states (``step_s`` each, with ``behaviour``
choosing a failure or a migration that never ends); with
``on_live_migrate(server, host)`` the callable does the work (e.g. a
real libvirt migration between two hosts) while the record says
``running``; it returns when done and raises when it failed, and may
watch ``server.abort_requested`` and update ``server.migration`` (e.g.
``status = "running (post-copy)"`` or the memory figures) under
``api.lock``.
"""
from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Callable
from typing import Optional

MAX_VERSION = "2.96"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")


@dataclasses.dataclass
class Server:
    uuid: str
    name: str
    host: str
    status: str = "ACTIVE"
    task_state: Optional[str] = None
    abort_requested: threading.Event = dataclasses.field(
        default_factory=threading.Event)
    #: the migration in progress (set by os-migrateLive)
    migration: Optional["Migration"] = None

    def view(self) -> dict:
        return {"id": self.uuid, "name": self.name, "status": self.status,
                "OS-EXT-SRV-ATTR:host": self.host,
                "OS-EXT-SRV-ATTR:hypervisor_hostname": self.host,
                "OS-EXT-STS:task_state": self.task_state,
                "OS-EXT-STS:vm_state": "active"
                if self.status in ("ACTIVE", "MIGRATING") else "error",
                "tenant_id": "demo", "user_id": "demo",
                "links": [], "metadata": {}}


@dataclasses.dataclass
class Migration:
    id: int
    uuid: str
    instance_uuid: str
    source: str
    dest: str
    status: str = "queued"
    created_at: str = dataclasses.field(default_factory=_now)
    updated_at: Optional[str] = None
    memory_total_bytes: int = 256 * 2**20
    memory_processed_bytes: int = 0

    def view(self, live: bool = False) -> dict:
        doc = {"id": self.id, "uuid": self.uuid,
               "instance_uuid": self.instance_uuid,
               "server_uuid": self.instance_uuid,
               "source_compute": self.source, "dest_compute": self.dest,
               "source_node": self.source, "dest_node": self.dest,
               "dest_host": None, "status": self.status,
               "migration_type": "live-migration",
               "created_at": self.created_at,
               "updated_at": self.updated_at,
               "old_instance_type_id": 1, "new_instance_type_id": 1,
               "project_id": "demo", "user_id": "demo", "links": []}
        if live:
            doc.update(memory_total_bytes=self.memory_total_bytes,
                       memory_processed_bytes=self.memory_processed_bytes,
                       memory_remaining_bytes=self.memory_total_bytes
                       - self.memory_processed_bytes,
                       disk_total_bytes=0, disk_processed_bytes=0,
                       disk_remaining_bytes=0)
        return doc


class ComputeApiStandIn:
    """The stand-in; ``url`` is the compute endpoint.

    :param services: host -> (status, state) of its nova-compute.
    :param on_live_migrate: who moves the guest (see the module doc).
    :param behaviour: for the built-in mover: ``complete``, ``error``
        (the record fails while running), ``hang`` (runs until aborted).
    :param step_s: seconds per state of the built-in mover.
    """

    def __init__(self, services: dict[str, tuple[str, str]],
                 on_live_migrate: Optional[Callable[[Server, str],
                                                    None]] = None,
                 behaviour: str = "complete", step_s: float = 0.2) -> None:
        self.services = dict(services)
        self.on_live_migrate = on_live_migrate
        self.behaviour = behaviour
        self.step_s = step_s
        self.servers: dict[str, Server] = {}
        self.migrations: list[Migration] = []
        #: the next os-migrateLive gets this (code, message) instead
        self.refuse_next: Optional[tuple[int, str]] = None
        #: this many of the next GETs answer 503 (an API restart)
        self.unavailable_gets = 0
        #: the next os-migrateLive starts the migration, then answers 500
        #: (the answer lost on the way, as behind a failing proxy)
        self.lose_next_answer = False
        #: (method, path, microversion) of every request, in order
        self.requests: list[tuple[str, str, Optional[str]]] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._workers: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------
    def start(self) -> "ComputeApiStandIn":
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever,
                         kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        with self.lock:
            for srv in self.servers.values():
                srv.abort_requested.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for worker in self._workers:
            worker.join(timeout=10)

    def __enter__(self) -> "ComputeApiStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v2.1"

    def add_server(self, uuid: str, host: str, status: str = "ACTIVE",
                   name: Optional[str] = None) -> Server:
        with self.lock:
            srv = self.servers[uuid] = Server(uuid, name or f"vm-{uuid[:8]}",
                                              host, status)
            return srv

    def migrations_of(self, uuid: str) -> list[Migration]:
        with self.lock:
            return [m for m in self.migrations if m.instance_uuid == uuid]

    # -- the mover -------------------------------------------------------
    def _set(self, mig: Migration, status: str) -> None:
        with self.lock:
            if mig.status in ("cancelled", "error", "completed"):
                return
            mig.status = status
            mig.updated_at = _now()

    def _finish(self, srv: Server, mig: Migration, ok: bool) -> None:
        with self.lock:
            if mig.status == "cancelled":
                return
            mig.status = "completed" if ok else "error"
            mig.updated_at = _now()
            if ok:
                mig.memory_processed_bytes = mig.memory_total_bytes
                srv.host = mig.dest
            srv.status, srv.task_state = "ACTIVE", None

    def _move(self, srv: Server, mig: Migration) -> None:
        for status in ("preparing", "running"):
            if srv.abort_requested.wait(self.step_s):
                return
            self._set(mig, status)
        if self.on_live_migrate is not None:
            try:
                self.on_live_migrate(srv, mig.dest)
            except Exception:  # noqa: BLE001 - the migration failed
                self._finish(srv, mig, ok=False)
                return
            self._finish(srv, mig, ok=True)
            return
        steps = 4
        for k in itertools.count(1):
            if srv.abort_requested.wait(self.step_s):
                return
            with self.lock:
                mig.memory_processed_bytes = min(
                    mig.memory_total_bytes,
                    mig.memory_total_bytes * k // steps)
            if self.behaviour == "hang":
                continue
            if self.behaviour == "error" and k == 2:
                self._finish(srv, mig, ok=False)
                return
            if k >= steps:
                self._finish(srv, mig, ok=True)
                return

    # -- API operations (called by the handler under self.lock) ----------
    def live_migrate(self, uuid: str, body: dict) -> tuple[int, dict]:
        srv = self.servers.get(uuid)
        if srv is None:
            return 404, _fault(404, f"Instance {uuid} could not be found.")
        if self.refuse_next is not None:
            code, message = self.refuse_next
            self.refuse_next = None
            return code, _fault(code, message)
        if "block_migration" not in body:
            return 400, _fault(400, "Invalid input for field/attribute "
                                    "os-migrateLive: 'block_migration' "
                                    "is a required property")
        host = body.get("host")
        if host is not None and host not in self.services:
            return 400, _fault(400, f"Compute service of {host} could not "
                                    "be found.")
        if srv.status != "ACTIVE" or srv.task_state is not None:
            return 409, _fault(409, f"Cannot 'os-migrateLive' instance "
                                    f"{uuid} while it is in vm_state "
                                    f"{srv.status.lower()}")
        if host == srv.host:
            return 400, _fault(400, "The target host can't be the same "
                                    "one.")
        mig = Migration(next(self._ids), str(_uuid4()), uuid, srv.host,
                        host)
        self.migrations.append(mig)
        srv.migration = mig
        srv.status, srv.task_state = "MIGRATING", "migrating"
        srv.abort_requested.clear()
        worker = threading.Thread(target=self._move, args=(srv, mig),
                                  daemon=True, name=f"move-{mig.id}")
        self._workers.append(worker)
        worker.start()
        if self.lose_next_answer:
            self.lose_next_answer = False
            return 500, _fault(500, "Unexpected API Error.")
        return 202, {}

    def abort(self, uuid: str, mid: int) -> tuple[int, dict]:
        srv = self.servers.get(uuid)
        mig = next((m for m in self.migrations
                    if m.id == mid and m.instance_uuid == uuid), None)
        if srv is None or mig is None:
            return 404, _fault(404, f"Migration {mid} for {uuid} not "
                                    "found.")
        if mig.status not in ("queued", "preparing", "running"):
            return 400, _fault(400, f"Migration {mid} state of instance "
                                    f"{uuid} is {mig.status}. Cannot "
                                    "abort live migration.")
        mig.status, mig.updated_at = "cancelled", _now()
        srv.status, srv.task_state = "ACTIVE", None
        srv.abort_requested.set()
        return 202, {}


def _uuid4():
    import uuid
    return uuid.uuid4()


def _fault(code: int, message: str) -> dict:
    name = {400: "badRequest", 404: "itemNotFound",
            409: "conflictingRequest"}.get(code, "computeFault")
    return {name: {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    api: ComputeApiStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:   # quiet
        return

    def _version(self) -> Optional[str]:
        v = self.headers.get("X-OpenStack-Nova-API-Version")
        if v:
            return v
        v = self.headers.get("OpenStack-API-Version", "")
        return v.split()[-1] if v else None

    def _send(self, code: int, doc: Optional[dict]) -> None:
        body = b"" if code in (202, 204) and not doc else \
            json.dumps(doc or {}).encode()
        self.send_response(code)
        version = self._version() or "2.1"
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-OpenStack-Nova-API-Version", version)
        self.send_header("OpenStack-API-Version", f"compute {version}")
        self.send_header("Vary", "OpenStack-API-Version, "
                                 "X-OpenStack-Nova-API-Version")
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        api = self.api
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        if path.startswith("/v2.1"):
            path = path[len("/v2.1"):]
        query = urllib.parse.parse_qs(parsed.query)
        api.requests.append((method, path, self._version()))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length \
            else {}
        with api.lock:
            if method == "GET" and api.unavailable_gets > 0:
                api.unavailable_gets -= 1
                code, doc = 503, _fault(503, "Service Unavailable")
            else:
                code, doc = self._dispatch(method, path, query, body)
        self._send(code, doc)

    def _dispatch(self, method, path, query, body) -> tuple[int, dict]:
        api = self.api
        m = re.fullmatch(r"/servers/([^/]+)", path)
        if m and method == "GET":
            srv = api.servers.get(m.group(1))
            if srv is None:
                return 404, _fault(404, f"Instance {m.group(1)} could "
                                        "not be found.")
            return 200, {"server": srv.view()}
        m = re.fullmatch(r"/servers/([^/]+)/action", path)
        if m and method == "POST":
            if "os-migrateLive" in body:
                return api.live_migrate(m.group(1),
                                        body["os-migrateLive"] or {})
            return 400, _fault(400, "unsupported action")
        m = re.fullmatch(r"/servers/([^/]+)/migrations", path)
        if m and method == "GET":
            return 200, {"migrations": [
                mig.view(live=True) for mig in api.migrations
                if mig.instance_uuid == m.group(1)
                and (mig.status in ("queued", "preparing")
                     or mig.status.startswith("running"))]}
        m = re.fullmatch(r"/servers/([^/]+)/migrations/(\d+)", path)
        if m and method == "DELETE":
            return api.abort(m.group(1), int(m.group(2)))
        if path == "/os-migrations" and method == "GET":
            rows = list(api.migrations)
            for key in ("instance_uuid", "migration_type"):
                if key in query:
                    want = query[key][0]
                    rows = [r for r in rows if r.view()[key] == want]
            rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            return 200, {"migrations": [r.view() for r in rows]}
        if path == "/os-services" and method == "GET":
            out = []
            for i, (host, (status, state)) in enumerate(
                    sorted(api.services.items()), 1):
                if "host" in query and query["host"][0] != host:
                    continue
                if "binary" in query and \
                        query["binary"][0] != "nova-compute":
                    continue
                out.append({"id": i, "binary": "nova-compute",
                            "host": host, "zone": "nova",
                            "status": status, "state": state,
                            "updated_at": _now(),
                            "disabled_reason": None,
                            "forced_down": False})
            return 200, {"services": out}
        if path in ("", "/"):
            return 200, {"version": {"id": "v2.1", "status": "CURRENT",
                                     "version": MAX_VERSION,
                                     "min_version": "2.1"}}
        return 404, _fault(404, f"no route {method} {path}")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

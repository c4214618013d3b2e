"""A minimal stand-in for Neutron's API, for the test stack of
tools/services/45-openstack.sh: servers there boot with ``networks:
none`` and have no ports, so every list Nova asks for is empty.

Nova (and Watcher) only read from it: the extension list, the ports,
networks, floating IPs and security groups of an instance.  Anything
else answers 404.  Unauthenticated (it checks no token).

    python neutron_standin.py PORT
"""
from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

#: collection name -> the JSON key of its (always empty) list
LISTS = {
    "ports": "ports", "networks": "networks", "subnets": "subnets",
    "floatingips": "floatingips", "security-groups": "security_groups",
    "extensions": "extensions", "qos/policies": "policies",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("", "/v2.0"):
            self._send(200, {"versions": [{"id": "v2.0",
                                           "status": "CURRENT"}]})
            return
        name = path.removeprefix("/v2.0/").removesuffix(".json")
        if name in LISTS:
            self._send(200, {LISTS[name]: []})
        else:
            self._send(404, {"NeutronError": {
                "type": "NotFound", "message": f"{path}: not in the "
                "stand-in (servers have no ports)", "detail": ""}})

    def do_DELETE(self) -> None:  # noqa: N802
        self._send(404, {"NeutronError": {"type": "NotFound",
                                          "message": "no such resource",
                                          "detail": ""}})

    do_PUT = do_POST = do_DELETE

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write("neutron-standin: " + fmt % args + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        sys.stderr.write("usage: neutron_standin.py PORT\n")
        return 2
    ThreadingHTTPServer(("127.0.0.1", int(argv[0])),
                        Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

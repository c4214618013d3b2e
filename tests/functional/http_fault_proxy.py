"""An HTTP proxy in front of a real service that can be made slow or
made to answer 5xx (faults the service itself cannot be asked for):
``delay_s`` before forwarding, ``fail_status`` instead of forwarding;
``observe(method, path, body)``, when set, sees every request (to
measure what a client sends)."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Callable
from typing import Optional


class FaultProxy:
    def __init__(self, target: str) -> None:
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"not an HTTP URL: {target}")
        self.target = target.rstrip("/")
        self.delay_s = 0.0
        self.fail_status = 0
        self.requests = 0
        self.observe: Optional[Callable[[str, str, bytes], None]] = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _relay(self):
                proxy.requests += 1
                body = self.rfile.read(
                    int(self.headers.get("Content-Length") or 0))
                if proxy.observe is not None:
                    proxy.observe(self.command, self.path, body)
                if proxy.delay_s:
                    time.sleep(proxy.delay_s)
                if proxy.fail_status:
                    msg = b'{"description": "injected fault"}'
                    try:
                        self.send_response(proxy.fail_status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(msg)))
                        self.end_headers()
                        self.wfile.write(msg)
                    except OSError:
                        pass        # the client gave up waiting
                    return
                # the target is checked to be http(s) above
                req = urllib.request.Request(  # noqa: S310
                    proxy.target + self.path, data=body or None,
                    method=self.command,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() not in ("host", "connection")})
                try:
                    with urllib.request.urlopen(  # noqa: S310
                            req, timeout=120) as resp:
                        status, headers, data = (resp.status, resp.headers,
                                                 resp.read())
                except urllib.error.HTTPError as exc:
                    status, headers, data = exc.code, exc.headers, exc.read()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        if k.lower() not in ("transfer-encoding",
                                             "connection",
                                             "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> "FaultProxy":
        threading.Thread(target=self._httpd.serve_forever,
                         kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

"""``/healthz`` (the process answers) and ``/readyz`` (initial sync and re-claim are done)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HealthServer:
    """A tiny HTTP server whose readiness flips once :meth:`mark_ready` is called."""

    def __init__(self, port: int, address: str = "0.0.0.0") -> None:
        self.ready = threading.Event()
        ready = self.ready

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._answer(200, b"ok\n")
                elif self.path == "/readyz":
                    ok = ready.is_set()
                    self._answer(200 if ok else 503, b"ok\n" if ok else b"initial sync not done\n")
                else:
                    self._answer(404, b"not found\n")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((address, port), _Handler)

    def start(self) -> None:
        """Serve from a background thread."""
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()

    def mark_ready(self) -> None:
        """Report ready from now on."""
        self.ready.set()

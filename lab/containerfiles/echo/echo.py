"""A tiny HTTP server for the lab's walk-through, in the spirit of MetalLB's demo images.

Every request, whatever its path, gets one line of text:

- ``hname`` mode (the echo-hname image): the pod's name, i.e. the container's hostname;
- ``ip`` mode (the echo-ip image): ``source=ADDRESS:PORT pod_ip=ADDRESS pod=NAME``, the
  request's source as the pod sees it and the address it arrived on (the pod's own IP).

ECHO_MODE picks the mode and PORT the TCP port (8080 by default: the images run as nobody, so
they use an unprivileged port and a Service maps its port 80 to it). SIGTERM ends the server at
once, so a deleted pod goes away without waiting for its grace period.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("hname", "ip")


def _plain(address: str) -> str:
    """An IPv4-mapped IPv6 address (a dual-stack socket's view of IPv4) as plain IPv4."""
    mapped = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped:
        return str(mapped.ipv4_mapped)
    return str(mapped)


def _with_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def answer(mode: str, peer: tuple[str, int], local: tuple[str, int], hostname: str) -> str:
    """The line one request gets."""
    if mode == "hname":
        return f"{hostname}\n"
    source = _with_port(_plain(peer[0]), peer[1])
    return f"source={source} pod_ip={_plain(local[0])} pod={hostname}\n"


class Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD on every path."""

    mode = "hname"
    server_version = "echo/1"

    def do_GET(self) -> None:
        """Send the answer."""
        body = answer(
            self.mode, self.client_address[:2], self.connection.getsockname()[:2], socket.gethostname()
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """One line per request on stdout, as a pod's log."""
        print(f"{_plain(self.client_address[0])} {format % args}", flush=True)


class Server(ThreadingHTTPServer):
    """An HTTP server on IPv4 that never asks DNS for names."""

    daemon_threads = True

    def server_bind(self) -> None:
        """Bind; HTTPServer's own would look up the name of the wildcard address in DNS."""
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = socket.gethostname(), self.server_address[1]


class DualStackServer(Server):
    """The same on IPv6, accepting IPv4 as well."""

    address_family = socket.AF_INET6


def serve(mode: str, port: int) -> Server:
    """A server for ``mode`` bound to ``port`` on every address (not started yet)."""
    Handler.mode = mode
    try:
        return DualStackServer(("::", port), Handler)
    except OSError:  # no IPv6 in this network namespace
        return Server(("0.0.0.0", port), Handler)


def main() -> int:
    """Serve until SIGTERM or SIGINT."""
    mode = os.environ.get("ECHO_MODE", "hname")
    if mode not in MODES:
        print(f"ECHO_MODE must be one of {', '.join(MODES)}, not {mode!r}", file=sys.stderr)
        return 2
    server = serve(mode, int(os.environ.get("PORT", "8080")))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"echo-{mode} listening on port {server.server_address[1]}", flush=True)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

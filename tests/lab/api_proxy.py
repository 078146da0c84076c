"""A proxy between a daemon and the lab's API server that a test controls: hold one request,
black-hole everything, or cut every connection.

The daemon talks plain HTTP to ``127.0.0.1`` (its kubeconfig carries only the server URL and
its token); the proxy opens a TLS connection to the real API server for each connection it
accepts and copies bytes both ways, so every answer the daemon gets (a 409, a 410, a watch
event) is the real API server's. Because the proxy sees the requests in clear, a test can stop
one chosen request (say, the controller's status write of one Service) until it has changed the
object itself, which makes a race deterministic. Nothing here touches the API server or any
interface: it is one loopback listener in the test's own process, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.state import LabState
from tests.lab.controller_harness import Controller

_CHUNK = 65536
_HOLD_LIMIT_SECONDS = 60.0
"""A held request is sent anyway after this long, so a broken test cannot hang the daemon."""

_REQUEST_LINE = re.compile(rb"^([A-Z]+) (/\S*) HTTP/1\.[01]\r\n", re.MULTILINE)


@dataclass
class Hold:
    """One request the proxy stops before it reaches the API server, until :meth:`release`."""

    method: str
    path: str
    outage_after: bool = False
    """Black-hole everything right after this request went upstream: it is applied, the answer lost."""
    held: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: bytes = b""

    def wait_held(self, timeout: float) -> bytes:
        """Wait until the request arrived (and is being held); return its bytes as sent."""
        if not self.held.wait(timeout):
            raise AssertionError(f"timed out after {timeout}s waiting for {self.method} {self.path}")
        return self.request

    def release(self) -> None:
        """Let the held request go on to the API server."""
        self.released.set()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.client = writer
        self.upstream: asyncio.StreamWriter | None = None
        self.dead = False  # black-holed: nothing is copied any more, in either direction

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.close()


class ApiProxy:
    """A loopback proxy to the API server at ``upstream`` (``https://host:port``)."""

    def __init__(self, upstream: str, ca_file: Path) -> None:
        match = re.fullmatch(r"https://\[?([^\]]+?)\]?:(\d+)", upstream)
        assert match, f"not an https://host:port URL: {upstream}"
        self._host, self._port = match.group(1), int(match.group(2))
        self._tls = ssl.create_default_context(cafile=str(ca_file))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="api-proxy", daemon=True)
        self._links: set[_Link] = set()
        self._holds: list[Hold] = []
        self._mode = "forward"  # or "blackhole" (new connections go dead) or "refuse" (closed at once)
        self._lock = threading.Lock()
        self.requests: list[str] = []
        """Every request line seen, as ``METHOD /path?query``, in order."""
        self.port = 0

    @property
    def url(self) -> str:
        """The URL a daemon's kubeconfig names to go through the proxy."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiProxy:
        """Listen on a free loopback port."""
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Close every connection and the listener; end the proxy's thread."""
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- what a test does ----------------------------------------------------------------------

    def hold(self, method: str, path: str, *, outage_after: bool = False) -> Hold:
        """Hold the next request ``METHOD path`` (path without query) before it goes upstream;
        with ``outage_after`` the proxy black-holes everything as soon as it has sent it on."""
        hold = Hold(method, path, outage_after)
        with self._lock:
            self._holds.append(hold)
        return hold

    def blackhole(self) -> None:
        """From now on copy nothing: open connections and new ones stay open and silent forever,
        as when the API server behind a load balancer hangs or the network drops every packet."""
        self._call(self._start_blackhole)

    def refuse(self) -> None:
        """Close every open connection and every new one at once, as a stopped API server does."""
        with self._lock:
            self._mode = "refuse"
        self._call(self._close_all_links)

    def restore(self) -> None:
        """Forward new connections again; black-holed ones stay dead until the client drops them."""
        with self._lock:
            self._mode = "forward"

    def seen(self, pattern: str) -> list[str]:
        """The request lines seen so far that match the regular expression ``pattern``."""
        with self._lock:
            return [line for line in self.requests if re.search(pattern, line)]

    # -- inside the event loop -----------------------------------------------------------------

    def _call(self, function: Any) -> None:
        async def run() -> None:
            function()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def _start_blackhole(self) -> None:
        with self._lock:
            self._mode = "blackhole"
        for link in self._links:
            link.dead = True

    def _close_all_links(self) -> None:
        for link in list(self._links):
            link.close()

    def _close_all(self) -> None:
        self._close_all_links()
        for task in asyncio.all_tasks(self._loop):
            if task is not asyncio.current_task():
                task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            mode = self._mode
        link = _Link(writer)
        if mode == "refuse":
            writer.close()
            return
        self._links.add(link)
        try:
            if mode == "blackhole":
                link.dead = True
                await self._drain_dead(reader)
                return
            up_reader, up_writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._tls, server_hostname=self._host
            )
            link.upstream = up_writer
            await asyncio.gather(
                self._copy(reader, up_writer, link, requests=True),
                self._copy(up_reader, writer, link, requests=False),
            )
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._links.discard(link)
            link.close()

    async def _drain_dead(self, reader: asyncio.StreamReader) -> None:
        """Read and drop what a black-holed client sends, until it gives up."""
        while await reader.read(_CHUNK):
            continue

    async def _copy(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, requests: bool
    ) -> None:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                if requests or not link.dead:
                    link.close()  # the client left, or the API server ended a live connection
                return  # a black-holed client is never told that the API server left
            if link.dead:
                continue  # black-holed: swallowed, never answered
            hold = self._note_requests(data) if requests else None
            if hold is not None:
                data = await self._hold(reader, data, hold)
            if link.dead:  # the outage began while this request was held
                continue
            writer.write(data)
            await writer.drain()
            if hold is not None and hold.outage_after:
                self._start_blackhole()  # the request is on its way, its answer will be swallowed

    def _note_requests(self, data: bytes) -> Hold | None:
        """Record the request lines in ``data``; return the hold one of them is waited for by."""
        found = None
        with self._lock:
            for match in _REQUEST_LINE.finditer(data):
                method, target = match.group(1).decode(), match.group(2).decode()
                self.requests.append(f"{method} {target}")
                path = target.split("?", 1)[0]
                hold = next((h for h in self._holds if (h.method, h.path) == (method, path)), None)
                if hold is not None and found is None:
                    self._holds.remove(hold)
                    found = hold
        return found

    async def _hold(self, reader: asyncio.StreamReader, data: bytes, hold: Hold) -> bytes:
        """Read the rest of a held request (clients write headers and body apart), then wait
        until the test releases it (at most :data:`_HOLD_LIMIT_SECONDS`); return all of it."""
        while (missing := _body_missing(data)) > 0:
            more = await asyncio.wait_for(reader.read(missing), _HOLD_LIMIT_SECONDS)
            if not more:
                break
            data += more
        hold.request = data
        hold.held.set()
        await asyncio.get_running_loop().run_in_executor(None, hold.released.wait, _HOLD_LIMIT_SECONDS)
        return data


def _body_missing(request: bytes) -> int:
    """How many bytes of its body a request that starts with ``request`` has not shown yet
    (clients send the headers and the body of one request in separate writes)."""
    head, _sep, body = request.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return (int(length.group(1)) if length else 0) - len(body)


def proxied_kubeconfig(kubeconfig: Path, proxy: ApiProxy, path: Path) -> Path:
    """Write a copy of a token kubeconfig that reaches the API server through ``proxy``."""
    document = yaml.safe_load(kubeconfig.read_text())
    for entry in document["clusters"]:
        entry["cluster"] = {"server": proxy.url}
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


# -- fixtures (registered in tests/lab/conftest.py) -----------------------------------------------


def lab_server(lab: LabState) -> str:
    """The lab's API server URL as the root namespace reaches it."""
    return str(yaml.safe_load(Path(lab.kubeconfig).read_text())["clusters"][0]["cluster"]["server"])


@pytest.fixture()
def controller_behind_proxy(
    lab: LabState, controller_config: Path, tmp_path: Path
) -> Iterator[Callable[..., tuple[ApiProxy, Controller]]]:
    """Start a controller whose every request goes through an :class:`ApiProxy`:
    ``proxy, controller = controller_behind_proxy()`` reaches the lab's API server,
    ``controller_behind_proxy(upstream=url)`` another one. Both are stopped afterwards."""
    started: list[ApiProxy | Controller] = []

    def start(*args: str, upstream: str | None = None) -> tuple[ApiProxy, Controller]:
        proxy = ApiProxy(upstream or lab_server(lab), lab.state_dir / "pki" / "ca.crt").start()
        started.append(proxy)
        kubeconfig = proxied_kubeconfig(controller_config, proxy, tmp_path / f"kubeconfig-{len(started)}")
        controller = Controller(kubeconfig, tmp_path, *args)
        started.append(controller)
        return proxy, controller.start()

    yield start
    for thing in reversed(started):
        thing.stop()

"""A slow rural link between a device and a FHIR server, simulated in the test process.

    with Link(peer.port, LINK_2G) as link:            # 600 ms RTT, 256 kbit/s each way
        counting = CountingTransport()
        client = client_for(settings_with(server_url=link.base_url), transport=counting)
        ...
        link.traffic()        # bytes up / down on the wire, connections opened
        counting.total        # requests the client made (counted on the client side)
        link.cut()            # the modem drops: every connection reset, new ones refused
        link.cut_after_down(n)  # ... once n more bytes have come down
        link.restore()

Two hops, each doing one thing:

* a TCP shaper (this module) that the client connects to. Every chunk read from either side is
  cut into segments of at most `SEGMENT` bytes; each segment leaves when the direction's line is
  free (one line per direction, shared by all connections, like one modem: a segment takes
  size × 8 / bandwidth on it) and arrives RTT/2 later, in order. A new connection's first bytes
  wait one extra RTT (the TCP handshake the loopback does not have). Bytes are counted when
  delivered, headers included: what a modem would bill.
* behind it, tests/reliability/proxy.py's `FaultProxy` (HTTP-aware): it rewrites the server's
  absolute `next` links to the shaper's origin, so paging travels the link too, and it injects
  the reliability faults when given an enabled `FaultPlan` (by default it passes everything).
  It forwards Accept-Encoding, so gzip answers cross the link compressed.

Requests are counted on the client side by `CountingTransport`, an httpx transport to pass to
`FhirClient` (sync/clinic_sync.py `client_for(settings, transport=...)`).
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from sync.fhir.client import _LIMITS
from tests.reliability.proxy import FaultPlan, FaultProxy, _reset

#: Segment size the line schedules (an Ethernet TCP payload): small enough that a download
#: streams at the capped rate instead of arriving in 64 KB lumps.
SEGMENT = 1460
_POLL_S = 0.1  # how often a blocked relay looks at the cut/stop flags


@dataclass(frozen=True)
class LinkProfile:
    """Round-trip time and bandwidth per direction (None: not capped)."""

    name: str
    rtt_s: float
    kbit_s: float | None

    def transfer_s(self, n_bytes: int) -> float:
        """Seconds the bytes need on the line (one direction's bandwidth)."""
        return 0.0 if self.kbit_s is None else n_bytes * 8 / (self.kbit_s * 1000)

    def floor_s(self, bytes_up: int, bytes_down: int, round_trips: int) -> float:
        """The least any protocol needs: every byte on the line plus the round trips it cannot
        avoid (directions counted one after the other, as request/answer traffic mostly is)."""
        return self.transfer_s(bytes_up + bytes_down) + round_trips * self.rtt_s


LINK_2G = LinkProfile("600ms-256kbit", 0.6, 256)
LINK_1M = LinkProfile("300ms-1mbit", 0.3, 1000)
LINK_10M = LinkProfile("100ms-10mbit", 0.1, 10_000)
#: No delay, no cap: the same two hops, to tell the client's and the server's own time apart.
LINK_LOOPBACK = LinkProfile("loopback", 0.0, None)


@dataclass(frozen=True)
class Traffic:
    bytes_up: int
    bytes_down: int
    connections: int

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.bytes_up - other.bytes_up,
            self.bytes_down - other.bytes_down,
            self.connections - other.connections,
        )


class _Line:
    """One direction of the modem: a segment waits for the line, then for the propagation."""

    def __init__(self, kbit_s: float | None, delay_s: float) -> None:
        self._bps = None if kbit_s is None else kbit_s * 1000
        self._delay = delay_s
        self._free_at = 0.0
        self._lock = threading.Lock()

    def schedule(self, n_bytes: int, not_before: float) -> float:
        """When a segment of n_bytes handed over now arrives at the other end."""
        with self._lock:
            start = max(time.monotonic(), not_before)
            if self._bps is not None:
                start = max(start, self._free_at)
                self._free_at = start + n_bytes * 8 / self._bps
                return self._free_at + self._delay
            return start + self._delay


class Link:
    """`with Link(upstream_port, profile) as link: ... link.base_url ...`"""

    def __init__(
        self,
        upstream_port: int,
        profile: LinkProfile,
        *,
        plan: FaultPlan | None = None,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.profile = profile
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.faults = FaultProxy(
            upstream_port,
            plan or FaultPlan(0, enabled=False),
            upstream_host=upstream_host,
            public_base_url=self.base_url,
            keep_encoding=True,
        )
        self._up = _Line(profile.kbit_s, profile.rtt_s / 2)
        self._down = _Line(profile.kbit_s, profile.rtt_s / 2)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cut = False
        self._cut_at_down: int | None = None
        self._bytes = {"up": 0, "down": 0}
        self._connections = 0
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Link:
        self.faults.start()
        self._spawn(self._accept_loop, "link-accept")
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._reset_all()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=10)
        self.faults.stop()

    def __enter__(self) -> Link:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ------------------------------------------------------------------------

    def traffic(self) -> Traffic:
        with self._lock:
            return Traffic(self._bytes["up"], self._bytes["down"], self._connections)

    @property
    def is_cut(self) -> bool:
        with self._lock:
            return self._cut

    def cut(self) -> None:
        """The link drops now: open connections are reset, new ones refused until restore()."""
        with self._lock:
            self._cut = True
        self._reset_all()

    def cut_after_down(self, n_bytes: int) -> None:
        """The link drops once n_bytes more have arrived downstream (the n-th byte is delivered,
        nothing after it)."""
        with self._lock:
            self._cut_at_down = self._bytes["down"] + n_bytes

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self._cut_at_down = None

    # -- relaying ------------------------------------------------------------------------------

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _reset_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for sock in socks:
            _reset(sock)

    def _accept_loop(self) -> None:
        self._listener.settimeout(_POLL_S)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.is_cut:
                _reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.faults.port), timeout=10)
            except OSError:
                _reset(client)
                continue
            accepted = time.monotonic()
            with self._lock:
                self._connections += 1
                self._socks.update((client, server))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(_POLL_S)
            handshake = accepted + self.profile.rtt_s
            pair = _Pair(self, client, server)
            self._pipe(client, server, "up", handshake, pair)
            self._pipe(server, client, "down", 0.0, pair)

    def _pipe(
        self, source: socket.socket, target: socket.socket, way: str, not_before: float, pair: _Pair
    ) -> None:
        """Two threads for one direction of one connection: one reads and schedules, one
        delivers on time (so reading is never held up by the wait)."""
        line = self._up if way == "up" else self._down
        pending: queue.Queue[tuple[float, bytes | None]] = queue.Queue()
        self._spawn(self._read, f"link-{way}-read", source, line, pending, not_before)
        self._spawn(self._deliver, f"link-{way}-send", target, way, pending, pair)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            self._socks.difference_update(socks)

    def _alive(self) -> bool:
        return not self._stop.is_set() and not self.is_cut

    def _read(
        self,
        source: socket.socket,
        line: _Line,
        pending: queue.Queue[tuple[float, bytes | None]],
        not_before: float,
    ) -> None:
        last = 0.0
        while self._alive():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            for i in range(0, len(data), SEGMENT):
                segment = data[i : i + SEGMENT]
                last = max(last, line.schedule(len(segment), not_before))
                pending.put((last, segment))
        # End of stream (or reset): delivered after what is already on its way.
        pending.put((max(last, time.monotonic()), None))

    def _deliver(
        self,
        target: socket.socket,
        way: str,
        pending: queue.Queue[tuple[float, bytes | None]],
        pair: _Pair,
    ) -> None:
        try:
            while True:
                due, segment = pending.get()
                wait = due - time.monotonic()
                while wait > 0 and self._alive():
                    time.sleep(min(wait, _POLL_S))
                    wait = due - time.monotonic()
                if segment is None or not self._alive():
                    break
                if not self._send(target, way, segment):
                    break
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
        finally:
            self._drain(pending)
            pair.one_way_done()

    def _send(self, target: socket.socket, way: str, segment: bytes) -> bool:
        """Deliver one segment, counting it; False when the link was cut by it (or is gone)."""
        with self._lock:  # counted as handed over: the reader may see the bytes at once
            limit = self._cut_at_down if way == "down" else None
            if limit is not None:
                segment = segment[: max(0, limit - self._bytes["down"])]
            self._bytes[way] += len(segment)
            reached = limit is not None and self._bytes["down"] >= limit
        if not self._sendall(target, segment, final=reached):
            return False
        if reached:
            with self._lock:
                self._cut = True
                self._cut_at_down = None
            self._reset_all()
            return False
        return True

    def _sendall(self, target: socket.socket, data: bytes, *, final: bool = False) -> bool:
        """sendall on a socket with a poll timeout: a slow reader is waited for, not dropped
        (`final`: the last bytes before a cut, sent whatever the flags say)."""
        view = memoryview(data)
        while view:
            if not final and not self._alive():
                return False
            try:
                sent = target.send(view)
            except TimeoutError:
                continue
            except OSError:
                return False
            view = view[sent:]
        return True

    @staticmethod
    def _drain(pending: queue.Queue[tuple[float, bytes | None]]) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                pending.get_nowait()


class _Pair:
    """The two sockets of one relayed connection, closed once both directions have ended."""

    def __init__(self, link: Link, client: socket.socket, server: socket.socket) -> None:
        self._link = link
        self._socks = (client, server)
        self._left = 2
        self._lock = threading.Lock()

    def one_way_done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left:
                return
        self._link._forget(*self._socks)
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.close()


class CountingTransport(httpx.BaseTransport):
    """An httpx transport that counts the requests a FhirClient makes, by kind.

    Kinds: "GET metadata", "GET search" (Type?…), "GET read" (Type/id…), "GET page" (a next
    link), "POST bundle" (a transaction or batch at the base), "POST search" (Type/_search),
    "PUT", "POST", "DELETE" (writes to a type or resource). It sends with the same connection
    limits as FhirClient's own transport (a transport passed in replaces those)."""

    def __init__(
        self, inner: httpx.BaseTransport | None = None, *, collect_ids: bool = False
    ) -> None:
        self._inner = inner or httpx.HTTPTransport(limits=_LIMITS)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        #: With collect_ids: the id of every resource in every Bundle answer, as often as it
        #: came (what a device received, to count other facilities' resources and re-downloads).
        self.received_ids: list[str] | None = [] if collect_ids else None
        self.bundle_sizes: list[int] = []  # entries of each Bundle answer (with collect_ids)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = request_kind(request.method, request.url.path, request.url.query.decode())
        with self._lock:
            self.counts[kind] += 1
        response = self._inner.handle_request(request)
        if self.received_ids is not None:
            ids = _bundle_ids(response.read())
            with self._lock:
                self.received_ids.extend(ids or ())
                if ids is not None:
                    self.bundle_sizes.append(len(ids))
        return response

    def close(self) -> None:
        self._inner.close()


def _bundle_ids(body: bytes) -> list[str] | None:
    """The ids of a Bundle answer's resources; None when the answer is no Bundle."""
    try:
        bundle = json.loads(body)
    except ValueError:
        return None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    entries = bundle.get("entry") or []
    return [
        str(e["resource"].get("id"))
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


_RESOURCE_PART = re.compile(r"^(?:[A-Z][A-Za-z]+|metadata)$")


def request_kind(method: str, path: str, query: str) -> str:
    parts = [p for p in path.split("/") if p]
    # A FHIR base may have a path (/fhir/R4): the resource part starts at a capitalised name.
    start = next((i for i, p in enumerate(parts) if _RESOURCE_PART.match(p)), len(parts))
    rest = parts[start:]
    if method == "GET":
        if rest == ["metadata"]:
            return "GET metadata"
        if len(rest) == 1:
            return "GET page" if ("_cursor" in query or "_offset" in query) else "GET search"
        return "GET read"
    if method == "POST" and not rest:
        return "POST bundle"
    if method == "POST" and rest[-1:] == ["_search"]:
        return "POST search"
    return method

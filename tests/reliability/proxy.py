"""A loopback fault-injecting HTTP proxy between clients and the FHIR peer.

Plain threads and sockets. Each client connection may carry many requests (keep-alive); the
proxy reads one request, asks the seeded `FaultPlan` what to do with it, forwards it to the
peer (or not), and answers — faithfully, or broken in one of these ways:

    refuse        connection reset before the request reaches the server (also at accept)
    reset         forwarded (the server commits), then reset half-way through the answer
    delay         forwarded after a short delay; the answer is intact
    timeout       forwarded (the server commits), then no answer for longer than the client's
                  read timeout, then the connection closes
    500 / 503     answered by the proxy; the request never reached the server
    502           half the time answered by the proxy, half the time after forwarding (a gateway
                  that lost the server's answer)
    429           answered by the proxy with Retry-After (seconds or an HTTP date)
    truncate      forwarded; the body is cut short (Content-Length kept, connection closed)
    short-json    forwarded; the body is cut short with a matching Content-Length (invalid JSON)

The peer writes absolute `next` links with its own address; like a correctly configured
reverse proxy, this one rewrites them to its own origin (or to `public_base_url`, the origin
clients use when another hop sits in front: tests/reliability/link.py). Optionally it terminates
TLS. By default it asks the server for identity bodies (Accept-Encoding is dropped);
`keep_encoding=True` passes the client's Accept-Encoding on and rewrites gzip answers inside
their compression, as the link simulator needs to measure compressed traffic.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate

FAULTS = (
    "refuse",
    "reset",
    "delay",
    "timeout",
    "500",
    "502",
    "503",
    "429",
    "truncate",
    "short-json",
)

DEFAULT_RATES: Mapping[str, float] = {
    "refuse": 0.015,
    "reset": 0.015,
    "delay": 0.03,
    "timeout": 0.003,
    "500": 0.01,
    "502": 0.01,
    "503": 0.008,
    "429": 0.01,
    "truncate": 0.012,
    "short-json": 0.008,
}


@dataclass
class FaultPlan:
    """The seeded schedule: one draw per request (and one per new connection)."""

    seed: int
    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    enabled: bool = True
    client_read_timeout_s: float = 1.0
    applied: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.requests = 0

    def draw(self) -> tuple[str | None, float]:
        """The fault for the next request (None: pass it through) and a random number the
        proxy uses for the fault's details."""
        with self._lock:
            self.requests += 1
            roll, detail = self._rng.random(), self._rng.random()
            if not self.enabled:
                return None, detail
            for name in FAULTS:
                roll -= self.rates.get(name, 0.0)
                if roll < 0:
                    self.applied[name] += 1
                    return name, detail
            return None, detail

    def refuse_connection(self) -> bool:
        with self._lock:
            roll = self._rng.random()
            if self.enabled and roll < self.rates.get("refuse", 0.0):
                self.applied["refuse-connect"] += 1
                return True
            return False


class _Closed(Exception):
    pass


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _response(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FaultProxy:
    """`with FaultProxy(upstream_port, plan) as proxy: ... proxy.base_url ...`"""

    def __init__(
        self,
        upstream_port: int,
        plan: FaultPlan,
        *,
        upstream_host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        public_base_url: str | None = None,
        keep_encoding: bool = False,
    ) -> None:
        self.plan = plan
        self._keep_encoding = keep_encoding
        self._upstream = (upstream_host, upstream_port)
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self._public_base = (public_base_url or self.base_url).encode()
        self._peer_base = f"http://{upstream_host}:{upstream_port}".encode()
        self.forwarded = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _reset(conn)
        # Wait for every handler: a request held back by a delay must not reach the server
        # after the proxy stopped (it would land in the next experiment's server state).
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.plan.refuse_connection():
                _reset(conn)
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        upstream: http.client.HTTPConnection | None = None
        with self._lock:
            self._conns.add(raw)
        try:
            if self._tls is not None:
                try:
                    conn = self._tls.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client refused our certificate: part of the TLS tests
                with self._lock:  # the wrapped socket now owns the connection
                    self._conns.discard(raw)
                    self._conns.add(conn)
            conn.settimeout(30)
            reader = conn.makefile("rb")
            while not self._stop.is_set():
                request = self._read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                if upstream is None:
                    upstream = http.client.HTTPConnection(*self._upstream, timeout=60)
                if not self._handle(conn, upstream, method, target, headers, body):
                    return
        except (_Closed, OSError, http.client.HTTPException):
            return
        finally:
            if upstream is not None:
                upstream.close()
            with self._lock:
                self._conns.discard(raw)
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _read_request(
        reader: object,
    ) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
        readline = reader.readline  # type: ignore[attr-defined]
        line = readline(65537)
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise _Closed()
        method, target, _ = parts
        headers: list[tuple[str, str]] = []
        length = 0
        chunked = False
        while True:
            h = readline(65537)
            if not h:
                raise _Closed()
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            if name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            return method, target, headers, FaultProxy._read_chunked(reader)
        body = reader.read(length) if length else b""  # type: ignore[attr-defined]
        return method, target, headers, body

    @staticmethod
    def _read_chunked(reader: object) -> bytes:
        """A chunked request body, whole (it is forwarded with a Content-Length)."""
        readline = reader.readline  # type: ignore[attr-defined]
        parts: list[bytes] = []
        while True:
            size_line = readline(65537)
            if not size_line:
                raise _Closed()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(reader.read(size))  # type: ignore[attr-defined]
            readline(65537)  # the CRLF after the chunk

    def _forward(
        self,
        upstream: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        skip = {"host", "content-length", "connection"}
        if not self._keep_encoding:
            skip.add("accept-encoding")
        sent = {k: v for k, v in headers if k.lower() not in skip}
        sent["Host"] = f"{self._upstream[0]}:{self._upstream[1]}"
        try:
            upstream.request(method, target, body=body or None, headers=sent)
            answer = upstream.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            upstream.close()
            raise
        self.forwarded += 1
        encoding = (answer.getheader("Content-Encoding") or "").strip().lower()
        data = self._rewrite(data, gzipped=encoding == "gzip")
        kept = [
            (k, v)
            for k, v in answer.getheaders()
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "keep-alive")
        ]
        if answer.will_close:
            upstream.close()
        return answer.status, answer.reason, kept, data

    def _rewrite(self, data: bytes, *, gzipped: bool) -> bytes:
        """The server's own origin in a body replaced by the one clients use."""
        if not gzipped:
            return data.replace(self._peer_base, self._public_base)
        plain = gzip.decompress(data)
        if self._peer_base not in plain:
            return data  # nothing to rewrite: the server's bytes as they were
        # Level 6, as zlib (and node) compress by default: the size stays the server's.
        return gzip.compress(
            plain.replace(self._peer_base, self._public_base), compresslevel=6, mtime=0
        )

    def _handle(
        self,
        conn: socket.socket,
        upstream: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Answer one request; False when the connection is finished."""
        fault, detail = self.plan.draw()
        if fault == "refuse":
            _reset(conn)
            return False
        if fault in ("500", "503", "429") or (fault == "502" and detail < 0.5):
            self._canned(conn, fault, detail)
            return True
        if fault == "delay":
            time.sleep(0.02 + 0.2 * detail)
            if self._stop.is_set():
                _reset(conn)
                return False
        status, reason, out_headers, data = self._forward(upstream, method, target, headers, body)
        if fault == "502":  # the server did the work; the gateway lost its answer
            self._canned(conn, fault, detail)
            return True
        if fault == "timeout":
            time.sleep(self.plan.client_read_timeout_s + 0.3)
            _reset(conn)
            return False
        head = [*out_headers, ("Content-Length", str(len(data))), ("Connection", "keep-alive")]
        if fault == "reset":
            cut = int(len(data) * detail)
            conn.sendall(_response(status, reason, head, data[:cut]))
            _reset(conn)
            return False
        if fault == "truncate" and len(data) > 1:
            cut = max(1, int(len(data) * detail))
            conn.sendall(_response(status, reason, head, data[:cut]))
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if fault == "short-json" and len(data) > 1:
            cut = max(1, int((len(data) - 1) * detail))
            short = [*out_headers, ("Content-Length", str(cut)), ("Connection", "keep-alive")]
            conn.sendall(_response(status, reason, short, data[:cut]))
            return True
        conn.sendall(_response(status, reason, head, data))
        return True

    @staticmethod
    def _canned(conn: socket.socket, fault: str, detail: float) -> None:
        status = int(fault)
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        headers = [("Content-Type", "text/plain"), ("Connection", "keep-alive")]
        if status in (429, 503):
            # Retry-After in both forms the standard allows.
            if detail < 0.5:
                value = str(int(detail * 4))
            else:
                value = formatdate(time.time() + 2, usegmt=True)
            headers.append(("Retry-After", value))
        body = f"{status} from the fault proxy".encode()
        headers.append(("Content-Length", str(len(body))))
        conn.sendall(_response(status, reason.get(status, "Too Many Requests"), headers, body))

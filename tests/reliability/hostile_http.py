"""A hostile FHIR server on 127.0.0.1 for experiment 15.4–15.7 (``hostile_server.py``).

Raw sockets, one request per connection, so every misbehaviour is exactly what it says: an
endless body, a huge declared body, a gzip bomb, a body or headers dripped a byte at a time,
slow pages, a 429 with an absurd Retry-After, then recovery (``mode = "healthy"``). Also a
capturing proxy (``CaptureProxy``) that counts every byte a client sends it: where a request to
a non-loopback http URL would have gone.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}}


def _page(base: str, number: int, slow: bool) -> dict[str, Any]:
    page: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {**PATIENT, "id": f"p{number}"}, "search": {"mode": "match"}}],
    }
    if slow:  # slow pages go on for ever: only a deadline ends the reading
        page["link"] = [{"relation": "next", "url": f"{base}/Patient?_count=500&page={number + 1}"}]
    return page


@functools.cache
def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body that inflates to ``decoded_bytes`` of JSON-looking spaces (made in 1 MB steps
    so the server itself never holds the inflated size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    step = b" " * (1 << 20)
    parts = [packer.compress(b'{"resourceType":"Patient","id":"p1","text":"')]
    for _ in range(decoded_bytes // len(step)):
        parts.append(packer.compress(step))
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass
class ServerLog:
    """What the server saw and sent."""

    requests: list[str] = field(default_factory=list)
    bytes_sent: int = 0


class HostileServer:
    """``mode`` decides every answer; ``drip_s`` paces the dripping modes."""

    def __init__(self, *, drip_s: float, huge_bytes: int, bomb: bytes) -> None:
        self.mode = "healthy"
        self.drip_s = drip_s
        self.huge_bytes = huge_bytes
        self.bomb = bomb
        self.retry_after = ""
        self.log = ServerLog()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        hostile = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                hostile._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- one connection ---------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        head = _read_head(sock)
        if head is None:
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        with self._lock:
            self.log.requests.append(line)
        path = line.split(" ")[1] if " " in line else "/"
        send = self._sender(sock)
        if path.startswith("/control?mode="):  # the experiment's child switches the mode
            self.mode = path.partition("=")[2]
            self._json(send, 200, {"mode": self.mode})
            return
        with contextlib.suppress(OSError):  # the client hung up: a deadline or a size limit
            self._answer(self.mode, path, send)

    def _sender(self, sock: socket.socket) -> Callable[[bytes], None]:
        def send(data: bytes) -> None:
            sock.sendall(data)
            with self._lock:
                self.log.bytes_sent += len(data)

        return send

    def _answer(self, mode: str, path: str, send: Callable[[bytes], None]) -> None:
        json_type = "Content-Type: application/fhir+json\r\n"
        if mode == "endless":  # close-delimited: no length, never ends
            send(b"HTTP/1.1 200 OK\r\n" + json_type.encode() + b"Connection: close\r\n\r\n")
            send(b'{"resourceType":"Bundle","type":"searchset","entry":[')
            chunk = b'{"resource":{"resourceType":"Patient","id":"x"}},' * 1300
            while not self._stop.is_set():
                send(chunk)
        elif mode == "huge":  # declares its size (2 GB at full size), then streams it
            head = f"HTTP/1.1 200 OK\r\n{json_type}Content-Length: {self.huge_bytes}\r\n\r\n"
            send(head.encode())
            chunk = b" " * 65536
            for _ in range(self.huge_bytes // len(chunk)):
                if self._stop.is_set():
                    return
                send(chunk)
        elif mode == "gzip-bomb":
            head = (
                f"HTTP/1.1 200 OK\r\n{json_type}Content-Encoding: gzip\r\n"
                f"Content-Length: {len(self.bomb)}\r\nConnection: close\r\n\r\n"
            )
            send(head.encode() + self.bomb)
        elif mode == "drip-body":
            send(b"HTTP/1.1 200 OK\r\n" + json_type.encode() + b"Connection: close\r\n\r\n")
            self._drip(send, b'{"resourceType":"Patient","id":"p1"' + b" " * 10_000_000)
        elif mode == "slow-headers":
            self._drip(send, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000_000)
        elif mode == "slow-pages":
            time.sleep(self.drip_s)
            self._json(send, 200, _page(self.base_url, _page_number(path), slow=True))
        elif mode == "retry-after":
            date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
            extra = f"Retry-After: {self.retry_after}\r\nDate: {date}\r\n"
            self._json(send, 429, {"resourceType": "OperationOutcome", "issue": []}, extra)
        elif "/metadata" in path:
            self._json(send, 200, {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"})
        elif "/Patient?" in path or path.endswith("/Patient"):
            self._json(send, 200, _page(self.base_url, 1, slow=False))
        else:
            self._json(send, 200, PATIENT)

    def _drip(self, send: Callable[[bytes], None], data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.is_set():
                return
            send(data[i : i + 1])
            self._stop.wait(self.drip_s)

    @staticmethod
    def _json(send: Callable[[bytes], None], status: int, body: Any, extra: str = "") -> None:
        data = json.dumps(body).encode()
        reason = {200: "OK", 429: "Too Many Requests"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/fhir+json\r\n{extra}"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        send(head.encode() + data)


def _page_number(path: str) -> int:
    for part in path.split("?", 1)[-1].split("&"):
        if part.startswith("page="):
            return int(part[5:] or 1)
    return 1


def _read_head(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1]) - len(rest)
            while length > 0:  # the request body, unused
                chunk = sock.recv(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)
    return head


class CaptureProxy:
    """A proxy that forwards nothing and counts every byte clients send it: a request to a
    non-loopback http URL, routed here, is what would have crossed the network in clear."""

    def __init__(self) -> None:
        self.bytes_received = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(2.0)
                try:
                    while chunk := self.request.recv(65536):
                        with proxy._lock:
                            proxy.bytes_received += len(chunk)
                        if b"\r\n\r\n" in chunk:
                            self.request.sendall(
                                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n"
                            )
                            return
                except OSError:
                    return

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CaptureProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

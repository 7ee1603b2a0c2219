"""Limits where the bytes arrive: uvicorn's HTTP protocol with timeouts and header limits.

uvicorn (0.54) holds a connection that never finishes its request headers for
ever, reads headers of any size and count, and waits for a stalled body as
long as the client likes; its ``limit_concurrency`` counts such sockets, so
300 silent ones turned every request, health included, into a 503. This
protocol, a subclass of uvicorn's httptools protocol (passed as
``uvicorn.run(http=...)``), adds per connection:

- a deadline for the request head (``header_timeout``): a socket that sends
  nothing, or dribbles its headers, is closed;
- an idle limit while a body arrives (``body_timeout``): a stalled upload is
  closed and its handler sees the client go;
- at most ``max_header_bytes`` of request line and headers and
  ``max_headers`` header fields: 431 with the JSON error, then close;
- a cap on open connections (``max_connections``): past it a new socket is
  closed at once, and the work limit stays with the application's own guard.

Malformed requests get the service's JSON error instead of uvicorn's plain
text. Subclassing keeps uvicorn's parser and flow control; the methods
overridden here are checked by tests/serve/test_serve_connection.py against the
installed uvicorn.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LIMITS_ENV = "MNIST_EDGE_SERVE_LIMITS"


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may cost before it is refused or closed (seconds, bytes, counts)."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    max_connections: int = 1024

    @classmethod
    def from_env(cls) -> ConnectionLimits:
        """The limits ``serve`` put in the environment for its workers (defaults otherwise)."""
        raw = os.environ.get(LIMITS_ENV)
        return cls(**json.loads(raw)) if raw else cls()


def json_error_bytes(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 response with ``{"error": message}`` that closes the connection."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines and header limits (see the module docstring)."""

    limits: Optional[ConnectionLimits] = None  # read once per process from the environment

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if GuardedHttpProtocol.limits is None:
            GuardedHttpProtocol.limits = ConnectionLimits.from_env()
        self._deadline = None
        self._refused = False
        self._new_head()

    def _new_head(self) -> None:
        self._in_head, self._raw_head_bytes, self._head_bytes, self._header_count = True, 0, 0, 0

    # -- deadlines -------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refused = True
            transport.close()  # past the cap: no buffers, no parser work for it
            return
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        """Too slow: a head not finished in time, or a body that stopped arriving."""
        self._deadline = None
        if not self.transport.is_closing():
            if self._in_head and self._raw_head_bytes:
                self.transport.write(json_error_bytes(408, "Request Timeout", "request headers too slow"))
            self.transport.close()

    # -- bytes in --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._raw_head_bytes += len(data)
        elif self.cycle is not None and self.cycle.more_body:
            if self.cycle.response_complete:
                # Answered already (413, 401, ...) and the client keeps sending: stop reading.
                self.transport.close()
                return
            self._arm(self.limits.body_timeout)  # the body is still arriving: the idle limit restarts
        super().data_received(data)
        if self._in_head and not self._refused and self._raw_head_bytes > self.limits.max_header_bytes:
            self._refuse_head()  # past the limit and still no end of the head: stop reading it

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_bytes > self.limits.max_header_bytes or self._header_count > self.limits.max_headers:
            self._refuse_head()
            return
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body:
            self._arm(self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_message_complete()
        self._new_head()  # what comes next on this connection is the next request's head

    def _refuse_head(self) -> None:
        self._disarm()
        self._refused = True
        message = (
            f"request headers too large (at most {self.limits.max_header_bytes} bytes "
            f"and {self.limits.max_headers} fields)"
        )
        self.transport.write(json_error_bytes(431, "Request Header Fields Too Large", message))
        self.transport.close()

    # -- errors uvicorn answers itself -----------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        self._refused = True
        self.transport.write(json_error_bytes(400, "Bad Request", "malformed HTTP request"))
        self.transport.close()

"""The service's middleware, one concern each (pure ASGI, registered with Starlette's ``Middleware``).

Outermost first, as :func:`mnist_edge.serve.app.create_app` registers them:

0. :class:`ShutdownMiddleware`: a request still running when the SIGTERM grace
   (``--grace``) runs out gets a 503 JSON error, not a traceback in the log;
1. :class:`MetricsMiddleware`: every request counted by route template and
   status, with its latency;
2. :class:`TokenMiddleware`: ``Authorization: Bearer TOKEN`` on every route
   but health and the page (constant-time compare, case-insensitive scheme);
3. :class:`BodyLimitMiddleware`: 413 from ``Content-Length`` before reading,
   or as soon as a streamed body passes ``max_body``; the connection is then
   closed, so the rest of the body is never read;
4. :class:`WorkLimitMiddleware`: 503 when more requests are in flight than the
   worker takes, and each body's bytes reserved in the worker's
   :class:`~mnist_edge.serve.memory.MemoryBudget`; health is outside both.

Each reads headers through Starlette's ``Headers(scope=scope)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import time
from typing import Optional

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from mnist_edge.serve.memory import MemoryBudget, OverBudget

OPEN_PATHS = ("/v2/health/live", "/v2/health/ready", "/", "/favicon.ico")
# Answered even when the work limit is reached: a liveness probe must not restart a busy server.
HEALTH_PATHS = ("/v2/health/live", "/v2/health/ready")
BODY_COPIES = 2  # a body is held about twice while it is read and parsed


def error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    """The service's error body: ``{"error": "..."}`` with the status."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def closing_error(status: int, message: str) -> JSONResponse:
    """An error after which the connection closes (the client may still be sending)."""
    return error(status, message, {"Connection": "close"})


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit (an HTTP 413 wherever it surfaces)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


@dataclasses.dataclass
class WorkState:
    """The work limit's live figures (``app.state.work``), shared with the handlers.

    The memory budget is two pools, so that bodies waiting to be decoded can
    never take all the room their decoding needs: ``bodies`` (a quarter, and
    at least one body of the largest size) and ``decoding`` (the rest; the
    CLI keeps the budget at least four largest bodies, so at least half).
    """

    max_inflight: int
    bodies: MemoryBudget
    decoding: MemoryBudget
    inflight: int = 0

    @classmethod
    def split(cls, max_inflight: int, memory_budget: int, max_body: int) -> WorkState:
        """The pools for a total budget of ``memory_budget`` bytes."""
        body_pool = max(memory_budget // 4, BODY_COPIES * max_body)
        return cls(max_inflight, MemoryBudget(body_pool), MemoryBudget(max(memory_budget - body_pool, 1)))


class ShutdownMiddleware:
    """A request cut off when the shutdown grace runs out: 503 to the client, nothing in the log.

    uvicorn cancels what is still running after ``timeout_graceful_shutdown``
    and says so in one line ("Cancel N running task(s)"); without this the
    cancellation also logged a traceback per request.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = {"response": False}

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                started["response"] = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except asyncio.CancelledError:
            if scope["type"] == "http" and not started["response"]:
                try:
                    await error(503, "the server is shutting down; retry")(scope, receive, send)
                except Exception:  # the connection may be gone already
                    pass


class MetricsMiddleware:
    """Counts every request by route template and status, with its latency."""

    def __init__(self, app, metrics, routes):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}  # what a request that never answered counts as

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        finally:
            self.metrics.observe(self._template(scope), status["code"], time.perf_counter() - started)

    def _template(self, scope) -> str:
        """The matched route's path template: a bounded metrics label."""
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route.path
        return "other"


class TokenMiddleware:
    """``Authorization: Bearer TOKEN`` on every route but health and the page."""

    def __init__(self, app, token: Optional[str]):
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope, receive, send):
        guarded = scope["type"] == "http" and self.token and scope["path"] not in OPEN_PATHS
        if guarded and not self._authorized(scope):
            refusal = error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope) -> bool:
        """The scheme is case-insensitive (RFC 7235); the token is compared in constant time."""
        raw = Headers(scope=scope).get("authorization", "").encode("latin-1")
        scheme, _, credentials = raw.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)


class BodyLimitMiddleware:
    """413 for a body over ``max_body``: from ``Content-Length``, or as a stream passes it."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await closing_error(400, "bad Content-Length")(scope, receive, send)
                return
            if int(length) > self.max_body:
                await closing_error(413, f"request body over {self.max_body} bytes")(scope, receive, send)
                return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive):
        seen = {"bytes": 0}

        async def limited():
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        return limited


class WorkLimitMiddleware:
    """503 past ``max_inflight`` requests at work or the memory budget; health is never refused.

    A request's body is read (its bytes reserved in the budget first) before
    it takes a work slot: a client that stalls mid-upload holds a socket and
    its reservation until the connection's body timeout, never a work slot.
    """

    def __init__(self, app, state: WorkState, max_body: int):
        self.app, self.state, self.max_body = app, state, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            async with self.state.bodies.reserved(BODY_COPIES * self._body_bytes(scope), "the request body"):
                messages = await _read_body(receive)
                if messages is None:
                    return  # the client went away
                await self._work(scope, _replay(messages, receive), send)
        except OverBudget as exc:
            await error(exc.status, str(exc), {"Retry-After": "1"})(scope, receive, send)
        except BodyTooLarge as exc:
            await closing_error(413, exc.detail)(scope, receive, send)

    async def _work(self, scope, receive, send):
        if self.state.inflight >= self.state.max_inflight:
            busy = error(503, "busy: too many requests in flight; retry shortly", {"Retry-After": "1"})
            await busy(scope, receive, send)
            return
        self.state.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.inflight -= 1

    def _body_bytes(self, scope) -> int:
        """The body's declared length; a chunked one may grow to the limit."""
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return 0
        length = Headers(scope=scope).get("content-length")
        return int(length) if length is not None and length.isdigit() else self.max_body


async def _read_body(receive) -> Optional[list]:
    """Every ``http.request`` message of the body, or None when the client disconnected."""
    messages = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def _replay(messages: list, receive):
    """A ``receive`` that hands over the body already read, then waits as the original does."""
    pending = list(messages)

    async def replay():
        return pending.pop(0) if pending else await receive()

    return replay

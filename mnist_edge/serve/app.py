"""The ``serve`` application: Starlette routes over one Predictor, behind one small ASGI guard.

Routes (``{name}`` is the model file's stem; ``mnist`` always names the served model):

* ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2``,
  ``GET /v2/models/{name}``, ``GET /v2/models/{name}/ready``,
  ``POST /v2/models/{name}/infer``: Open Inference Protocol v2;
* ``POST /v1/models/{name}:predict``: TF-Serving REST;
* ``POST /predict``: an image (multipart ``file`` or a raw ``image/*`` body)
  through the same front-end and threshold as ``predict`` (the same JSON);
* ``GET /metrics``: Prometheus; ``GET /``: the drawing and camera page.

The guard (:class:`Guard`, pure ASGI, so it costs microseconds) does, in
order: the bearer token (every route but health and the static page), the
body limit (413 from ``Content-Length`` before reading, or as soon as a
streamed body passes it), the work limit (503 when more requests are in
flight than the service takes), and the metrics.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path
from typing import Optional

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mnist_edge.serve import protocol
from mnist_edge.serve.metrics import CONTENT_TYPE, Metrics

OPEN_PATHS = ("/v2/health/live", "/v2/health/ready", "/", "/favicon.ico")
# Answered even when the work limit is reached: a liveness probe must not restart a busy server.
HEALTH_PATHS = ("/v2/health/live", "/v2/health/ready")
PAGE = Path(__file__).resolve().parent / "page.html"


def error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    """The service's error body: ``{"error": "..."}`` with the status."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit (an HTTP 413 wherever it surfaces)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


class Guard:
    """Token, body limit, work limit and metrics around the app (pure ASGI)."""

    def __init__(self, app, routes, metrics: Metrics, token: Optional[str], max_body: int, max_inflight: int):
        from starlette.routing import Match

        self.app = app
        self.routes, self.full_match = routes, Match.FULL
        self.metrics = metrics
        self.token = token.encode() if token else None
        self.max_body = max_body
        self.max_inflight = max_inflight
        self.inflight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_tracking(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_tracking)
        finally:
            self.metrics.observe(self._template(scope), status["code"], time.perf_counter() - started)

    def _template(self, scope) -> str:
        """The matched route's path template: a bounded metrics label."""
        for route in self.routes:
            if route.matches(scope)[0] == self.full_match:
                return route.path
        return "other"

    async def _guarded(self, scope, receive, send):
        problem = self._refusal(scope)
        if problem is not None:
            await problem(scope, receive, send)
            return
        if scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            await error(503, "busy: too many requests in flight; retry shortly", {"Retry-After": "1"})(
                scope, receive, send
            )
            return
        self.inflight += 1
        try:
            await self.app(scope, self._limited(receive), send)
        except BodyTooLarge as exc:
            await error(413, exc.detail)(scope, receive, send)
        finally:
            self.inflight -= 1

    def _refusal(self, scope) -> Optional[Response]:
        headers = dict(scope.get("headers") or [])
        if self.token and scope["path"] not in OPEN_PATHS and not self._authorized(headers):
            return error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        length = headers.get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.max_body:
                    return error(413, f"request body over {self.max_body} bytes")
            except ValueError:
                return error(400, "bad Content-Length")
        return None

    def _authorized(self, headers) -> bool:
        """``Authorization: Bearer TOKEN``; the scheme is case-insensitive (RFC 7235)."""
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)

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


class Service:
    """The handlers, over one predictor and one reader."""

    def __init__(self, predictor, reader, metrics: Metrics):
        self.predictor = predictor
        self.reader = reader
        self.metrics = metrics
        self.name = predictor.model_path.stem

    def _check_name(self, request: Request) -> Optional[JSONResponse]:
        name = request.path_params["name"]
        if name not in (self.name, "mnist"):
            return error(404, f"no model named {name!r} (this service has {self.name!r}, alias 'mnist')")
        return None

    async def live(self, request: Request):
        return JSONResponse({"live": True})

    async def ready(self, request: Request):
        return JSONResponse({"ready": True})

    async def server_metadata(self, request: Request):
        from mnist_edge import __version__

        return JSONResponse({"name": "mnist-edge", "version": __version__, "extensions": []})

    async def model_metadata(self, request: Request):
        return self._check_name(request) or JSONResponse(
            protocol.model_metadata(
                self.name,
                self.predictor.labels,
                self.predictor.input_dtype.name,
                f"tflite ({self.predictor.runtime} {self.predictor.runtime_version})",
            )
        )

    async def model_ready(self, request: Request):
        return self._check_name(request) or JSONResponse({"name": self.name, "ready": True})

    async def infer(self, request: Request):
        refused = self._check_name(request)
        if refused:
            return refused
        try:
            pixels, request_id, names = protocol.parse_v2_infer(protocol.parse_json(await request.body()))
        except protocol.ProtocolError as exc:
            return error(exc.status, str(exc))
        probs = self._probabilities(pixels)
        return JSONResponse(protocol.v2_response(self.name, probs, request_id, names))

    async def tfserving_predict(self, request: Request):
        refused = self._check_name(request)
        if refused:
            return refused
        try:
            pixels = protocol.parse_tfserving(protocol.parse_json(await request.body()))
        except protocol.ProtocolError as exc:
            return error(exc.status, str(exc))
        probs = self._probabilities(pixels)
        return JSONResponse({"predictions": [[round(float(p), 6) for p in row] for row in probs]})

    def _probabilities(self, pixels):
        import numpy as np

        if len(pixels) == 1:  # the measured single-image fast path
            return np.asarray([self.predictor.predict(pixels[0]).probabilities], dtype=np.float32)
        return self.predictor.probabilities(pixels)

    async def predict_image(self, request: Request):
        try:
            top_k = _top_k(request.query_params.get("top_k"))
            name, data = await _uploaded_image(request)
        except protocol.ProtocolError as exc:
            return error(exc.status, str(exc))
        reading = await run_in_threadpool(self.reader.read_bytes, data, name)
        if reading.error is not None:
            return error(415 if "not an image" in reading.error else 400, reading.error)
        self.metrics.answers.labels("digit" if reading.label is not None else "not_a_digit").inc()
        document = reading.to_json()
        if "top_k" in document:
            document["top_k"] = document["top_k"][:top_k]
        if request.query_params.get("seen") == "1" and reading.seen is not None:
            document["seen_png"] = _png_base64(reading.seen)
        return JSONResponse(document)

    async def metrics_text(self, request: Request):
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def page(self, request: Request):
        return Response(
            PAGE.read_bytes(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
        )


def _top_k(value) -> int:
    """``?top_k=N`` (1-10); absent, the same default as ``mnist-edge predict``."""
    from mnist_edge.reading import DEFAULT_TOP_K, MAX_TOP_K

    if value is None:
        return DEFAULT_TOP_K
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOP_K:
        raise protocol.ProtocolError(400, f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    return int(value)


def _png_base64(image) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


async def _uploaded_image(request: Request):
    """(file name, bytes) of a multipart ``file`` or a raw ``image/*`` body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as exc:  # python-multipart's errors for a malformed body
            raise protocol.ProtocolError(400, f"malformed multipart body ({str(exc)[:80]})") from None
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise protocol.ProtocolError(400, "multipart body has no 'file' part")
        return upload.filename or "upload", await upload.read()
    if content_type.startswith(("image/", "application/octet-stream")):
        return request.headers.get("x-file-name", "upload"), await request.body()
    raise protocol.ProtocolError(415, "send an image as multipart 'file' or a raw image/* body")


def create_app(
    predictor,
    min_confidence=None,
    token: Optional[str] = None,
    max_body: int = 4 << 20,
    max_inflight: int = 64,
):
    """The ASGI application serving ``predictor``.

    Args:
        predictor: a :class:`mnist_edge.runtime.Predictor`.
        min_confidence: the "not a digit" threshold for ``/predict`` (None: the model's).
        token: the bearer token every route but health and the page requires.
        max_body: the largest request body, in bytes.
        max_inflight: requests handled at once before answering 503.

    Returns:
        The guarded application.
    """
    from mnist_edge.reading import MAX_TOP_K, Reader

    reader = Reader(predictor, min_confidence, top_k=MAX_TOP_K)  # each request trims to its ?top_k=
    metrics = Metrics(
        {
            "model": predictor.model_path.name,
            "runtime": predictor.runtime,
            "runtime_version": predictor.runtime_version,
            "input_dtype": predictor.input_dtype.name,
        }
    )
    service = Service(predictor, reader, metrics)
    routes = [
        Route("/", service.page),
        Route("/v2/health/live", service.live),
        Route("/v2/health/ready", service.ready),
        Route("/v2", service.server_metadata),
        Route("/v2/models/{name}", service.model_metadata),
        Route("/v2/models/{name}/ready", service.model_ready),
        Route("/v2/models/{name}/infer", service.infer, methods=["POST"]),
        Route("/v1/models/{name}:predict", service.tfserving_predict, methods=["POST"]),
        Route("/predict", service.predict_image, methods=["POST"]),
        Route("/metrics", service.metrics_text),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            404: lambda request, exc: error(404, f"no such endpoint: {request.url.path}"),
            405: lambda request, exc: error(405, f"method {request.method} not allowed here"),
            HTTPException: lambda request, exc: error(exc.status_code, str(exc.detail)),
        },
    )
    return Guard(app, routes, metrics, token, max_body, max_inflight)

"""The ``serve`` application: Starlette routes over one Predictor, behind one small ASGI guard.

Routes (``{name}`` is the model file's stem; ``mnist`` always names the served model):

* ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2``,
  ``GET /v2/models/{name}``, ``GET /v2/models/{name}/ready``,
  ``POST /v2/models/{name}/infer``: Open Inference Protocol v2;
* ``POST /v1/models/{name}:predict``: TF-Serving REST;
* ``POST /predict``: an image (multipart ``file`` or a raw ``image/*`` body)
  through the same front-end and threshold as ``predict`` (the same JSON);
* ``GET /metrics``: Prometheus; ``GET /``: the drawing and camera page.

Around the routes, one middleware per concern (:mod:`.middleware`, pure
ASGI, microseconds each): metrics, the bearer token, the body limit, the work
limit and memory budget. Below them uvicorn's protocol carries the
connection-level limits (:mod:`.connection`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mnist_edge import __version__
from mnist_edge.preprocess.load import decode_cost
from mnist_edge.runtime.number import NumberReader
from mnist_edge.runtime.reading import DEFAULT_TOP_K, MAX_TOP_K, Reader
from mnist_edge.serve import memory, protocol
from mnist_edge.serve.memory import OverBudget
from mnist_edge.serve.metrics import CONTENT_TYPE, Metrics
from mnist_edge.serve.middleware import (
    BodyLimitMiddleware,
    MetricsMiddleware,
    ShutdownMiddleware,
    TokenMiddleware,
    WorkLimitMiddleware,
    WorkState,
    closing_error,
    error,
)
from mnist_edge.serve.multipart import image_and_fields

PAGE = Path(__file__).resolve().parent / "page.html"
SERVE_BATCH = 64  # images per interpreter call for a batch request: bounded tensor memory
DEFAULT_MEMORY_BUDGET = 128 << 20  # per worker; the shipped unit's MemoryMax is 512M for 2 workers


class Service:
    """The handlers, over one predictor and one reader."""

    def __init__(self, predictor, reader, metrics: Metrics):
        self.predictor = predictor
        self.reader = reader
        self.numbers = NumberReader(reader)
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
        probs = await self._probabilities(pixels)
        return JSONResponse(protocol.v2_response(self.name, probs, request_id, names))

    async def tfserving_predict(self, request: Request):
        refused = self._check_name(request)
        if refused:
            return refused
        try:
            pixels = protocol.parse_tfserving(protocol.parse_json(await request.body()))
        except protocol.ProtocolError as exc:
            return error(exc.status, str(exc))
        probs = await self._probabilities(pixels)
        return JSONResponse({"predictions": [[round(float(p), 6) for p in row] for row in probs]})

    async def _probabilities(self, pixels):
        import numpy as np

        if len(pixels) == 1:  # the measured single-image fast path, inline: ~40 µs
            return np.asarray([self.predictor.predict(pixels[0]).probabilities], dtype=np.float32)
        # A batch runs off the event loop (health stays answered), in fixed-size
        # interpreter calls: tensors resized for a 1,024-image request stayed allocated.
        return await run_in_threadpool(self.predictor.probabilities, pixels, SERVE_BATCH)

    async def predict_image(self, request: Request):
        try:
            top_k = _top_k(request.query_params.get("top_k"))
            name, data, fields = await _uploaded_image(request)
            as_number = _flag(request.query_params.get("number", fields.get("number")), "number")
        except protocol.ProtocolError as exc:
            return error(exc.status, str(exc))
        cost = decode_cost(data)
        try:
            async with request.app.state.work.decoding.reserved(cost, "decoding this image"):
                reading = await run_in_threadpool(self._read_and_give_back, data, name, cost, as_number)
        except OverBudget as exc:
            return error(exc.status, str(exc), {"Retry-After": "1"} if exc.status == 503 else None)
        if reading.error is not None:
            return error(415 if "not an image" in reading.error else 400, reading.error)
        if as_number:
            return JSONResponse(
                self._number_document(reading, top_k, request.query_params.get("seen") == "1")
            )
        self.metrics.answers.labels("digit" if reading.label is not None else "not_a_digit").inc()
        document = reading.to_json()
        if "top_k" in document:
            document["top_k"] = document["top_k"][:top_k]
        if request.query_params.get("seen") == "1" and reading.seen is not None:
            document["seen_png"] = _png_base64(reading.seen)
        return JSONResponse(document)

    def _number_document(self, reading, top_k: int, seen: bool) -> dict:
        self.metrics.answers.labels("number" if reading.number is not None else "not_a_number").inc()
        document = reading.to_json()
        for digit, doc in zip(reading.digits, document["digits"]):
            doc["top_k"] = doc["top_k"][:top_k]
            if seen and digit.seen is not None:
                doc["seen_png"] = _png_base64(digit.seen)
        return document

    def _read_and_give_back(self, data: bytes, name: str, cost: int, as_number: bool = False):
        try:
            return (self.numbers if as_number else self.reader).read_bytes(data, name)
        finally:
            memory.give_back(cost + len(data))

    async def metrics_text(self, request: Request):
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def page(self, request: Request):
        return Response(
            PAGE.read_bytes(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
        )


def _top_k(value) -> int:
    """``?top_k=N`` (1-10); absent, the same default as ``mnist-edge predict``."""

    if value is None:
        return DEFAULT_TOP_K
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOP_K:
        raise protocol.ProtocolError(400, f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    return int(value)


def _flag(value, name: str) -> bool:
    """A yes/no request option (``?number=1``, or a form field): absent is no."""
    if value is None or value in ("0", "false", ""):
        return False
    if value in ("1", "true"):
        return True
    raise protocol.ProtocolError(400, f"{name} must be 1 or 0")


def _png_base64(image) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


async def _uploaded_image(request: Request):
    """(file name, bytes, form fields) of a multipart ``file`` or a raw ``image/*`` body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        # In memory (the body is bounded by --max-body): Starlette's form() spools to $TMPDIR.
        return image_and_fields(content_type, await request.body())
    if content_type.startswith(("image/", "application/octet-stream")):
        return request.headers.get("x-file-name", "upload"), await request.body(), {}
    raise protocol.ProtocolError(415, "send an image as multipart 'file' or a raw image/* body")


def create_app(
    predictor,
    min_confidence=None,
    token: Optional[str] = None,
    max_body: int = 4 << 20,
    max_inflight: int = 64,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
):
    """The ASGI application serving ``predictor``.

    Args:
        predictor: a :class:`mnist_edge.runtime.Predictor`.
        min_confidence: the "not a digit" threshold for ``/predict`` (None: the model's).
        token: the bearer token every route but health and the page requires.
        max_body: the largest request body, in bytes.
        max_inflight: requests handled at once before answering 503.
        memory_budget: bytes the requests in flight may hold (bodies, decoded images).

    Returns:
        The Starlette application; ``app.state.work`` holds the work limit's figures.
    """

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
    work = WorkState.split(max_inflight, memory_budget, max_body)
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ShutdownMiddleware),
            Middleware(MetricsMiddleware, metrics=metrics, routes=routes),
            Middleware(TokenMiddleware, token=token),
            Middleware(BodyLimitMiddleware, max_body=max_body),
            Middleware(WorkLimitMiddleware, state=work, max_body=max_body),
        ],
        exception_handlers={
            404: lambda request, exc: error(404, f"no such endpoint: {request.url.path}"),
            405: lambda request, exc: error(405, f"method {request.method} not allowed here"),
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.work = work
    return app


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    # A 413 mid-body: close the connection rather than read the rest of what is coming.
    return (
        closing_error(413, str(exc.detail))
        if exc.status_code == 413
        else error(exc.status_code, str(exc.detail))
    )


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """The last line of "never a plain-text 500": a JSON error, the cause in the log."""
    import logging

    logging.getLogger("mnist_edge.serve").error("internal error on %s: %r", request.url.path, exc)
    return error(500, "internal error")

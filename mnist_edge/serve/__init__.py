"""``mnist-edge serve``: the device as a digit-reading service (Starlette + uvicorn, no TensorFlow).

:mod:`.protocol` (request and response shapes, pure), :mod:`.metrics`
(Prometheus), :mod:`.app` (routes and the guard), :mod:`.server` (uvicorn
and workers), ``page.html`` (the drawing and camera page).
"""

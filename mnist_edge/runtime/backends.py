"""Which TFLite interpreter runs the model, and how it is built.

In order of preference: ``ai_edge_litert`` (LiteRT), then ``tflite_runtime``,
then ``tensorflow.lite`` (a development fallback only: it costs seconds and
hundreds of MB to import). Nothing here imports TensorFlow unless that last
fallback is asked for or is all there is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Optional

from mnist_edge import constants
from mnist_edge.errors import RuntimeModelError

RUNTIMES = constants.RUNTIMES


@contextlib.contextmanager
def quiet_native_stderr():
    """Silences C++ logging written straight to file descriptor 2.

    TFLite and LiteRT print lines such as "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU." from C++, which Python cannot intercept. The
    descriptor is pointed at /dev/null for the duration and restored after.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _import_litert():
    import ai_edge_litert
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter, dist_version("ai-edge-litert", ai_edge_litert.__file__)


def _import_tflite_runtime():
    import tflite_runtime
    from tflite_runtime.interpreter import Interpreter

    return Interpreter, dist_version("tflite-runtime", tflite_runtime.__file__)


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf.lite.Interpreter, tf.__version__


_IMPORTERS = {
    "litert": _import_litert,
    "tflite-runtime": _import_tflite_runtime,
    "tensorflow": _import_tensorflow,
}


def load_interpreter_class(runtime: str = "auto"):
    """Finds a TFLite interpreter class.

    Args:
        runtime: ``"auto"`` (LiteRT, then tflite-runtime, then TensorFlow),
            or one of ``"litert"``, ``"tflite-runtime"``, ``"tensorflow"``.

    Returns:
        ``(Interpreter class, runtime name, version string)``.

    Raises:
        RuntimeModelError: when the requested (or any) interpreter is missing.
    """
    if runtime not in RUNTIMES:
        raise RuntimeModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    order = ["litert", "tflite-runtime", "tensorflow"] if runtime == "auto" else [runtime]
    failures = []
    for name in order:
        try:
            interpreter_class, version = _IMPORTERS[name]()
            return interpreter_class, name, version
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
    raise RuntimeModelError(
        "no TFLite interpreter found ("
        + "; ".join(failures)
        + "); install one with: pip install 'mnist-edge[runtime]'"
    )


def dist_version(dist: str, module_file: Optional[str] = None) -> str:
    """A distribution's version, read from its dist-info folder name.

    ``importlib.metadata`` costs ~25 ms at start-up (a quarter of the
    predictor's cold-start floor); the folder beside the module says the same.

    Args:
        dist: the distribution name, e.g. ``"ai-edge-litert"``.
        module_file: the package's ``__file__``, to find its site folder.

    Returns:
        The version string, or ``"unknown"``.
    """
    if module_file:
        site = Path(module_file).resolve().parent.parent
        prefix = dist.replace("-", "_") + "-"
        for entry in os.listdir(site):
            if entry.startswith(prefix) and entry.endswith(".dist-info"):
                return entry[len(prefix) : -len(".dist-info")]
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # any metadata failure means "we cannot tell"
        return "unknown"


def xnnpack_off_kwargs(runtime_name: str) -> dict:
    """Interpreter kwargs that disable the default XNNPACK delegate.

    Args:
        runtime_name: one of the concrete runtime names.

    Returns:
        The keyword arguments for the Interpreter constructor.
    """
    if runtime_name == "litert":
        from ai_edge_litert.interpreter import OpResolverType
    elif runtime_name == "tflite-runtime":
        from tflite_runtime.interpreter import OpResolverType
    else:
        import tensorflow as tf

        OpResolverType = tf.lite.experimental.OpResolverType
    return {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}


def build_interpreter(
    interpreter_class,
    runtime_name: str,
    content: bytes,
    where: str,
    num_threads: Optional[int] = None,
    xnnpack: bool = True,
):
    """Builds and allocates an interpreter on model bytes, with C++ logs silenced.

    Args:
        interpreter_class: from :func:`load_interpreter_class`.
        runtime_name: its name (for the XNNPACK switch).
        content: the model's bytes (already validated).
        where: the file name, for error messages.
        num_threads: interpreter threads (None: its default).
        xnnpack: False disables the default XNNPACK delegate.

    Returns:
        The allocated interpreter.

    Raises:
        RuntimeModelError: the interpreter refuses the model.
    """
    kwargs = {"model_content": content}
    if num_threads is not None:
        kwargs["num_threads"] = int(num_threads)
    if not xnnpack:
        kwargs.update(xnnpack_off_kwargs(runtime_name))
    try:
        with quiet_native_stderr():
            interpreter = interpreter_class(**kwargs)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise RuntimeModelError(f"{where}: cannot load TFLite model ({first[:200]})") from None
    return interpreter

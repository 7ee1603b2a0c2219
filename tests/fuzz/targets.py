"""Fuzz targets: each feeds bytes to one parser of user input and allows only its documented errors.

A target returns normally for every input the code handles: a result, or
one of the project's own errors (``MnistEdgeError``, one line, an exit code).
Any other exception is a finding (the user would see a traceback), and so is
a crash (a signal) or more than the fuzzer's memory limit.

Used by ``tests/fuzz/run.py`` (coverage-guided, with atheris) and by
``tests/fuzz/test_fuzz.py`` (which also replays every saved finding).
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnist_edge.errors import MnistEdgeError

WORK = Path(tempfile.mkdtemp(prefix="mnist-edge-fuzz-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # replays and fuzzing leave nothing in $TMPDIR


def model_target(data: bytes) -> None:
    """A .tflite file: validation, then (when it passes) a Predictor and one prediction."""
    from mnist_edge.runtime import Predictor

    path = WORK / "model.tflite"
    path.write_bytes(data)
    try:
        predictor = Predictor(path, num_threads=1)
        predictor.predict(np.zeros((28, 28), np.uint8))
        predictor.probabilities(np.zeros((3, 28, 28), np.uint8))
    except MnistEdgeError:
        pass


def image_target(data: bytes) -> None:
    """An uploaded image: decode and the whole front-end."""
    from mnist_edge.preprocess import pil_to_gray, to_mnist
    from mnist_edge.preprocess.load import open_image_bytes

    try:
        form = to_mnist(pil_to_gray(open_image_bytes(data)))
        assert form.shape == (28, 28) and form.dtype == np.uint8
    except MnistEdgeError:
        pass


def npy_target(data: bytes) -> None:
    """An .npy input of predict."""
    from mnist_edge.preprocess import load_gray, to_mnist

    path = WORK / "input.npy"
    path.write_bytes(data)
    try:
        to_mnist(load_gray(path))
    except MnistEdgeError:
        pass


def idx_target(data: bytes) -> None:
    """An IDX file, gzip-compressed or not."""
    from mnist_edge import data as data_mod

    path = WORK / "images.idx"
    path.write_bytes(data)
    for ndim in (1, 3):
        try:
            data_mod.read_idx_file(path, ndim)
        except MnistEdgeError:
            pass


def npz_target(data: bytes) -> None:
    """A Keras-style mnist.npz."""
    from mnist_edge import data as data_mod

    path = WORK / "mnist.npz"
    path.write_bytes(data)
    try:
        data_mod.load_npz(path)
    except MnistEdgeError:
        pass


def sidecar_target(data: bytes) -> None:
    """A model's sidecar JSON beside the (valid) default model."""
    from mnist_edge.runtime import Predictor, default_model_path

    model = WORK / "sidecar_model.tflite"
    if not model.exists():
        model.write_bytes(default_model_path().read_bytes())
    (WORK / "sidecar_model.json").write_bytes(data)
    try:
        predictor = Predictor(model, num_threads=1)
        assert len(predictor.labels) == 10
    except MnistEdgeError:
        pass


TARGETS = {
    "model": model_target,
    "image": image_target,
    "npy": npy_target,
    "idx": idx_target,
    "npz": npz_target,
    "sidecar": sidecar_target,
}


def seeds(target: str) -> dict:
    """Starting inputs for a target: small, valid files of every kind it reads."""
    root = Path(__file__).resolve().parent.parent
    if target == "model":
        models = [
            root / "fixtures" / n
            for n in (
                "mnist_mlp_int8_uint8io.tflite",
                "mnist_mlp_float32.tflite",
                "wrong_shape_32x32_to_5.tflite",
            )
        ]
        from mnist_edge.runtime import default_model_path

        models.append(default_model_path())
        return {p.name: p.read_bytes() for p in models}
    if target == "image":
        return _image_seeds()
    if target == "npy":
        out = {}
        for name, arr in (
            ("u8", np.eye(28, dtype=np.uint8) * 255),
            ("f", np.eye(28, dtype=np.float32)),
            ("vec", np.zeros(784, np.uint8)),
        ):
            buf = io.BytesIO()
            np.save(buf, arr)
            out[f"{name}.npy"] = buf.getvalue()
        return out
    if target == "idx":
        return _idx_seeds()
    if target == "npz":
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            x_train=np.zeros((4, 28, 28), np.uint8),
            y_train=np.arange(4, dtype=np.uint8),
            x_test=np.zeros((2, 28, 28), np.uint8),
            y_test=np.arange(2, dtype=np.uint8),
        )
        return {"mnist.npz": buf.getvalue()}
    if target == "sidecar":
        from mnist_edge.runtime import default_model_path

        doc = json.loads(default_model_path().with_suffix(".json").read_text())
        return {"sidecar.json": json.dumps(doc).encode(), "small.json": b'{"format": "x"}'}
    raise KeyError(target)


def _image_seeds() -> dict:
    from PIL import Image

    digit = np.zeros((40, 30), np.uint8)
    digit[5:35, 12:18] = 255
    out = {}
    for fmt, mode in (
        ("PNG", "L"),
        ("JPEG", "RGB"),
        ("GIF", "P"),
        ("BMP", "RGB"),
        ("WEBP", "RGBA"),
        ("TIFF", "I;16"),
    ):
        img = (
            Image.fromarray(255 - digit).convert(mode)
            if mode != "I;16"
            else Image.fromarray((255 - digit).astype(np.uint16) * 257)
        )
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out[f"seed.{fmt.lower()}"] = buf.getvalue()
    return out


def _idx_seeds() -> dict:
    import gzip
    import struct

    images = struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 2, 28, 28) + bytes(2 * 784)
    labels = struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 2) + bytes([3, 7])
    return {"images.idx": images, "labels.idx": labels, "images.idx.gz": gzip.compress(images)}


def run_file(target: str, path: str) -> None:
    """Runs one saved input through a target (for replaying findings)."""
    TARGETS[target](Path(path).read_bytes())


if __name__ == "__main__":
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    run_file(sys.argv[1], sys.argv[2])
    print("ok")

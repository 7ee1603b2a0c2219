"""mnist-edge: an MNIST digit model from Keras training to a Raspberry Pi.

Laid out after pypa/sampleproject's setup.py. The core install is light
(numpy, click, Pillow); TensorFlow comes only with the ``train`` extra, the
TFLite interpreter with ``runtime``.
"""

import pathlib

from setuptools import find_packages, setup

here = pathlib.Path(__file__).parent.resolve()
long_description = (here / "README.md").read_text(encoding="utf-8")
version = {}
exec((here / "mnist_edge" / "__init__.py").read_text(encoding="utf-8"), version)

setup(
    name="mnist-edge",
    version=version["__version__"],
    description="Train, export, benchmark and deploy an MNIST digit model to small devices",
    long_description=long_description,
    long_description_content_type="text/markdown",
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Programming Language :: Python :: 3 :: Only",
    ],
    license="MIT",
    keywords="mnist, tflite, litert, quantization, raspberry-pi, edge",
    packages=find_packages(include=["mnist_edge", "mnist_edge.*"]) + ["mnist_edge.default_model"],
    # The predictor's default int8 model is committed in models/default/ and
    # installed as package data, so `mnist-edge predict` works right after a
    # plain (non-editable) `pip install .[runtime]`.
    package_dir={"mnist_edge.default_model": "models/default"},
    package_data={
        "mnist_edge.default_model": ["*.tflite", "*.json", "*.npz"],
        "mnist_edge.serve": ["page.html"],
    },
    python_requires=">=3.10, <4",
    install_requires=["numpy", "click>=8.0", "pillow>=9.4"],
    extras_require={
        "train": [
            # tensorflow-cpu has wheels for x86-64 Linux; elsewhere the full package.
            "tensorflow-cpu>=2.16; platform_system=='Linux' and platform_machine=='x86_64'",
            "tensorflow>=2.16; platform_system!='Linux' or platform_machine!='x86_64'",
            "matplotlib>=3.5",
            # int4 weights (export --quantize int4 / auto): the converter has no int4;
            # ai-edge-quantizer is made for it, needs no TensorFlow, pins ai-edge-litert 2.3
            "ai-edge-quantizer>=0.10; platform_machine=='x86_64'",
        ],
        # train --qat: tensorflow-model-optimization runs on tf-keras (Keras 2) only. Both are
        # then installed with --no-deps (scripts/_env.sh install_qat_tools, README): tf-keras
        # names `tensorflow` as its dependency, which would pull the full CUDA wheel over
        # tensorflow-cpu. These are their other dependencies.
        "qat": ["dm-tree>=0.1.8", "scipy", "six", "mock"],
        "runtime": [
            # 2.2.0 and 2.3.0 segfault when creating an Interpreter on arm64 (see
            # DEVELOPERS.md); 2.1.x is proven on Raspberry Pi OS bookworm (arm64)
            # by scripts/pi_check.sh.
            "ai-edge-litert>=2.1.0,<2.2; platform_machine=='aarch64'",
            "ai-edge-litert>=2.1.0; platform_machine!='aarch64' and platform_machine!='armv7l'",
            # 32-bit Pi OS: LiteRT has no armv7l wheels; tflite-runtime 2.14.0
            # (the last release) has one for CPython 3.11 and needs numpy<2.
            "tflite-runtime==2.14.0; platform_machine=='armv7l'",
            "numpy<2; platform_machine=='armv7l'",
        ],
        # search: Ray Tune drives the trials (here or on a Ray cluster), Optuna's TPE picks them;
        # tflite-micro measures each trial's arena. With the train extra: [train,search].
        "search": ["ray[tune]>=2.9", "optuna>=3.4", "tflite-micro"],
        # the microcontroller check (export --micro): TFLM's kernels compiled for the host
        "micro": ["tflite-micro"],
        # serve: a small ASGI service (no TensorFlow)
        "serve": [
            "starlette>=0.37",
            "uvicorn>=0.29",
            "python-multipart>=0.0.9",
            "prometheus-client>=0.20",
            # the fast event loop and HTTP parser uvicorn uses when present
            "uvloop>=0.19; platform_system!='Windows'",
            "httptools>=0.6",
        ],
        # watch: frames from cameras, files and streams (FFmpeg's libraries in PyAV's wheel), MQTT
        "watch": ["av>=12", "paho-mqtt>=2"],
        # tests, wheel building, and the peers benchmark (ONNX Runtime via tf2onnx)
        "dev": [
            "pytest>=7",
            "build",
            "wheel",
            "onnxruntime",
            "onnx",
            "tf2onnx",
            "ruff",
            "tflite-micro",
            "httpx2",  # starlette.testclient's client (plain httpx is deprecated there)
            "selenium",
            "atheris>=2.3; platform_machine=='x86_64' and python_version<'3.13'",
        ],
    },
    entry_points={"console_scripts": ["mnist-edge=mnist_edge.cli:main"]},
)

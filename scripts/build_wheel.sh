#!/usr/bin/env bash
# Builds the installable wheel for a device (mnist-edge is not on PyPI):
#   ./scripts/build_wheel.sh            -> dist/mnist_edge-<version>-py3-none-any.whl
# then, on the Raspberry Pi (Raspberry Pi OS bookworm or trixie, 64-bit):
#   python3 -m venv ~/mnist-edge
#   ~/mnist-edge/bin/pip install "$(ls mnist_edge-*.whl)[runtime,serve]"
# The wheel is pure Python; it carries the shipped model, its sidecar and reference record.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
need_venv
rm -rf build dist
"$PYTHON" -m venv .venv-build
# pip's and build's own chatter (setuptools' copy lines and deprecation notes) goes to
# a log, shown only when something fails.
log="$(mktemp)"
if ! { .venv-build/bin/python -m pip install -q build && .venv-build/bin/python -m build --wheel --outdir dist .; } \
    >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -rf .venv-build build "$log"
ls dist/mnist_edge-*.whl

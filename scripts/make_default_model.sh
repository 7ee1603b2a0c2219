#!/usr/bin/env bash
# Rebuilds the int8 model shipped as the predictor's default
# (models/default/mnist_mlp_int8.tflite + .json): trains the tutorial MLP with
# seed 0, exports full int8 through the parity gate, copies both files.
# Usage: ./scripts/make_default_model.sh   (needs the train extra)
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "train,runtime,serve,micro,dev"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/mnist-edge train --seed 0 --out "$work"
.venv/bin/mnist-edge export --model "$work/mnist_mlp.keras" --quantize int8 --out "$work"
mkdir -p models/default
cp "$work/mnist_mlp_int8.tflite" "$work/mnist_mlp_int8.json" models/default/
echo "models/default/ updated" >&2

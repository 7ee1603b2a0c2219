#!/usr/bin/env bash
# Rebuilds the record-small microcontroller model (models/tiny/): `--arch tiny`
# (9,362 parameters: five 3x3 convolutions of 8, 8, 16, 16, 32 filters with batch
# norm, global average pooling, one dense layer), trained 30 epochs with small
# random rotations, shifts and zooms, then 2 epochs of quantisation-aware
# training (train --qat: tensorflow-model-optimization on tf-keras, the qat
# extra) and converted to full int8; checked with TensorFlow Lite Micro (exact
# arena, agreement with LiteRT) and written as a C array too.
# Takes about 30 minutes on 2 cores.
# Usage: ./scripts/make_tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "$ALL_EXTRAS"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/mnist-edge train --arch tiny --epochs 30 --batch-size 64 --seed 0 --out "$work"
.venv/bin/mnist-edge train --qat --from "$work/mnist_tiny.keras" --epochs 2 --batch-size 64 --seed 0 --out "$work"
mkdir -p models/tiny
rm -f models/tiny/*
cp "$work/mnist_tiny_qat_int8.tflite" "$work/mnist_tiny_qat_int8.json" models/tiny/
.venv/bin/mnist-edge micro models/tiny/mnist_tiny_qat_int8.tflite --c-array models/tiny --json \
  > models/tiny/mnist_tiny_qat_int8.micro.json
echo "models/tiny/ updated" >&2

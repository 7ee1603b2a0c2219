#!/usr/bin/env bash
# The main job end to end on the default data: train the tutorial model,
# evaluate it and draw its figures, export it to TFLite (gated on parity),
# benchmark every format against Keras, then read photo-like test images with
# the shipped model and with the int8 MLP, and score both on those photos
# (eval --images, from the labels.csv the photo maker writes).
# Outputs go to models/ and out/. Afterwards: source .venv/bin/activate
# Data: $MNIST_EDGE_DATA, ../shared/data/mnist, or a Keras download.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "$ALL_EXTRAS"
ME=".venv/bin/mnist-edge"
set -x
$ME train --out models
$ME eval --model models/mnist_mlp.keras --plots out/plots
$ME export --model models/mnist_mlp.keras --quantize all --out models
$ME bench --keras models/mnist_mlp.keras --threads 1,2 --report out/bench
.venv/bin/python -m mnist_edge.synthesis.synth out/photos --count 8
$ME predict --top-k 2 out/photos --debug-dir out/seen
$ME predict --model models/mnist_mlp_int8.tflite --top-k 2 out/photos
$ME eval --images out/photos
$ME eval --images out/photos --model models/mnist_mlp_int8.tflite

"""Quantisation-aware training in its own process (run by :mod:`mnist_edge.training.qat`).

tensorflow-model-optimization 0.8 rejects Keras 3 models ("`to_quantize` can
only either be a keras Sequential or Functional model"): it works on tf-keras
(Keras 2) only, which TensorFlow 2.21 uses as ``tf.keras`` when
``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported. So this
process, started with that variable, rebuilds the Keras 3 model layer for
layer in tf-keras (weights copied; training-only augmentation layers left
out), wraps it with fake quantisation, fine-tunes, and converts to full int8.

Writes ``OUT.tflite`` and ``OUT.npz`` (the QAT model's own test-set
probabilities: the reference its int8 file is gated against).

    TF_USE_LEGACY_KERAS=1 python -m mnist_edge.training.qat_worker MODEL OUT EPOCHS LR BATCH SEED [DATA_DIR]
"""

from __future__ import annotations

import os
import sys

import numpy as np

SKIPPED_LAYERS = ("RandomRotation", "RandomTranslation", "RandomZoom")  # training-only augmentation


def legacy_layer(layers, layer):
    """The tf-keras twin of one Keras 3 layer (None for training-only layers).

    Raises:
        ValueError: a layer type QAT is not set up for here.
    """
    kind, cfg = layer.__class__.__name__, layer.get_config()
    if kind in SKIPPED_LAYERS:
        return None
    if kind == "Reshape":
        return layers.Reshape(tuple(cfg["target_shape"]), name=layer.name)
    if kind == "Flatten":
        return layers.Flatten(name=layer.name)
    if kind == "Dense":
        return layers.Dense(cfg["units"], cfg["activation"], cfg["use_bias"], name=layer.name)
    if kind == "Conv2D":
        return layers.Conv2D(
            cfg["filters"],
            cfg["kernel_size"],
            cfg["strides"],
            cfg["padding"],
            activation=cfg["activation"],
            use_bias=cfg["use_bias"],
            name=layer.name,
        )
    if kind == "BatchNormalization":
        return layers.BatchNormalization(momentum=cfg["momentum"], epsilon=cfg["epsilon"], name=layer.name)
    if kind == "ReLU":
        return layers.ReLU(name=layer.name)
    if kind == "MaxPooling2D":
        return layers.MaxPooling2D(cfg["pool_size"], cfg["strides"], cfg["padding"], name=layer.name)
    if kind == "GlobalAveragePooling2D":
        return layers.GlobalAveragePooling2D(name=layer.name)
    if kind == "Softmax":
        return layers.Softmax(name=layer.name)
    if kind == "Dropout":
        return layers.Dropout(cfg["rate"], name=layer.name)
    raise ValueError(f"layer {layer.name} ({kind}) is not supported by train --qat")


def rebuild(source, tf_keras):
    """The Keras 3 ``source`` as a tf-keras Sequential with the same weights, and its input shape.

    A leading Reshape or Flatten becomes the input shape itself: tf-keras
    reshapes through SHAPE/STRIDED_SLICE/PACK ops (a dynamic batch), which a
    static input of ``(28, 28, 1)`` or ``(784,)`` does not need.
    """
    pairs = [(layer, legacy_layer(tf_keras.layers, layer)) for layer in source.layers]
    pairs = [(layer, twin) for layer, twin in pairs if twin is not None]
    shape = (28, 28)
    if pairs and pairs[0][0].__class__.__name__ in ("Reshape", "Flatten"):
        shape = tuple(int(d) for d in pairs[0][0].output.shape[1:])
        pairs = pairs[1:]
    model = tf_keras.Sequential([tf_keras.layers.InputLayer(shape)] + [twin for _, twin in pairs])
    for layer, twin in pairs:
        if layer.get_weights():
            twin.set_weights(layer.get_weights())
    return model, shape


def main(argv) -> int:
    """Rebuilds, fake-quantises, fine-tunes and converts; writes ``OUT.tflite`` and ``OUT.npz``."""
    model_path, out, epochs, rate, batch, seed = argv[:6]
    data_dir = argv[6] if len(argv) > 6 and argv[6] else None
    import keras
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from mnist_edge import data as data_mod

    tf_keras.utils.set_random_seed(int(seed))
    dataset = data_mod.load(data_dir)
    source = keras.saving.load_model(model_path, compile=False)
    legacy, shape = rebuild(source, tf_keras)
    model = tfmot.quantization.keras.quantize_model(legacy)
    model.compile(
        tf_keras.optimizers.Adam(float(rate)), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x_train = data_mod.normalize(dataset.x_train).reshape((-1,) + shape)
    model.fit(x_train, dataset.y_train, epochs=int(epochs), batch_size=int(batch), verbose=0)
    x_test = data_mod.normalize(dataset.x_test).reshape((-1,) + shape)
    probabilities = model.predict(x_test, batch_size=1000, verbose=0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    content = converter.convert()
    with open(out + ".tflite", "wb") as f:
        f.write(content)
    np.savez(out + ".npz", probabilities=probabilities.astype(np.float32))
    return 0


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit(
            "qat_worker needs TF_USE_LEGACY_KERAS=1 (tensorflow-model-optimization runs on tf-keras only)"
        )
    sys.exit(main(sys.argv[1:]))

"""The model architectures ``mnist-edge train --arch`` builds (TensorFlow side only).

* ``mlp``: the TensorFlow beginner tutorial's model, layer for layer
  (101,770 parameters; int8 ~105 KB). ``train``'s default.
* ``cnn``: a small CNN (12,810 parameters; int8 ~19 KB, ~18 µs).
* ``cnn-m``: the device CNN the packaged model uses: three 3x3
  convolutions (32, 64, 96 filters) with batch normalisation (folded into
  the convolutions on export), two poolings and one dense layer; 98,794
  parameters, int8 ~104 KB, about 5 M multiply-adds (~40 µs per image here).
* ``tiny``: a microcontroller model under 10,000 parameters: five 3x3
  convolutions (8, 8, 16, 16, 32 filters) with batch normalisation, two
  poolings, global average pooling and one dense layer (~1.4 M
  multiply-adds); small random rotations, shifts and zooms while training
  (Keras preprocessing layers: the identity at inference, nothing in the
  export).

All take ``(batch, 28, 28)`` float32 pixels / 255 and return 10
probabilities. TensorFlow is imported inside :func:`build_model`.
"""

from __future__ import annotations

from mnist_edge import constants
from mnist_edge.training._tf import import_tf

ARCHS = constants.ARCHS
DROPOUT = 0.2
ARCH_HELP = {
    "mlp": "the tutorial's MLP, layer for layer (default)",
    "cnn": "a small CNN, 12.8k parameters",
    "cnn-m": "the device CNN of the packaged model, 99k parameters, batch norm",
    "tiny": "a microcontroller CNN under 10k parameters (int8 ~16 KB)",
}
# The tiny model sees each digit a little rotated, shifted and zoomed while
# training: with so few parameters, variety is what keeps it from overfitting.
TINY_ROTATION = 0.03  # of a full turn: +-11 degrees
TINY_SHIFT = 0.08  # of the side: +-2 px
TINY_ZOOM = 0.08


def _mlp(layers):
    return [
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dropout(DROPOUT, name="dropout"),
        layers.Dense(10, activation="softmax", name="dense_1"),
    ]


def _cnn(layers):
    return [
        layers.Reshape((28, 28, 1), name="reshape"),
        layers.Conv2D(16, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(32, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dropout(DROPOUT, name="dropout"),
        layers.Dense(10, activation="softmax", name="dense"),
    ]


def _conv_bn_relu(layers, filters, padding, name):
    return [
        layers.Conv2D(filters, 3, padding=padding, use_bias=False, name=f"{name}"),
        layers.BatchNormalization(name=f"{name}_bn"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def _cnn_m(layers):
    return (
        [layers.Reshape((28, 28, 1), name="reshape")]
        + _conv_bn_relu(layers, 32, "same", "conv1")
        + [layers.MaxPooling2D(name="pool1")]
        + _conv_bn_relu(layers, 64, "same", "conv2")
        + [layers.MaxPooling2D(name="pool2")]
        + _conv_bn_relu(layers, 96, "valid", "conv3")
        + [
            layers.Flatten(name="flatten"),
            layers.Dropout(0.3, name="dropout"),
            layers.Dense(10, activation="softmax", name="dense"),
        ]
    )


def _tiny(layers):
    # Channels stay few while the maps are large (28x28: 8, 14x14: 16), so
    # no layer's input and output together pass ~12 KB of int8: the TFLM arena
    # stays under 16 KB. Global average pooling replaces a large dense layer.
    return (
        [
            layers.Reshape((28, 28, 1), name="reshape"),
            layers.RandomRotation(TINY_ROTATION, fill_mode="constant", name="rotate"),
            layers.RandomTranslation(TINY_SHIFT, TINY_SHIFT, fill_mode="constant", name="shift"),
            layers.RandomZoom(TINY_ZOOM, fill_mode="constant", name="zoom"),
        ]
        + _conv_bn_relu(layers, 8, "same", "conv1")
        + _conv_bn_relu(layers, 8, "same", "conv2")
        + [layers.MaxPooling2D(name="pool1")]
        + _conv_bn_relu(layers, 16, "same", "conv3")
        + _conv_bn_relu(layers, 16, "same", "conv4")
        + [layers.MaxPooling2D(name="pool2")]
        + _conv_bn_relu(layers, 32, "same", "conv5")
        + [
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(10, activation="softmax", name="dense"),
        ]
    )


_BODIES = {"mlp": _mlp, "cnn": _cnn, "cnn-m": _cnn_m, "tiny": _tiny}


def build_model(arch: str = constants.DEFAULT_ARCH):
    """Builds (uncompiled) one of :data:`ARCHS`.

    Args:
        arch: the architecture name.

    Returns:
        A ``keras.Sequential`` taking ``(batch, 28, 28)`` float32 in [0, 1] and
        returning 10 class probabilities.

    Raises:
        ValueError: for an unknown architecture.
    """
    if arch not in _BODIES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")

    import_tf()
    import keras
    from keras import layers

    name = f"mnist_{arch.replace('-', '_')}"
    return keras.Sequential([keras.Input((28, 28), name="image")] + _BODIES[arch](layers), name=name)

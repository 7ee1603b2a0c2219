"""The device CNN family ``mnist-edge search`` explores, and the Keras model of one member.

A member is a dict of named choices (:data:`mnist_edge.search.space.DEFAULT_SPACE`):
``stages`` stages of ``convs`` convolution + batch norm + ReLU layers
(``kernel`` x ``kernel``, ``width`` filters in the first stage, times
``growth`` in each next one), a pooling (``pool``: max or average) between
stages, then a head (``head``: global average pooling, or pooling and
flatten), an optional dense layer (``dense`` units, 0: none) and the
10-way softmax. ``augment`` scales the training-only random rotation,
shift and zoom of the tiny model (identity at inference, nothing in the
export). The tiny model of ``train --arch tiny`` is one member.

TensorFlow is imported inside :func:`build_member`.
"""

from __future__ import annotations

from typing import Dict, List

from mnist_edge.training._tf import import_tf
from mnist_edge.training.models import TINY_ROTATION, TINY_SHIFT, TINY_ZOOM

# Keras' 0.99 leaves a short trial's inference statistics a quarter made of their initial
# values after ~140 steps (0.99^140): a few-minute trial would be judged on half-set statistics.
BN_MOMENTUM = 0.9


def stage_widths(member: Dict) -> List[int]:
    """The filters of each stage: ``width``, then times ``growth`` per stage (at least 1)."""
    return [max(1, round(member["width"] * member["growth"] ** k)) for k in range(member["stages"])]


def _augmentation(layers, strength: float) -> list:
    if strength <= 0:
        return []
    return [
        layers.RandomRotation(TINY_ROTATION * strength, fill_mode="constant", name="rotate"),
        layers.RandomTranslation(
            TINY_SHIFT * strength, TINY_SHIFT * strength, fill_mode="constant", name="shift"
        ),
        layers.RandomZoom(TINY_ZOOM * strength, fill_mode="constant", name="zoom"),
    ]


def _stage(layers, member: Dict, index: int, filters: int) -> list:
    out = []
    for k in range(member["convs"]):
        name = f"s{index + 1}c{k + 1}"
        out += [
            layers.Conv2D(filters, member["kernel"], padding="same", use_bias=False, name=name),
            layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn"),
            layers.ReLU(name=f"{name}_relu"),
        ]
    return out


def _pooling(layers, kind: str, name: str):
    return (layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D)(pool_size=2, name=name)


def _head(layers, member: Dict) -> list:
    if member["head"] == "gap":
        out = [layers.GlobalAveragePooling2D(name="gap")]
    else:
        out = [_pooling(layers, member["pool"], "pool_last"), layers.Flatten(name="flatten")]
    if member["dense"]:
        out.append(layers.Dense(member["dense"], activation="relu", name="hidden"))
    return out + [layers.Dense(10, activation="softmax", name="dense")]


def member_layers(layers, member: Dict) -> list:
    """The layers of one member, after the input (see the module docstring)."""
    out = [layers.Reshape((28, 28, 1), name="reshape")] + _augmentation(layers, member["augment"])
    widths = stage_widths(member)
    for index, filters in enumerate(widths):
        out += _stage(layers, member, index, filters)
        if index < len(widths) - 1:
            out.append(_pooling(layers, member["pool"], f"pool{index + 1}"))
    return out + _head(layers, member)


def build_member(member: Dict, name: str = "mnist_search"):
    """An uncompiled ``keras.Sequential`` of one member: ``(batch, 28, 28)`` in [0, 1] -> 10 probabilities."""
    import_tf()
    import keras
    from keras import layers

    return keras.Sequential([keras.Input((28, 28), name="image")] + member_layers(layers, member), name=name)

"""A model's multiply-adds, from the file alone, and an estimated Cortex-M latency from them.

The count reads the operators' tensor shapes (numpy-free, no interpreter):
CONV_2D is ``H_out * W_out * C_out * kh * kw * C_in``, DEPTHWISE_CONV_2D
``H_out * W_out * C_out * kh * kw``, FULLY_CONNECTED ``units * inputs``;
pooling, activations and reshapes add little and are left out.

The latency is an **estimate**, not a measurement: multiply-adds times a
published cycles-per-multiply-add figure for CMSIS-NN's int8 kernels (the
ones TFLM uses on Cortex-M), divided by a typical clock.
"""

from __future__ import annotations

import math
from typing import Dict, List

# CMSIS-NN's paper (Lai, Suda, Chandra, "CMSIS-NN: Efficient Neural Network Kernels
# for Arm Cortex-M CPUs", arXiv:1801.06601, 2018): the CIFAR-10 CNN (conv 5x5x32,
# 5x5x32, 5x5x64 and a dense layer: 12.3 M multiply-adds) runs in 99.1 ms on a
# Cortex-M7 at 216 MHz: 21.4 M cycles, 1.74 cycles per multiply-add.
M7_CYCLES_PER_MAC = 216e6 * 0.0991 / 12.3e6
# The Cortex-M4 has the same SIMD multiply-add (SMLAD, two int8 products a cycle)
# but single issue and half the M7's load bandwidth: assumed twice the M7's cycles.
M4_CYCLES_PER_MAC = 2 * M7_CYCLES_PER_MAC
SOURCE = (
    "estimate: multiply-adds x cycles per multiply-add of CMSIS-NN's int8 kernels "
    "(M7: 1.74, from arXiv:1801.06601's CIFAR-10 CNN, 99.1 ms at 216 MHz; M4: assumed 2x the M7's)"
)
CORES = (
    {"core": "Cortex-M7 @ 216 MHz (STM32F746)", "hz": 216e6, "cycles_per_mac": M7_CYCLES_PER_MAC},
    {
        "core": "Cortex-M4F @ 64 MHz (nRF52840, Arduino Nano 33 BLE)",
        "hz": 64e6,
        "cycles_per_mac": M4_CYCLES_PER_MAC,
    },
)


def multiply_adds(facts) -> int:
    """Multiply-adds of one inference (batch 1), from a model's facts (:mod:`mnist_edge.runtime.validate`)."""
    total = 0
    for op in facts.ops:
        shapes = [facts.tensors[i].shape if i >= 0 else [] for i in op.inputs]
        out = facts.tensors[op.outputs[0]].shape if op.outputs else []
        if op.name == "CONV_2D" and len(shapes) > 1 and len(shapes[1]) == 4 and len(out) == 4:
            _, kh, kw, c_in = shapes[1]
            total += out[1] * out[2] * out[3] * kh * kw * c_in
        elif op.name == "DEPTHWISE_CONV_2D" and len(shapes) > 1 and len(shapes[1]) == 4 and len(out) == 4:
            _, kh, kw, _ = shapes[1]
            total += out[1] * out[2] * out[3] * kh * kw
        elif op.name == "FULLY_CONNECTED" and len(shapes) > 1 and len(shapes[1]) == 2:
            total += math.prod(shapes[1])
    return int(total)


def cortex_m_estimate(macs: int) -> List[Dict]:
    """Estimated milliseconds per inference on the :data:`CORES` (estimates: see :data:`SOURCE`)."""
    return [
        {"core": c["core"], "estimated_ms": round(macs * c["cycles_per_mac"] / c["hz"] * 1e3, 2)}
        for c in CORES
    ]

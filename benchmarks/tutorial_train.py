"""The TensorFlow beginner tutorial's training, as the tutorial writes it.

This is the reference `benchmarks/train_speed.py` compares `mnist-edge train`
against: float64 `x / 255.0` fed straight to `model.fit`, batch 32, 5 epochs,
default threading. The data comes from `mnist_edge.data` (the same arrays
`keras.datasets.mnist.load_data()` returns) because this machine has no
internet.

Run: MNIST_EDGE_DATA=../shared/data/mnist python benchmarks/tutorial_train.py
Prints one JSON line: train_seconds, test_accuracy, test_loss.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tensorflow as tf

from mnist_edge import data

dataset = data.load(sys.argv[1] if len(sys.argv) > 1 else None)
x_train, y_train, x_test, y_test = dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
x_train, x_test = x_train / 255.0, x_test / 255.0

tf.keras.utils.set_random_seed(0)
model = tf.keras.models.Sequential(
    [
        tf.keras.layers.Input((28, 28)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
model.fit(x_train, y_train, epochs=5, verbose=0)
seconds = time.perf_counter() - start
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(json.dumps({"train_seconds": round(seconds, 3), "test_accuracy": accuracy, "test_loss": loss}))

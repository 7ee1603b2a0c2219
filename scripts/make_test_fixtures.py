"""Rebuilds the small .tflite fixtures in tests/fixtures/ (needs the train extra).

The runtime and predict tests use them so they run in a venv without
TensorFlow. It trains the tutorial MLP with seed 0 (the same model as
models/default/), exports float32 and the uint8-I/O and float-I/O int8
variants with their sidecars, and converts a deliberately wrong model
(32x32 input, 5 classes) for the bad-model tests.

Run: MNIST_EDGE_DATA=../shared/data/mnist python scripts/make_test_fixtures.py
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_edge import data, export, train  # noqa: E402
from mnist_edge._tf import import_tf  # noqa: E402


def main():
    out = ROOT / "tests" / "fixtures"
    out.mkdir(parents=True, exist_ok=True)
    dataset = data.load()
    with tempfile.TemporaryDirectory() as tmp:
        meta = train.train(dataset, tmp, seed=0)
        model = meta["model"]
        export.export(model, tmp, ["none"], dataset=dataset)
        for io_type in ("uint8", "float"):
            export.export(model, tmp, ["int8"], io_type=io_type, dataset=dataset)
        for name in ("mnist_mlp_float32", "mnist_mlp_int8_uint8io", "mnist_mlp_int8_floatio"):
            for suffix in (".tflite", ".json"):
                shutil.copy(Path(tmp) / (name + suffix), out / (name + suffix))
    tf = import_tf()
    import keras

    wrong = keras.Sequential(
        [keras.Input((32, 32)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")]
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(wrong)
    (out / "wrong_shape_32x32_to_5.tflite").write_bytes(export.convert(converter))
    print(f"fixtures written to {out}")


if __name__ == "__main__":
    main()

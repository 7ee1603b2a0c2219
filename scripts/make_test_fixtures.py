"""Rebuilds the small .tflite fixtures in tests/fixtures/ (needs the train extra).

The runtime, predict, bench and eval tests use them so they run in a venv
without TensorFlow. It trains the tutorial MLP with seed 0 and exports
float32 and the uint8-I/O and float-I/O int8 variants with their sidecars
and the reference record they share; trains the small `cnn` for one epoch
and exports it as int8 (a convolutional model for the microcontroller and
bench tests); converts a deliberately wrong model (32x32 input, 5 classes)
for the bad-model tests, and a float model with SIGN, an operator
TensorFlow Lite Micro lacks.

Run: MNIST_EDGE_DATA=../shared/data/mnist python scripts/make_test_fixtures.py
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_edge import data, export  # noqa: E402
from mnist_edge.training import train  # noqa: E402
from mnist_edge.training._tf import import_tf  # noqa: E402
from mnist_edge.training.config import TrainConfig  # noqa: E402


def main():
    out = ROOT / "tests" / "fixtures"
    out.mkdir(parents=True, exist_ok=True)
    dataset = data.load()
    with tempfile.TemporaryDirectory() as tmp:
        meta = train.train(dataset, tmp, TrainConfig(seed=0))
        model = meta["model"]
        export.export(model, tmp, export.ExportConfig(quantizations=("none",)), dataset=dataset)
        for io_type in ("uint8", "float"):
            export.export(model, tmp, export.ExportConfig(("int8",), io_type=io_type), dataset=dataset)
        for name in ("mnist_mlp_float32", "mnist_mlp_int8_uint8io", "mnist_mlp_int8_floatio"):
            for suffix in (".tflite", ".json"):
                shutil.copy(Path(tmp) / (name + suffix), out / (name + suffix))
        shutil.copy(Path(tmp) / "mnist_mlp.reference.npz", out / "mnist_mlp.reference.npz")
        cnn = train.train(dataset, tmp, TrainConfig(arch="cnn", epochs=1, seed=0, train_limit=6000))["model"]
        export.export(cnn, tmp, export.ExportConfig(quantizations=("int8",)), dataset=dataset)
        for name in ("mnist_cnn_int8.tflite", "mnist_cnn_int8.json", "mnist_cnn.reference.npz"):
            shutil.copy(Path(tmp) / name, out / name)
    tf = import_tf()
    import keras

    def sign_model(x):
        return tf.nn.softmax(tf.math.sign(tf.reshape(x, [-1, 784]))[:, :10])

    concrete = tf.function(sign_model, input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete.get_concrete_function()])
    (out / "sign_op_float.tflite").write_bytes(export.convert(converter))

    wrong = keras.Sequential(
        [keras.Input((32, 32)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")]
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(wrong)
    (out / "wrong_shape_32x32_to_5.tflite").write_bytes(export.convert(converter))
    print(f"fixtures written to {out}")


if __name__ == "__main__":
    main()

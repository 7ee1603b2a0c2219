"""mnist-edge: an MNIST digit model from Keras training to a Raspberry Pi.

The package imports nothing heavy at the top level: TensorFlow lives in the
training, export and bench modules and is imported inside their functions;
:mod:`mnist_edge.runtime` needs only numpy, Pillow and a TFLite interpreter.
"""

__version__ = "0.1.0"

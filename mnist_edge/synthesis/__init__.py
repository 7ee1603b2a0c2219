"""Synthetic images for training and testing (numpy + Pillow; no TensorFlow).

Modules: :mod:`.renderings` (MNIST digits as scans, photos, pens),
:mod:`.augment` (augmentation through the real front-end), :mod:`.outliers`
("not a digit" material: letters, shapes, scribbles), :mod:`.synth`
(photo-like test images with ``labels.csv``; ``python -m mnist_edge.synthesis.synth``).
"""

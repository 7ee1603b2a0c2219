"""Measuring and reporting, safe on the device (numpy + an interpreter; Keras only when given one).

Modules: :mod:`.evaluate` (accuracy on MNIST's test set, Keras or TFLite),
:mod:`.image_eval` (accuracy on the user's own labelled images),
:mod:`.parity` (agreement with the Keras model or its reference record),
:mod:`.reporting` (what every report shares: atomic figures, versions).
"""

"""The build side's training (needs the ``train`` extra: TensorFlow, matplotlib).

Modules: :mod:`.train` (the tutorial's MLP and the device CNNs), :mod:`.trainset`
(augmented and "not a digit" training sets), :mod:`.models` (architectures),
:mod:`.keras_model` (saving, loading, the metadata beside a model),
:mod:`.figures` (the tutorial's plots), :mod:`._tf` (TensorFlow, imported quietly
and only when called). TensorFlow is imported inside functions, never at import.
"""

"""The one Ultralytics adapter: every call into Ultralytics goes through this package.

Swapping the trainer means rewriting these modules only; the stages see plain functions.

    layers.py    the backbone depth (``BACKBONE_LAYERS``) and layer-name prefixes; no torch
    patches.py   offline patches, installed before any Ultralytics use (no downloads, inputs read-only)
    model.py     load/build models, copy and inspect checkpoints, library versions
    freeze.py    training callbacks and the frozen-layer proof (bit-exact state comparisons)
    train.py     one Ultralytics training run (single GPU, CPU or DDP)
    validate.py  validation with a confusion matrix, metrics as plain dicts
    export.py    ONNX export and the PyTorch side of the parity check

This file and ``layers.py`` import neither torch nor Ultralytics: the data stages read
``BACKBONE_LAYERS`` in images that have neither.
"""

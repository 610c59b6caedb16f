"""The one Ultralytics adapter: every call into Ultralytics goes through this package (see README.md).

This file and ``layers.py`` import neither torch nor Ultralytics: the data stages read
``BACKBONE_LAYERS`` in images that have neither.
"""

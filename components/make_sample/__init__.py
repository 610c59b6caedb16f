"""make-sample: a deterministic synthetic Pascal VOC dataset for the demo and the tests."""

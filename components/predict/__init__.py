"""predict: run a published or exported ONNX model on images and videos (ONNX Runtime only, no torch)."""

"""Export stage: ONNX export, onnxsim, checker, PyTorch/ONNX Runtime parity, latency and a model card."""

"""ONNX: export with embedded metadata, parity against PyTorch, FP16 conversion."""

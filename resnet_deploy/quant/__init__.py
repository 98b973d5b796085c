"""Reduced precision ONNX for strongly typed TensorRT: INT8 QDQ (calibrated) and FP16."""

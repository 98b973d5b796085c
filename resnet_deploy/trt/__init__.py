"""TensorRT engines: one builder for TensorRT 10/11 and TensorRT-RTX, sidecars, an engine runner."""

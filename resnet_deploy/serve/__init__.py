"""Serving and scale-out: a Triton Inference Server model repository."""

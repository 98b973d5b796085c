"""Serve any artifact through a real Triton Inference Server on this machine, with PyTriton.

PyTriton ships the Triton server binary and its Python backend, so no container is needed and it
runs on a CPU-only machine. The model is our runner (onnxruntime for .onnx, TensorRT for .plan)
behind Triton's HTTP/gRPC endpoints, with dynamic batching; outputs are the logits and the
top-1 label.
"""

from __future__ import annotations

import contextlib
import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from resnet_deploy.errors import ArtifactError


def _use_this_interpreters_libpython() -> None:
    """The backend stub links `libpython3.X.so`; put this interpreter's copy first, or a system
    Python of another patch release is loaded against our standard library (and fails)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and Path(libdir, sysconfig.get_config_var("LDLIBRARY") or "").exists():
        current = os.environ.get("LD_LIBRARY_PATH", "")
        if libdir not in current.split(":"):
            os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


@contextlib.contextmanager
def serve(
    artifact: str | Path, *, model_name: str = "resnet", http_port: int = 8000, grpc_port: int = 8001,
    metrics_port: int = 8002, max_batch: int = 64, weights: str | Path | None = None,
) -> Iterator[str]:  # fmt: skip
    """Run Triton with the artifact bound as `model_name`; yields the HTTP URL."""
    try:
        from pytriton.decorators import batch
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig
    except ImportError:
        raise ArtifactError("serving needs PyTriton: pip install 'resnet-deploy[serve]'") from None
    from resnet_deploy.backends import open_runner

    runner = open_runner(artifact, weights=weights)  # weights: for an arch name (None: random init)
    if runner.metadata is None:
        raise ArtifactError(f"{artifact} carries no labels or preprocessing; export it with `resnet-deploy export`")
    labels = np.array([label.encode() for label in runner.metadata.labels], dtype=object)
    size = runner.metadata.input_size

    @batch
    def infer(input: np.ndarray) -> dict[str, np.ndarray]:  # noqa: A002 - Triton's tensor name
        logits = runner.infer(input)
        return {"logits": logits, "label": labels[logits.argmax(1)][:, None]}

    _use_this_interpreters_libpython()
    config = TritonConfig(http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port)
    with runner, Triton(config=config) as triton:
        triton.bind(
            model_name=model_name,
            infer_func=infer,
            inputs=[Tensor(name="input", dtype=np.float32, shape=(3, size, size))],
            outputs=[
                Tensor(name="logits", dtype=np.float32, shape=(runner.metadata.num_classes,)),
                Tensor(name="label", dtype=bytes, shape=(1,)),
            ],
            config=ModelConfig(max_batch_size=max_batch, batcher=DynamicBatcher(max_queue_delay_microseconds=100)),
        )
        triton.run()
        yield f"http://127.0.0.1:{http_port}"

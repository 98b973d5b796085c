"""`OnnxRuntimeRunner`: onnxruntime with explicitly chosen execution providers.

onnxruntime silently falls back to the CPU when a requested provider fails to load; this
runner checks the session's active providers and refuses to run on anything but what was asked.

For the CUDA provider, `onnxruntime.preload_dlls()` (onnxruntime-gpu >= 1.21) first loads the CUDA
and cuDNN libraries that PyTorch's wheels bring, so onnxruntime-gpu needs no system CUDA
(onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider, "Preload DLLs"; microsoft/onnxruntime
PR 23744). onnxruntime-gpu must replace, not sit beside, the CPU package: with both installed the
CUDA provider disappears (microsoft/onnxruntime#26996); see the README's `[gpu]` note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import InputSpec, Runner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import BatchRange, ModelMetadata

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def load_onnx_metadata(path: Path) -> ModelMetadata | None:
    """The resnet-deploy metadata of an ONNX file, or None for a foreign file."""
    from resnet_deploy.exporting.metadata import read_metadata
    from resnet_deploy.exporting.onnx_file import load_onnx

    model = load_onnx(path, with_weights=False)
    if not any(p.key.startswith("resnet_deploy.") for p in model.metadata_props):
        return None
    return read_metadata(model, str(path))


def _preload_gpu_libraries(ort) -> None:
    """CUDA and cuDNN from PyTorch's wheels, before a GPU session (a no-op where absent)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        import torch  # noqa: F401 - its CUDA libraries are the ones to preload

        preload()


class OnnxRuntimeRunner(Runner):
    backend = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        provider_options: dict[str, dict[str, str]] | None = None,
    ) -> None:
        import onnxruntime as ort

        super().__init__()
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"ONNX file {path} not found; create it with `resnet-deploy export`")
        self.metadata = load_onnx_metadata(path)
        requested = [PROVIDER_ALIASES.get(p, p) for p in (providers or ["CPUExecutionProvider"])]
        available = ort.get_available_providers()
        missing = [p for p in requested if p not in available]
        if missing:
            raise ArtifactError(
                f"onnxruntime provider(s) {missing} are not installed; available: {available}. "
                "Install onnxruntime-gpu for CUDA/TensorRT, or use the CPU provider"
            )
        if any(p != "CPUExecutionProvider" for p in requested):
            _preload_gpu_libraries(ort)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = intra_op_threads
        options.log_severity_level = 3
        try:
            chosen = [(p, (provider_options or {}).get(p, {})) for p in requested]
            self.session = ort.InferenceSession(str(path), options, providers=chosen)
        except Exception as exc:  # onnxruntime's pybind errors (InvalidProtobuf, Fail, ...)
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ArtifactError(f"onnxruntime cannot load {path}: {first}") from None
        active = self.session.get_providers()
        inactive = [p for p in requested if p not in active]
        if inactive:
            raise ArtifactError(
                f"onnxruntime did not activate {inactive} (active: {active}); refusing to fall back silently"
            )
        self.providers = active
        self.device = "cuda" if any(p != "CPUExecutionProvider" for p in requested) else "cpu"
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ArtifactError(f"{path} has {len(inputs)} inputs; expected one image batch input")
        shape = inputs[0].shape
        if len(shape) != 4:
            raise ArtifactError(
                f"{path} has a rank-{len(shape)} input {inputs[0].name!r} {shape}; expected NCHW (rank 4)"
            )
        if inputs[0].type != "tensor(float)":
            raise ArtifactError(f"{path} takes {inputs[0].type}; expected float32 input")
        if not all(isinstance(d, int) for d in shape[1:]):
            raise ArtifactError(f"{path} has dynamic channel or spatial dims {shape}; export with a fixed size")
        batch_dim = shape[0] if isinstance(shape[0], int) else None
        batch = self.metadata.batch if self.metadata else None
        if batch is None and batch_dim is not None:
            batch = BatchRange(batch_dim, batch_dim, batch_dim)
        self.input = InputSpec(inputs[0].name, (batch_dim, shape[1], shape[2], shape[3]), batch=batch)
        self.output_name = outputs[0].name

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input.name: batch})[0]

    def _close(self) -> None:
        del self.session

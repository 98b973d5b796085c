"""`TorchRunner`: the PyTorch reference, on the CPU or on CUDA when present.

On CUDA the reference is strict float32: PyTorch lets cuDNN convolutions run as TF32 by default
(10-bit mantissas), which moves logits by about 1e-2, more than a parity tolerance of 1e-3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from resnet_deploy.backends.base import InputSpec, Runner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.export import build_reference
from resnet_deploy.exporting.metadata import ModelMetadata


def resolve_device(device: str | None) -> str:
    """`None` means CUDA when available; an explicit `cuda` without a GPU is an error, not a fallback."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ArtifactError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ArtifactError("--device cuda was requested but PyTorch sees no CUDA GPU; use --device cpu")
    return device


@contextmanager
def tf32_mode(enabled: bool) -> Iterator[None]:
    """cuDNN convolutions and cuBLAS matmuls as TF32 (`enabled`) or strict float32, then restored."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class TorchRunner(Runner):
    backend = "torch"

    def __init__(
        self, model: torch.nn.Module, metadata: ModelMetadata, device: str | None = None, tf32: bool = False
    ) -> None:
        super().__init__()
        self.device = resolve_device(device)
        self.tf32 = tf32
        self.model = model.eval().to(self.device)
        self.metadata = metadata
        size = metadata.input_size
        self.input = InputSpec("input", (None, 3, size, size), batch=metadata.batch)

    @classmethod
    def from_arch(
        cls,
        arch: str | None,
        weights: str | Path | None = None,
        *,
        num_classes: int | None = None,
        input_size: int | None = None,
        options: dict[str, str] | None = None,
        device: str | None = None,
    ) -> TorchRunner:
        if arch is None and weights is None:
            raise ArtifactError("a torch runner needs --arch NAME, a checkpoint, or both")
        model, metadata = build_reference(
            arch, weights, num_classes=num_classes, input_size=input_size, options=options
        )
        return cls(model, metadata, device=device)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(batch)
        if self.device == "cuda":
            tensor = tensor.pin_memory()  # pinned host memory: the copy below runs asynchronously
        with torch.inference_mode(), tf32_mode(self.tf32):
            logits = self.model(tensor.to(self.device, non_blocking=True))
        return logits.float().cpu().numpy()

    def _close(self) -> None:
        del self.model

"""The runner protocol (after Polygraphy's): open, describe the input, `infer`, close.

`Runner.infer` validates the batch once for every backend, then calls the backend's `_infer`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import BatchRange, ModelMetadata


@dataclass(frozen=True)
class InputSpec:
    """The model input: name, NCHW shape with `None` for a dynamic batch, dtype, batch range."""

    name: str
    shape: tuple[int | None, int, int, int]
    dtype: str = "float32"
    batch: BatchRange | None = None


class Runner(ABC):
    """Subclasses set `backend`, `input`, `metadata` and `device`, and implement `_infer`/`_close`."""

    backend: str = ""
    input: InputSpec
    metadata: ModelMetadata | None = None
    device: str = "cpu"

    def __init__(self) -> None:
        self._closed = False

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """NCHW float32 batch -> float32 logits of shape (N, num_classes)."""
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        batch = self.validate(batch)
        return np.asarray(self._infer(batch), dtype=np.float32)

    def validate(self, batch: np.ndarray) -> np.ndarray:
        if not isinstance(batch, np.ndarray):
            raise ArtifactError(f"expected a numpy array, got {type(batch).__name__}")
        _, channels, height, width = self.input.shape
        if batch.ndim != 4 or batch.shape[1:] != (channels, height, width) or batch.shape[0] < 1:
            raise ArtifactError(
                f"input has shape {tuple(batch.shape)}; the model expects (N, {channels}, {height}, {width})"
            )
        fixed = self.input.shape[0]
        if fixed is not None and batch.shape[0] != fixed:
            raise ArtifactError(f"the model has a fixed batch of {fixed}; got a batch of {batch.shape[0]}")
        return np.ascontiguousarray(batch, dtype=np.float32)

    @abstractmethod
    def _infer(self, batch: np.ndarray) -> np.ndarray: ...

    def _close(self) -> None:  # noqa: B027 - optional hook
        pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_padded(runner: Runner, batch: np.ndarray) -> np.ndarray:
    """`runner.infer`, padding a short last batch when the model's batch size is fixed."""
    fixed = runner.input.shape[0]
    count = batch.shape[0]
    if fixed is None or count == fixed:
        return runner.infer(batch)
    outputs = []
    for start in range(0, count, fixed):
        chunk = batch[start : start + fixed]
        pad = fixed - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        outputs.append(runner.infer(chunk)[: fixed - pad])
    return np.concatenate(outputs)

"""The batch size of a job over many images (infer, eval): one default, one validation, and a bound
against the memory the batches will need, checked before anything is allocated.

The bound is an estimate from the input's size. Measured peaks on the CPU (resident memory added
per image, over the input's own bytes; resnet20 and resnet50): onnxruntime 1.32 10-17x, PyTorch
eager 26-27x. The loader adds about 4 copies (two batches in flight, as images and stacked). On a
GPU the activations live in device memory; the host keeps the loader's copies and a pinned one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from resnet_deploy.backends.base import Runner
from resnet_deploy.errors import ImageDataError

HOST_BYTES_PER_INPUT_BYTE = {"cpu": 32, "cuda": 6}
MEMORY_SHARE = 0.8  # of what is available: leave room for the model, the process and the rest of the machine
_OUT_OF_MEMORY_MESSAGES = (
    "Failed to allocate memory",  # onnxruntime's arena
    "can't allocate memory",  # PyTorch's CPU allocator
    "out of memory",  # CUDA (torch.OutOfMemoryError), TensorRT
)


def default_batch_size(runner: Runner) -> int:
    fixed = runner.input.shape[0]
    if fixed is not None:
        return fixed
    return min(runner.input.batch.opt if runner.input.batch else 64, 256)


def bytes_per_image(runner: Runner) -> int:
    """Estimated host memory one image of a batch takes while the job runs."""
    _, channels, height, width = runner.input.shape
    factor = HOST_BYTES_PER_INPUT_BYTE["cpu" if runner.device == "cpu" else "cuda"]
    return channels * height * width * np.dtype(np.float32).itemsize * factor


def _size(size: float) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def resolve_batch_size(runner: Runner, requested: int | None, *, images: int | None) -> int:
    """`requested` (or the model's default), refused if below 1 or if a batch won't fit in memory
    (a batch holds no more than the job's `images`, when that count is known)."""
    from resnet_deploy.machine import available_memory

    batch_size = default_batch_size(runner) if requested is None else requested
    if batch_size < 1:
        raise ImageDataError(f"--batch-size must be at least 1, got {batch_size}")
    per_image = bytes_per_image(runner)
    needed = (batch_size if images is None else min(batch_size, max(images, 1))) * per_image
    available = available_memory()
    if available is not None and needed > MEMORY_SHARE * available:
        fits = max(1, int(MEMORY_SHARE * available // per_image))
        _, _, height, width = runner.input.shape
        raise ImageDataError(
            f"--batch-size {batch_size} needs about {_size(needed)} of memory for {height}x{width} inputs on "
            f"{runner.backend} ({runner.device}), but {_size(available)} is available; use --batch-size {fits} or less"
        )
    return batch_size


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is an allocation failure: numpy's MemoryError, or a backend's own report of one."""
    return isinstance(exc, MemoryError) or any(text in str(exc) for text in _OUT_OF_MEMORY_MESSAGES)


@contextmanager
def out_of_memory_is_an_error(batch_size: int) -> Iterator[None]:
    """An allocation failure while running batches becomes one `error:` line that says what to do."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise ImageDataError(
            f"out of memory at --batch-size {batch_size} ({type(exc).__name__}); use a smaller --batch-size"
        ) from None

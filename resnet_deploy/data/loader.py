"""Threaded batch loading: decode and preprocess in a pool while the model runs.

Pillow releases the GIL while decoding and resizing, so threads overlap well with inference
and avoid the start-up and pickling costs of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_deploy.data.decode import ImageDecodeError, load_rgb
from resnet_deploy.data.preprocess import PreprocessSpec

ProgressCallback = Callable[[int, int], None]  # (images done, of total), called as batches complete


@dataclass
class Batch:
    """A preprocessed batch; `indices` are positions in the input sequence, `errors` the failures."""

    inputs: np.ndarray
    indices: list[int]
    errors: list[tuple[int, str]] = field(default_factory=list)


def load_safely(path: Path, spec: PreprocessSpec) -> np.ndarray | str:
    """The preprocessed image, or the reason it cannot be decoded."""
    try:
        return spec(load_rgb(path))
    except ImageDecodeError as exc:
        return str(exc)


def iter_batches(paths: Sequence[Path], spec: PreprocessSpec, batch_size: int, workers: int = 4) -> Iterator[Batch]:
    """Yield batches in input order. A failed image is reported in `errors`, never dropped.

    At most two batches are in flight, so memory stays bounded whatever the folder size.
    """
    empty = np.zeros((0, 3, spec.input_size, spec.input_size), np.float32)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        starts = range(0, len(paths), batch_size)
        pending = None
        for start in [*starts, None]:
            submitted = None
            if start is not None:
                chunk = range(start, min(start + batch_size, len(paths)))
                submitted = (chunk, [pool.submit(load_safely, paths[i], spec) for i in chunk])
            if pending is not None:
                chunk, futures = pending
                arrays, indices, errors = [], [], []
                for index, future in zip(chunk, futures, strict=True):
                    result = future.result()
                    if isinstance(result, str):
                        errors.append((index, result))
                    else:
                        arrays.append(result)
                        indices.append(index)
                yield Batch(np.stack(arrays) if arrays else empty, indices, errors)
            pending = submitted

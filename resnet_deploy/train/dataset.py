"""A labelled image folder decoded once into memory, with the paper's CIFAR augmentation.

Images pass through the model's own `PreprocessSpec` (resize and crop to the input size) and are
kept as uint8, so 10,000 CIFAR images take 30 MB. Augmentation (He et al. 2015, sec. 4.2): pad
4 pixels with zeros, take a random crop of the input size, flip horizontally with p = 0.5;
then the spec's normalisation. All randomness comes from one `torch.Generator`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnet_deploy.data.decode import ImageDecodeError, load_rgb
from resnet_deploy.data.folders import image_folder
from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import ImageDataError

PAD = 4


@dataclass
class InMemoryImages:
    pixels: torch.Tensor  # uint8 N x H x W x 3
    labels: torch.Tensor  # int64 N
    classes: tuple[str, ...]


def load_folder(root: str | Path, spec: PreprocessSpec, workers: int = 4) -> InMemoryImages:
    """Decode every image of an ImageFolder tree, or say which ones cannot be read."""
    data = image_folder(root)
    if len(data.classes) < 2:
        raise ImageDataError(
            f"{root} has a single class folder ({data.classes[0]}); training a classifier needs at least two"
        )

    def decode(path: Path) -> np.ndarray | str:
        try:
            return np.asarray(spec.resize_crop(load_rgb(path)), dtype=np.uint8)
        except ImageDecodeError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        decoded = list(pool.map(decode, [path for path, _ in data.samples]))
    failures = [
        (path, result) for (path, _), result in zip(data.samples, decoded, strict=True) if isinstance(result, str)
    ]
    if failures:
        shown = "; ".join(f"{path.name}: {reason}" for path, reason in failures[:3])
        raise ImageDataError(
            f"{len(failures)} images in {root} cannot be read ({shown}{' ...' if len(failures) > 3 else ''}); "
            "remove or replace them, training needs every labelled image"
        )
    pixels = torch.from_numpy(np.stack(decoded))
    labels = torch.tensor([label for _, label in data.samples], dtype=torch.int64)
    return InMemoryImages(pixels, labels, data.classes)


def normalize(pixels: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW with the spec's mean and std (the same as `spec.normalize`)."""
    return torch.from_numpy(spec.normalize(pixels.numpy()))


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad 4 pixels, random crop back to size, random horizontal flip (uint8 NHWC)."""
    count, height, width, _ = pixels.shape
    padded = torch.nn.functional.pad(pixels, (0, 0, PAD, PAD, PAD, PAD))
    tops = torch.randint(0, 2 * PAD + 1, (count,), generator=generator)
    lefts = torch.randint(0, 2 * PAD + 1, (count,), generator=generator)
    flips = torch.rand(count, generator=generator) < 0.5
    rows = tops[:, None] + torch.arange(height)[None, :]
    cols = lefts[:, None] + torch.arange(width)[None, :]
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    index = torch.arange(count)[:, None, None]
    return padded[index, rows[:, :, None], cols[:, None, :]]

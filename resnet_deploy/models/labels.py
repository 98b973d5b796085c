"""Class names: ImageNet-1k (torchvision's index order) and CIFAR-10."""

from __future__ import annotations

from functools import cache
from importlib import resources

CIFAR10_LABELS = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


@cache
def imagenet_labels() -> tuple[str, ...]:
    text = resources.files("resnet_deploy.models").joinpath("imagenet_labels.txt").read_text()
    return tuple(line for line in text.splitlines() if line)


def generic_labels(num_classes: int) -> tuple[str, ...]:
    return tuple(f"class_{i}" for i in range(num_classes))

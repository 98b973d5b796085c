"""Class names: ImageNet-1k (torchvision's index order, with WordNet IDs) and CIFAR-10.

`imagenet_labels.txt` holds one `wnid<TAB>name` line per class, in torchvision's order (the
sorted WordNet IDs, as ImageFolder sorts the val folders). The names are torchvision's
`_IMAGENET_CATEGORIES` (unique: "crane bird" vs "crane", "maillot tank suit" vs "maillot");
the WordNet IDs are timm's `imagenet_synsets.txt`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

CIFAR10_LABELS = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


@cache
def _imagenet_table() -> tuple[tuple[str, str], ...]:
    text = resources.files("resnet_deploy.models").joinpath("imagenet_labels.txt").read_text()
    return tuple(tuple(line.split("\t", 1)) for line in text.splitlines() if line)  # type: ignore[misc]


def imagenet_labels() -> tuple[str, ...]:
    """The 1000 class names, in torchvision's index order."""
    return tuple(name for _, name in _imagenet_table())


def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 WordNet IDs (`n01440764`, ...), in the same order."""
    return tuple(wnid for wnid, _ in _imagenet_table())


def generic_labels(num_classes: int) -> tuple[str, ...]:
    return tuple(f"class_{i}" for i in range(num_classes))

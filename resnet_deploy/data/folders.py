"""Finding images: labelled ImageFolder trees (`root/<class>/<image>`) and plain file lists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resnet_deploy.data.decode import IMAGE_SUFFIXES
from resnet_deploy.errors import ImageDataError


@dataclass(frozen=True)
class LabelledImages:
    """The images of an ImageFolder tree: class names in folder order, and (path, index) pairs."""

    root: Path
    classes: tuple[str, ...]
    samples: tuple[tuple[Path, int], ...]


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_folder(root: str | Path) -> LabelledImages:
    """Read an ImageFolder tree; class folders are sorted, as torchvision does."""
    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"images folder {root} does not exist; pass a folder of <class>/<image> files")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ImageDataError(f"{root} has no class folders; expected ImageFolder layout: {root}/<class>/<image>.jpg")
    samples = tuple(
        (path, index)
        for index, name in enumerate(classes)
        for path in sorted((root / name).rglob("*"))
        if _is_image(path) and not path.is_dir()
    )
    if not samples:
        raise ImageDataError(f"{root} has class folders but no images ({', '.join(IMAGE_SUFFIXES)})")
    return LabelledImages(root=root, classes=tuple(classes), samples=samples)


def match_labels(found: tuple[str, ...], expected: tuple[str, ...], label_ids: tuple[str, ...] = ()) -> list[int]:
    """Map folder class indices to the model's label indices, or explain the mismatch.

    A folder may be named by the label (`tench`) or by its ID (ImageNet's WordNet ID `n01440764`,
    the layout of the standard val preparation)."""
    position = {label: index for index, label in enumerate(expected)}
    position.update({label_id: index for index, label_id in enumerate(label_ids)})
    unknown = [name for name in found if name not in position]
    if unknown:
        raise ImageDataError(
            f"class folders {sorted(unknown)[:5]} are not labels of the model; "
            f"folders: {list(found)[:10]}; model labels: {list(expected)[:10]}"
            f"{' ...' if len(expected) > 10 else ''}"
        )
    return [position[name] for name in found]


def list_images(root: str | Path) -> list[Path]:
    """Every image file under `root`, recursively, in a stable (sorted) order."""
    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"images folder {root} does not exist")
    paths = sorted(p for p in root.rglob("*") if _is_image(p) and not p.is_dir())
    if not paths:
        raise ImageDataError(f"{root} contains no images ({', '.join(IMAGE_SUFFIXES)})")
    return paths


def spread_evenly(paths: list[Path], count: int) -> list[Path]:
    """`count` of `paths` at even steps through the list: a sorted ImageFolder tree then gives
    every class its share. All of them when there are no more than `count`."""
    if len(paths) <= count:
        return list(paths)
    step = len(paths) / count
    return [paths[int(i * step)] for i in range(count)]

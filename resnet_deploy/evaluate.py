"""Top-1/top-5 accuracy of any runner on a labelled ImageFolder tree."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import Runner, run_padded
from resnet_deploy.backends.batching import out_of_memory_is_an_error, resolve_batch_size
from resnet_deploy.data.folders import image_folder, match_labels
from resnet_deploy.data.loader import ProgressCallback, iter_batches
from resnet_deploy.errors import ArtifactError, ImageDataError


@dataclass(frozen=True)
class EvalReport:
    top1: float
    top5: float
    images: int  # images scored (decoded successfully)
    errors: int  # images that could not be decoded, skipped
    backend: str
    seconds: float
    error_samples: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "top1": self.top1,
            "top5": self.top5,
            "images": self.images,
            "errors": self.errors,
            "backend": self.backend,
            "seconds": round(self.seconds, 2),
            "error_samples": [{"path": p, "reason": r} for p, r in self.error_samples],
        }


def labelled_images(
    images: str | Path, labels: tuple[str, ...], label_ids: tuple[str, ...] = ()
) -> tuple[list[Path], np.ndarray]:
    """The image paths of an ImageFolder tree and each one's index among the model's `labels`
    (class folders may be named by label or, for ImageNet, by WordNet ID)."""
    data = image_folder(images)
    to_model = np.asarray(match_labels(data.classes, labels, label_ids))
    return [path for path, _ in data.samples], to_model[[label for _, label in data.samples]]


@dataclass
class Score:
    """Running top-1/top-5 counts over batches."""

    k: int
    top1: int = 0
    top5: int = 0
    scored: int = 0

    def add(self, logits: np.ndarray, truth: np.ndarray) -> None:
        topk = np.argpartition(-logits, self.k - 1, axis=1)[:, : self.k]
        self.top1 += int((logits.argmax(1) == truth).sum())
        self.top5 += int((topk == truth[:, None]).any(1).sum())
        self.scored += len(truth)


def evaluate(
    runner: Runner,
    images: str | Path,
    *,
    batch_size: int | None = None,
    workers: int = 4,
    progress: ProgressCallback | None = None,
) -> EvalReport:
    if runner.metadata is None:
        raise ArtifactError("the model carries no labels or preprocessing; export it with `resnet-deploy export`")
    paths, targets = labelled_images(images, runner.metadata.labels, runner.metadata.label_ids)
    batch_size = resolve_batch_size(runner, batch_size, images=len(paths))
    score = Score(k=min(5, runner.metadata.num_classes))
    failures: list[tuple[str, str]] = []
    start = time.perf_counter()
    with out_of_memory_is_an_error(batch_size):
        for batch in iter_batches(paths, runner.metadata.preprocess, batch_size, workers=workers):
            failures.extend((str(paths[i]), reason) for i, reason in batch.errors)
            if batch.indices:
                score.add(run_padded(runner, batch.inputs), targets[batch.indices])
            if progress is not None:
                progress(score.scored + len(failures), len(paths))
    if score.scored == 0:
        raise ImageDataError(f"none of the {len(paths)} images in {images} could be decoded")
    return EvalReport(
        top1=score.top1 / score.scored,
        top5=score.top5 / score.scored,
        images=score.scored,
        errors=len(failures),
        backend=runner.backend,
        seconds=time.perf_counter() - start,
        error_samples=failures[:20],
    )

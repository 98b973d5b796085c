"""Top-1/top-5 accuracy of any runner on a labelled ImageFolder tree."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import Runner, run_padded
from resnet_deploy.data.folders import image_folder, match_labels
from resnet_deploy.data.loader import iter_batches
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


def default_batch_size(runner: Runner) -> int:
    fixed = runner.input.shape[0]
    if fixed is not None:
        return fixed
    return min(runner.input.batch.opt if runner.input.batch else 64, 256)


def evaluate(runner: Runner, images: str | Path, *, batch_size: int | None = None, workers: int = 4) -> EvalReport:
    if runner.metadata is None:
        raise ArtifactError("the model carries no labels or preprocessing; export it with `resnet-deploy export`")
    data = image_folder(images)
    to_model = np.asarray(match_labels(data.classes, runner.metadata.labels, runner.metadata.label_ids))
    paths = [path for path, _ in data.samples]
    targets = to_model[[label for _, label in data.samples]]
    batch_size = batch_size or default_batch_size(runner)
    if batch_size < 1:
        raise ImageDataError(f"--batch-size must be at least 1, got {batch_size}")
    k = min(5, runner.metadata.num_classes)
    top1 = top5 = scored = 0
    failures: list[tuple[str, str]] = []
    start = time.perf_counter()
    for batch in iter_batches(paths, runner.metadata.preprocess, batch_size, workers=workers):
        failures.extend((str(paths[i]), reason) for i, reason in batch.errors)
        if not batch.indices:
            continue
        logits = run_padded(runner, batch.inputs)
        truth = targets[batch.indices]
        topk = np.argpartition(-logits, k - 1, axis=1)[:, :k]
        top1 += int((logits.argmax(1) == truth).sum())
        top5 += int((topk == truth[:, None]).any(1).sum())
        scored += len(batch.indices)
    if scored == 0:
        raise ImageDataError(f"none of the {len(paths)} images in {images} could be decoded")
    return EvalReport(
        top1=top1 / scored,
        top5=top5 / scored,
        images=scored,
        errors=len(failures),
        backend=runner.backend,
        seconds=time.perf_counter() - start,
        error_samples=failures[:20],
    )

"""The --eval images, decoded once with the model's own preprocessing and scored exactly as `eval` scores.

Every candidate is derived from the same float32 export, so they share its preprocessing: the
images are decoded once and kept in memory (when they fit), in the same batches `eval` forms, so a
candidate's figure here equals `resnet-deploy eval` on the written artifact, image for image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import Runner, run_padded
from resnet_deploy.data.folders import spread_evenly
from resnet_deploy.data.loader import Batch, iter_batches
from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import ImageDataError
from resnet_deploy.evaluate import Score, labelled_images

MEMORY_LIMIT = 2 << 30  # decoded images kept in memory up to this; beyond, decoded again per candidate
MIN_EVAL_IMAGES = 100  # below this one image is more than a point of top-1


@dataclass(frozen=True)
class Outcome:
    correct: int
    images: int
    logits: np.ndarray | None  # in image order, when asked for

    @property
    def top1(self) -> float:
        return self.correct / self.images


class EvalImages:
    def __init__(self, paths: list[Path], targets: np.ndarray, spec: PreprocessSpec, batch_size: int, k: int) -> None:
        self.paths, self.targets, self.spec, self.batch_size, self.k = paths, targets, spec, batch_size, k
        fits = len(paths) * 3 * spec.input_size**2 * 4 <= MEMORY_LIMIT
        self._batches = list(self._decode()) if fits else None
        self.errors: list[tuple[str, str]] = []  # images that could not be decoded, skipped as `eval` skips them

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        labels: tuple[str, ...],
        spec: PreprocessSpec,
        batch_size: int,
        label_ids: tuple[str, ...] = (),
    ) -> EvalImages:
        paths, targets = labelled_images(folder, labels, label_ids)
        if len(paths) < MIN_EVAL_IMAGES:
            raise ImageDataError(
                f"--eval {folder} has {len(paths)} images; accuracy budgets need at least {MIN_EVAL_IMAGES} "
                "(one image would be more than a point of top-1)"
            )
        return cls(paths, targets, spec, batch_size, k=min(5, len(labels)))

    def subset(self, count: int) -> EvalImages:
        """`count` images spread evenly over the set (so every class keeps its share)."""
        if count <= 0 or count >= len(self.paths):
            return self
        index = {path: i for i, path in enumerate(self.paths)}
        chosen = [index[path] for path in spread_evenly(self.paths, count)]
        return EvalImages([self.paths[i] for i in chosen], self.targets[chosen], self.spec, self.batch_size, self.k)

    def _decode(self) -> Iterator[Batch]:
        return iter_batches(self.paths, self.spec, self.batch_size)

    def run(self, runner: Runner, *, keep_logits: bool = False) -> Outcome:
        score, logits, errors = Score(k=self.k), [], []
        for batch in self._batches if self._batches is not None else self._decode():
            errors.extend((str(self.paths[i]), reason) for i, reason in batch.errors)
            if not batch.indices:
                continue
            out = run_padded(runner, batch.inputs)
            score.add(out, self.targets[batch.indices])
            if keep_logits:
                logits.append(out)
        if score.scored == 0:
            raise ImageDataError(f"none of the {len(self.paths)} --eval images could be decoded")
        self.errors = errors
        return Outcome(score.top1, score.scored, np.concatenate(logits) if keep_logits else None)

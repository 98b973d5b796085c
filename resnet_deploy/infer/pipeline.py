"""The infer job: decode in a worker pool, run batches on a runner, stream rows in input order.

Decoding of batch k+1 overlaps inference of batch k (`iter_batches` keeps two batches in
flight), so memory is bounded whatever the folder size. Every input ends up as exactly one row:
a prediction, or an error with its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.backends.base import Runner, run_padded
from resnet_deploy.backends.batching import out_of_memory_is_an_error, resolve_batch_size
from resnet_deploy.data.loader import ProgressCallback, iter_batches
from resnet_deploy.errors import ArtifactError, ImageDataError
from resnet_deploy.infer.job import JobStart, engine_identity, start_job
from resnet_deploy.infer.writers import ResultWriter, display_text, path_text


@dataclass
class InferSummary:
    inputs: int  # unique inputs, including those done by an earlier (resumed) run
    ok: int
    errors: int
    skipped_done: int  # rows already present from an interrupted run
    wall_seconds: float
    compute_seconds: float
    batch_latencies_ms: list[float] = field(default_factory=list, repr=False)
    backend: str = ""
    duplicates: int = 0  # inputs named more than once: classified once, not counted in `inputs`

    @classmethod
    def starting(cls, start: JobStart, backend: str) -> InferSummary:
        return cls(inputs=start.total, ok=0, errors=0, skipped_done=start.done, wall_seconds=0.0,
                   compute_seconds=0.0, backend=backend, duplicates=start.duplicates)  # fmt: skip

    @property
    def processed(self) -> int:
        return self.ok + self.errors

    def to_dict(self) -> dict[str, Any]:
        latencies = np.asarray(self.batch_latencies_ms or [0.0])
        return {
            "images": self.inputs,
            "ok": self.ok,
            "errors": self.errors,
            "resumed_from": self.skipped_done,
            "duplicates": self.duplicates,
            "backend": self.backend,
            "wall_s": round(self.wall_seconds, 3),
            "images_per_s": round(self.processed / self.wall_seconds, 1) if self.wall_seconds else 0.0,
            "batch_latency_ms": {
                "p50": round(float(np.percentile(latencies, 50)), 3),
                "p90": round(float(np.percentile(latencies, 90)), 3),
                "p99": round(float(np.percentile(latencies, 99)), 3),
            },
            "compute_share": round(self.compute_seconds / self.wall_seconds, 3) if self.wall_seconds else 0.0,
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def ok_row(
    path: Path, probs: np.ndarray, labels: tuple[str, ...], k: int, label_ids: tuple[str, ...] = ()
) -> dict[str, Any]:
    order = np.argsort(-probs)[:k]
    topk = [{"index": int(i), "label": labels[i], "prob": round(float(probs[i]), 6)} for i in order]
    row = {"path": path_text(path), "status": "ok", "class_index": int(order[0]), "label": labels[order[0]],
           "topk": topk, "error": None}  # fmt: skip
    if label_ids:  # ImageNet models: each class's WordNet ID beside its label
        row["wnid"] = label_ids[order[0]]
        for entry in topk:
            entry["wnid"] = label_ids[entry["index"]]
    return row


def error_row(path: Path, reason: str) -> dict[str, Any]:
    return {"path": path_text(path), "status": "error", "class_index": None, "label": None, "topk": [],
            "error": display_text(reason)}  # fmt: skip


def run_infer(
    runner: Runner,
    inputs: list[Path],
    writer: ResultWriter,
    *,
    batch_size: int | None = None,
    topk: int = 5,
    workers: int = 4,
    resume: bool = False,
    artifact: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> InferSummary:
    """Classify `inputs` (each path once) into `writer`; `artifact` (the runner's file) identifies the job."""
    if runner.metadata is None:
        raise ArtifactError("the model carries no labels or preprocessing; export it with `resnet-deploy export`")
    labels = runner.metadata.labels
    if topk < 1:
        raise ImageDataError(f"--topk must be at least 1, got {topk}")
    k = min(topk, len(labels))
    batch_size = resolve_batch_size(runner, batch_size, images=len(inputs))
    start = start_job(writer, inputs, engine=engine_identity(runner.metadata, artifact), topk=k,
                      metadata=runner.metadata, resume=resume)  # fmt: skip
    todo = start.todo
    summary = InferSummary.starting(start, runner.backend)
    if progress is not None:
        progress(start.done, start.total)
    began_job = time.perf_counter()
    try:
        with out_of_memory_is_an_error(batch_size):
            for batch in iter_batches(todo, runner.metadata.preprocess, batch_size, workers=workers):
                probs = None
                if batch.indices:
                    began = time.perf_counter()
                    probs = softmax(run_padded(runner, batch.inputs))
                    elapsed = time.perf_counter() - began
                    summary.compute_seconds += elapsed
                    summary.batch_latencies_ms.append(elapsed * 1e3)
                rows = {i: error_row(todo[i], reason) for i, reason in batch.errors}
                for position, index in enumerate(batch.indices):
                    rows[index] = ok_row(todo[index], probs[position], labels, k, runner.metadata.label_ids)
                for index in sorted(rows):  # input order within the batch; batches arrive in order
                    writer.write(rows[index])
                summary.ok += len(batch.indices)
                summary.errors += len(batch.errors)
                if progress is not None:
                    progress(start.done + summary.processed, start.total)
    finally:
        summary.wall_seconds = time.perf_counter() - began_job
        writer.close()
    return summary

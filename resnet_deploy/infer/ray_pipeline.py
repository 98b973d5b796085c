"""The infer job on a Ray cluster with Ray Data: read paths -> decode and preprocess (a map)
-> classify on an actor pool (one actor per GPU, or N CPU actors) -> rows in input order.

Rows go through the same writer as the single-process job, so the output format, the order,
`--resume` and the nothing-lost guarantee are the same.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import ArtifactError
from resnet_deploy.infer.pipeline import InferSummary, ProgressCallback, error_row, ok_row, softmax
from resnet_deploy.infer.writers import ResultWriter


class _Decode:
    """Map: paths -> preprocessed pixels, or the decode error for each image."""

    def __init__(self, spec_json: str) -> None:
        self.spec = PreprocessSpec.from_json(spec_json)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from resnet_deploy.data.loader import load_safely

        size = self.spec.input_size
        pixels = np.zeros((len(batch["path"]), 3, size, size), np.float32)
        errors = []
        for i, path in enumerate(batch["path"]):
            result = load_safely(Path(path), self.spec)
            if isinstance(result, str):
                errors.append(result)
            else:
                pixels[i] = result
                errors.append("")
        return {"index": batch["index"], "path": batch["path"], "pixels": pixels, "error": np.array(errors, object)}


class _Classify:
    """Actor: one runner per actor; turns decoded batches into result rows (JSON strings)."""

    def __init__(self, artifact: str, options: dict[str, Any], topk: int) -> None:
        from resnet_deploy.backends import open_runner

        self.runner = open_runner(artifact, **options)
        self.labels = self.runner.metadata.labels
        self.k = min(topk, len(self.labels))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from resnet_deploy.backends.base import run_padded

        ok = np.array([error == "" for error in batch["error"]], bool)
        rows = [None] * len(ok)
        compute_ms = 0.0
        if ok.any():
            began = time.perf_counter()
            probs = softmax(run_padded(self.runner, batch["pixels"][ok]))
            compute_ms = (time.perf_counter() - began) * 1e3
            for position, i in enumerate(np.flatnonzero(ok)):
                rows[i] = ok_row(Path(batch["path"][i]), probs[position], self.labels, self.k,
                                 self.runner.metadata.label_ids)  # fmt: skip
        for i in np.flatnonzero(~ok):
            rows[i] = error_row(Path(batch["path"][i]), batch["error"][i])
        return {
            "index": batch["index"],
            "row": np.array([json.dumps(r) for r in rows], object),
            "compute_ms": np.full(len(ok), compute_ms / max(1, len(ok))),
        }


def run_infer_ray(
    artifact: str,
    runner_options: dict[str, Any],
    metadata,
    inputs: list[Path],
    writer: ResultWriter,
    *,
    address: str | None = None,
    batch_size: int = 64,
    topk: int = 5,
    actors: int | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
) -> InferSummary:
    try:
        import ray
    except ImportError:
        raise ArtifactError("--ray needs Ray: pip install 'resnet-deploy[ray]'") from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our progress bar and summary say enough
    started_here = not ray.is_initialized()
    ray.init(address=address or None, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
             configure_logging=False)  # fmt: skip
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # rows come back in input order
    context.enable_progress_bars = False
    gpus = int(ray.cluster_resources().get("GPU", 0))
    pool = actors or (gpus if gpus else 1)
    done = writer.open(resume=resume)
    todo = [p for p in inputs if str(p) not in done]
    summary = InferSummary(inputs=len(inputs), ok=0, errors=0, skipped_done=len(inputs) - len(todo),
                           wall_seconds=0.0, compute_seconds=0.0, backend=f"ray/{pool} actors")  # fmt: skip
    start = time.perf_counter()
    try:
        if todo:
            dataset = ray.data.from_items([{"index": i, "path": str(p)} for i, p in enumerate(todo)])
            dataset = dataset.map_batches(
                _Decode, fn_constructor_args=(metadata.preprocess.to_json(),), batch_size=batch_size,
                batch_format="numpy", concurrency=1,
            ).map_batches(
                _Classify, fn_constructor_args=(artifact, runner_options, topk), batch_size=batch_size,
                batch_format="numpy", concurrency=pool, num_gpus=1 if gpus else 0,
            )  # fmt: skip
            for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
                for text, ms in zip(batch["row"], batch["compute_ms"], strict=True):
                    row = json.loads(text)
                    writer.write(row)
                    summary.ok += row["status"] == "ok"
                    summary.errors += row["status"] == "error"
                    summary.compute_seconds += ms / 1e3
                summary.batch_latencies_ms.append(float(np.sum(batch["compute_ms"])))
                if progress is not None:
                    progress(len(batch["row"]))
    finally:
        summary.wall_seconds = time.perf_counter() - start
        writer.close()
        if started_here:
            ray.shutdown()  # a job that started Ray leaves no Ray behind
    return summary

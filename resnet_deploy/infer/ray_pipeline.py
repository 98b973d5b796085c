"""The infer job on a Ray cluster with Ray Data.

    blocks of inputs -> decode (stateless tasks, spread over the cluster's CPUs)
    -> classify (an actor pool: one actor per GPU, or `--actors N` on CPUs)
    -> rows to the driver's single file, or shards written by the workers (`--output DIR/`)

With a single output file, rows come back in input order through the same writer as the
single-process job (same format, order and `--resume`). With sharded output the driver streams
the input list into listing files and collects only counts, so its memory does not grow with the
number of inputs.

Faults, with Ray Data's defaults (ray/data/_internal/remote_fn.py, actor_pool_map_operator.py):
map tasks are retried without limit when their worker or node is lost (`max_retries=-1`);
inference actors are restarted and their tasks retried (`max_restarts=-1`, `max_task_retries=-1`);
Ray rebuilds lost intermediate blocks from their lineage. A retried block rewrites the same shard,
so no row is lost or written twice. tests/infer/test_ray_cluster.py kills a node mid-job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resnet_deploy.data.loader import ProgressCallback
from resnet_deploy.errors import ArtifactError
from resnet_deploy.infer.job import engine_identity, start_job
from resnet_deploy.infer.pipeline import InferSummary
from resnet_deploy.infer.ray_stages import build_dataset
from resnet_deploy.infer.shards import (
    FORMAT,
    ShardLayout,
    check_resumable,
    clean_temporary_files,
    default_shard_size,
    job_identity,
    read_manifest,
    write_listing,
    write_manifest,
)
from resnet_deploy.infer.storage import storage_errors
from resnet_deploy.infer.writers import ResultWriter

_FORWARDED_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")  # never secrets
_LATENCY_SAMPLES = 10_000  # batch latencies kept for the percentiles: a uniform sample, bounded memory


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """Ray, connected (or started locally); a session this call started is shut down after."""
    try:
        import ray
    except ImportError:
        raise ArtifactError("--ray needs Ray: pip install 'resnet-deploy[ray]'") from None
    from ray.data.exceptions import UserCodeException

    # Our progress bar and summary say enough, and a failure is reported once, as one line, below.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)

    started_here = not ray.is_initialized()
    # Ray prints cluster events ("node marked dead") to sys.stdout, which may carry our rows or
    # --json: they go to stderr while the job runs (the writer holds the real stdout already).
    with contextlib.redirect_stdout(sys.stderr):
        if started_here:
            env = {name: os.environ[name] for name in _FORWARDED_ENV if name in os.environ}
            ray.init(
                address=address or "local",  # "local" starts a new instance; None joins any Ray running here
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": env} if env else None,
            )
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:
            yield ray
        except (ray.exceptions.RayError, UserCodeException) as exc:
            raise ArtifactError(
                f"the Ray job failed: {_worker_error(exc)}; finished shards are kept: fix the cause and rerun "
                "with --resume"
            ) from exc
        finally:
            if started_here:
                ray.shutdown()  # a job that started Ray leaves no Ray behind


class _Tally:
    """Adds finished blocks to a summary; keeps a uniform sample of batch latencies (bounded memory)."""

    def __init__(self, summary: InferSummary) -> None:
        self.summary, self.batches, self.rng = summary, 0, random.Random(0)

    def add(self, row: dict[str, Any]) -> None:
        """Count one finished (or, on resume, already written) block."""
        summary, rows = self.summary, int(row["ok"]) + int(row["errors"])
        if row["resumed"]:
            summary.skipped_done += rows
            return
        summary.ok += int(row["ok"])
        summary.errors += int(row["errors"])
        for latency in json.loads(row["latency_ms"]):
            summary.compute_seconds += latency / 1e3
            self.batches += 1
            if len(summary.batch_latencies_ms) < _LATENCY_SAMPLES:
                summary.batch_latencies_ms.append(latency)
            elif (slot := self.rng.randrange(self.batches)) < _LATENCY_SAMPLES:  # reservoir sampling
                summary.batch_latencies_ms[slot] = latency


def run_infer_ray(
    artifact: str,
    runner_options: dict[str, Any],
    metadata: Any,
    inputs: list[str],
    writer: ResultWriter,
    *,
    address: str | None = None,
    batch_size: int = 64,
    topk: int = 5,
    actors: int | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    shard_size: int | None = None,
) -> InferSummary:
    """Rows come back to this process and go to `writer` in input order."""
    size = shard_size or default_shard_size(metadata.preprocess.input_size, batch_size)
    with ray_session(address) as ray:
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        job = start_job(writer, inputs, engine=engine_identity(metadata, artifact),
                        topk=min(topk, len(metadata.labels)), metadata=metadata, resume=resume)  # fmt: skip
        todo = [str(path) for path in job.todo]
        summary = InferSummary.starting(job, "ray")
        if progress is not None:
            progress(job.done, job.total)
        start, tally = time.perf_counter(), _Tally(summary)
        try:
            if todo:
                blocks = [
                    {"block": k, "paths": json.dumps(todo[at : at + size])}
                    for k, at in enumerate(range(0, len(todo), size))
                ]
                source = ray.data.from_items(blocks, override_num_blocks=len(blocks))
                dataset = build_dataset(
                    ray,
                    source,
                    (artifact, runner_options, topk, batch_size),
                    spec_json=metadata.preprocess.to_json(),
                    block_size=size,
                    actors=actors,
                )
                summary.backend = _backend(ray, actors)
                for row in dataset.iter_rows():
                    for line in row["rows"].splitlines():
                        writer.write(json.loads(line))
                    tally.add(row)
                    if progress is not None:
                        progress(job.done + summary.processed, job.total)
        finally:
            summary.wall_seconds = time.perf_counter() - start
            writer.close()
    return summary


def _worker_error(exc: BaseException) -> str:
    """The worker's own exception line ("FileNotFoundError: ..."), from the traceback text Ray
    carries in place of the exception (its type does not survive Ray Data's wrapping)."""
    text = str(exc).split("The above exception was the direct cause")[0]
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(" ")]
    return lines[-1].strip() if lines else type(exc).__name__


def _backend(ray: Any, actors: int | None) -> str:
    gpus = int(ray.cluster_resources().get("GPU", 0))
    pool = actors or max(gpus, 1)
    return f"ray: decode tasks on {int(ray.cluster_resources().get('CPU', 0))} CPUs, {pool} inference actors"


def _block_numbers(ray: Any, blocks: int) -> Any:
    """0..blocks-1, one per row and per Ray block, made by read tasks as the job goes (nothing is
    put in the object store up front), so each block gets its own decode task."""
    numbers = ray.data.range(blocks, override_num_blocks=max(1, min(blocks, 200))).rename_columns({"id": "block"})
    return numbers.repartition(target_num_rows_per_block=1)  # streaming: splits, never shuffles


def run_infer_ray_sharded(
    artifact: str,
    runner_options: dict[str, Any],
    metadata: Any,
    arguments: list[str],
    output: str,
    *,
    address: str | None = None,
    batch_size: int = 64,
    topk: int = 5,
    actors: int | None = None,
    resume: bool = False,
    shard_size: int | None = None,
    progress: ProgressCallback | None = None,
    decode_workers: int | None = None,
) -> InferSummary:
    """Workers write JSONL shards and a manifest under `output` (a local folder or a URI prefix)."""
    from resnet_deploy.infer.listing import iter_inputs

    start = time.perf_counter()
    with storage_errors(f"--output {output}"):
        manifest = read_manifest(output)
        if shard_size is None:
            recorded = (manifest or {}).get("job", {}).get("shard_size")
            shard_size = recorded or default_shard_size(metadata.preprocess.input_size, batch_size)
        layout = ShardLayout(output, shard_size)
        job = job_identity(arguments, artifact, metadata.preprocess, topk, shard_size)
        check_resumable(output, manifest, job, resume)
        if manifest is None or manifest.get("inputs") is None:  # a new job, or one stopped while listing
            write_manifest(layout, {"format": FORMAT, "status": "listing", "job": job})
            total = write_listing(layout, iter_inputs(arguments))
            manifest = {"format": FORMAT, "status": "running", "job": job, "inputs": total}
            write_manifest(layout, manifest)
            resume = False  # nothing of this listing was processed yet
        clean_temporary_files(output)
    total, blocks = manifest["inputs"], math.ceil(manifest["inputs"] / shard_size)
    if progress is not None:
        progress(0, total)
    summary = InferSummary(inputs=total, ok=0, errors=0, skipped_done=0, wall_seconds=0.0, compute_seconds=0.0)
    with ray_session(address) as ray:
        ray.data.DataContext.get_current().execution_options.preserve_order = False  # shards land in any order
        source = _block_numbers(ray, blocks)
        dataset = build_dataset(
            ray,
            source,
            (artifact, runner_options, topk, batch_size),
            layout=layout,
            spec_json=metadata.preprocess.to_json(),
            block_size=shard_size,
            resume=resume,
            actors=actors,
            decode_workers=decode_workers,
        )
        summary.backend = _backend(ray, actors)
        finished, ok, tally = set(), 0, _Tally(summary)
        try:
            for row in dataset.iter_rows():
                finished.add(int(row["block"]))
                ok += int(row["ok"])
                tally.add(row)
                if progress is not None:
                    progress(summary.skipped_done + summary.processed, total)
        finally:
            summary.wall_seconds = time.perf_counter() - start
    if len(finished) != blocks or summary.processed + summary.skipped_done != total:
        raise RuntimeError(f"{blocks - len(finished)} of {blocks} blocks did not finish")  # a bug: never silent
    names = [Path(layout.shard(block)).name for block in range(blocks)]
    with storage_errors(f"--output {output}"):
        write_manifest(
            layout, {**manifest, "status": "complete", "rows": total, "ok": ok, "errors": total - ok, "shards": names}
        )
    return summary

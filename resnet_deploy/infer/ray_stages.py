"""The stages of `infer --ray`, as they run on the cluster's workers.

    decode_blocks (stateless tasks on any CPU) -> Classify (actors: one per GPU, or N on CPUs)
    -> write_shards (stateless tasks; sharded output only)

`build_dataset` chains them with Ray Data.

One Ray Data row carries one whole block of inputs (one shard), so Ray Data's re-batching never
splits or merges a shard, and a retried task reproduces the same block. Decoding stops at the
resized, centre-cropped uint8 pixels (a quarter of the float32 size); the actor normalises them
with the same `PreprocessSpec`, so the model sees exactly what the single-process job gives it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from resnet_deploy.data.decode import ImageDecodeError, decode_bytes, read_image_file
from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.infer import storage
from resnet_deploy.infer.pipeline import error_row, ok_row, softmax
from resnet_deploy.infer.shards import ShardLayout, read_shard
from resnet_deploy.infer.writers import format_row

FETCH_THREADS = 16  # concurrent reads per decode task: object-storage latency, not CPU, limits a read
MAX_IMAGE_BYTES = 256 << 20  # an object larger than this is refused as an image, not downloaded

Batch = dict[str, np.ndarray]


def fetch_image(source: str) -> bytes:
    """The bytes of a local file or an object, or an `ImageDecodeError` with the reason."""
    if not storage.is_uri(source):
        return read_image_file(source, MAX_IMAGE_BYTES)
    try:
        fs, path = storage.filesystem(source)
        with fs.open_input_file(path) as handle:
            if handle.size() > MAX_IMAGE_BYTES:
                raise ImageDecodeError(f"too large for an image ({handle.size() / 2**20:.0f} MiB)")
            return handle.read()
    except FileNotFoundError:
        raise ImageDecodeError("object not found") from None
    except PermissionError:
        raise ImageDecodeError("access denied") from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read object: {exc}") from None


def decode_pixels(paths: list[str], spec: PreprocessSpec) -> tuple[np.ndarray, list[str]]:
    """uint8 NHWC pixels after resize and crop, and per input "" or the reason it failed.

    Reads overlap in a thread pool; decoding runs on this task's one CPU, in input order.
    """

    def fetch(source: str) -> bytes | str:
        try:
            return fetch_image(source)
        except ImageDecodeError as exc:
            return str(exc)

    size = spec.input_size
    pixels = np.zeros((len(paths), size, size, 3), np.uint8)
    errors = [""] * len(paths)
    with ThreadPoolExecutor(min(FETCH_THREADS, max(1, len(paths)))) as pool:
        for i, data in enumerate(pool.map(fetch, paths)):
            try:
                if isinstance(data, str):
                    raise ImageDecodeError(data)
                pixels[i] = np.asarray(spec.resize_crop(decode_bytes(data).image))
            except ImageDecodeError as exc:
                errors[i] = str(exc)
    return pixels, errors


def decode_blocks(batch: Batch, *, spec_json: str, layout: ShardLayout | None = None, resume: bool = False) -> Batch:
    """Task: blocks of inputs -> their pixels and errors (or, on resume, the counts of a complete shard)."""
    spec = PreprocessSpec.from_json(spec_json)
    out: dict[str, list] = {"block": [], "paths": [], "errors": [], "pixels": [], "done": []}
    for i, block in enumerate(int(b) for b in batch["block"]):
        paths = layout.block_paths(block) if layout is not None else json.loads(batch["paths"][i])
        done = read_shard(layout, block, paths) if layout is not None and resume else None
        pixels, errors = (np.zeros(0, np.uint8), []) if done else decode_pixels(paths, spec)
        out["block"].append(block)
        out["paths"].append(json.dumps(paths))
        out["errors"].append(json.dumps(errors))
        out["pixels"].append(pixels.tobytes())
        out["done"].append(json.dumps(done))
    return {key: np.array(values, np.int64 if key == "block" else object) for key, values in out.items()}


class Classify:
    """Actor: one runner; blocks of pixels -> the block's rows as JSONL text, in input order."""

    def __init__(self, artifact: str, options: dict[str, Any], topk: int, batch_size: int) -> None:
        from resnet_deploy.backends import open_runner

        self.runner = open_runner(artifact, **options)
        self.spec = self.runner.metadata.preprocess
        self.labels, self.label_ids = self.runner.metadata.labels, self.runner.metadata.label_ids
        self.k = min(topk, len(self.labels))
        self.batch_size = batch_size

    def __call__(self, batch: Batch) -> Batch:
        out: dict[str, list] = {"block": [], "rows": [], "ok": [], "errors": [], "resumed": [], "latency_ms": []}
        for i, block in enumerate(batch["block"]):
            done = json.loads(batch["done"][i])
            if done:
                text, (ok, errors), latencies = "", done, []
            else:
                text, ok, errors, latencies = self._classify(batch, i)
            for key, value in zip(out, (int(block), text, ok, errors, bool(done), json.dumps(latencies)), strict=True):
                out[key].append(value)
        return {key: np.array(values, object if key in ("rows", "latency_ms") else None) for key, values in out.items()}

    def _classify(self, batch: Batch, i: int) -> tuple[str, int, int, list[float]]:
        from resnet_deploy.backends.base import run_padded

        paths, errors = json.loads(batch["paths"][i]), json.loads(batch["errors"][i])
        size = self.spec.input_size
        pixels = np.frombuffer(batch["pixels"][i], np.uint8).reshape(len(paths), size, size, 3)
        rows, latencies = [], []
        # Batches cut at the same input positions as the single-process job: identical results.
        for start in range(0, len(paths), self.batch_size):
            chunk = range(start, min(start + self.batch_size, len(paths)))
            good = [j for j in chunk if not errors[j]]
            if good:
                began = time.perf_counter()
                probs = softmax(run_padded(self.runner, self.spec.normalize(pixels[good])))
                latencies.append((time.perf_counter() - began) * 1e3)
                probs_of = dict(zip(good, probs, strict=True))
            for j in chunk:
                if errors[j]:
                    row = error_row(paths[j], errors[j])
                else:
                    row = ok_row(paths[j], probs_of[j], self.labels, self.k, self.label_ids)
                rows.append(format_row(row, "jsonl"))
        ok = len(paths) - sum(bool(e) for e in errors)
        return "".join(rows), ok, len(paths) - ok, latencies


def write_shards(batch: Batch, *, layout: ShardLayout) -> Batch:
    """Task: write each block's rows as its shard (atomically), and pass on only the counts."""
    for block, text, resumed in zip(batch["block"], batch["rows"], batch["resumed"], strict=True):
        if not resumed:
            storage.write_bytes(layout.shard(int(block)), text.encode("utf-8", "surrogateescape"))
    return {key: batch[key] for key in ("block", "ok", "errors", "resumed", "latency_ms")}


def add_decode(
    ray: Any,
    source: Any,
    *,
    spec_json: str,
    block_size: int,
    layout: ShardLayout | None = None,
    resume: bool = False,
    decode_workers: int | None = None,
) -> Any:
    """Blocks of inputs -> their pixels, as stateless tasks (at most `decode_workers` at once)."""
    block_bytes = 3 * json.loads(spec_json)["input_size"] ** 2 * block_size  # a block's uint8 pixels
    return source.map_batches(
        decode_blocks,
        batch_size=1,
        batch_format="numpy",
        fn_kwargs={"spec_json": spec_json, "layout": layout, "resume": resume},
        compute=ray.data.TaskPoolStrategy(size=decode_workers),
        num_cpus=1,
        # A worker (~150 MB) plus a block's pixels, its compressed bytes and a copy. Reserving it keeps
        # big blocks from crowding a node and, as the actors reserve none, keeps decode out of them.
        memory=3 * block_bytes + (160 << 20),
    )


def build_dataset(
    ray: Any,
    source: Any,
    classify_args: tuple,
    *,
    spec_json: str,
    block_size: int,
    layout: ShardLayout | None = None,
    resume: bool = False,
    actors: int | None = None,
    decode_workers: int | None = None,
) -> Any:
    """decode tasks -> classify actors (-> shard-writing tasks), one block of inputs per row."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    decoded = add_decode(ray, source, spec_json=spec_json, block_size=block_size, layout=layout, resume=resume,
                         decode_workers=decode_workers)  # fmt: skip
    dataset = decoded.map_batches(
        Classify,
        batch_size=1,
        batch_format="numpy",
        fn_constructor_args=classify_args,
        compute=ray.data.ActorPoolStrategy(size=actors or max(gpus, 1)),
        num_gpus=1 if gpus else 0,
    )
    if layout is not None:
        dataset = dataset.map_batches(
            write_shards, batch_size=1, batch_format="numpy", fn_kwargs={"layout": layout}, num_cpus=0.25
        )
    return dataset

"""Sharded results for cluster jobs: a folder (local or an object-storage prefix) of JSONL shards.

    DIR/manifest.json            the job (inputs, engine sha256, ...), its state, counts and shards
    DIR/_inputs/inputs-NNNNNN.txt the expanded input list, one JSON string per line
    DIR/part-NNNNNNNN.jsonl      shard k: the rows of inputs [k*S, (k+1)*S), in input order

A shard's name derives from its block of inputs, so a retried block overwrites its shard instead
of adding a second one. Shards are written whole and atomically; on `--resume` a shard counts as
done only if it holds one row per input of its block, path for path; anything else is rewritten.
Concatenating the shards in name order gives the single-file output, row for row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_deploy.errors import ArtifactError
from resnet_deploy.infer import storage

MANIFEST = "manifest.json"
FORMAT = "resnet-deploy-shards/1"
LISTING_LINES = 8192  # inputs per listing file: what the driver holds while listing
SHARD_PIXEL_BYTES = 32 << 20  # default shard size: about this many bytes of decoded pixels per block


def is_sharded_output(output: str) -> bool:
    """A trailing slash, an existing folder, or an object-storage prefix means sharded output."""
    if output.endswith("/"):
        return True
    if storage.is_uri(output):
        return Path(output).suffix.lower() not in (".jsonl", ".ndjson", ".json", ".csv")
    return Path(output).is_dir()


def default_shard_size(input_size: int, batch_size: int) -> int:
    """Whole batches, about 32 MB of uint8 pixels per block (4,096 CIFAR or 192 ImageNet images)."""
    per_image = 3 * input_size * input_size
    batches = max(1, SHARD_PIXEL_BYTES // per_image // batch_size)
    return min(batches * batch_size, max(batch_size, 4096))


@dataclass(frozen=True)
class ShardLayout:
    """Where everything of one sharded job lives; small and picklable, so workers get a copy."""

    root: str
    shard_size: int

    @property
    def blocks_per_listing(self) -> int:
        return max(1, LISTING_LINES // self.shard_size)

    def shard(self, block: int) -> str:
        return storage.join(self.root, f"part-{block:08d}.jsonl")

    def listing(self, number: int) -> str:
        return storage.join(self.root, f"_inputs/inputs-{number:06d}.txt")

    @property
    def manifest(self) -> str:
        return storage.join(self.root, MANIFEST)

    def block_paths(self, block: int) -> list[str]:
        number, position = divmod(block, self.blocks_per_listing)
        lines = storage.read_bytes(self.listing(number)).decode("utf-8").splitlines()
        start = position * self.shard_size
        return [json.loads(line) for line in lines[start : start + self.shard_size]]


def write_listing(layout: ShardLayout, inputs: Iterable[str]) -> int:
    """Stream the inputs into listing files; returns how many there were. Memory: one file's worth."""
    lines_per_file = layout.blocks_per_listing * layout.shard_size
    count, chunk = 0, []
    for item in inputs:
        chunk.append(json.dumps(item))
        count += 1
        if len(chunk) == lines_per_file:
            storage.write_bytes(layout.listing(count // lines_per_file - 1), ("\n".join(chunk) + "\n").encode())
            chunk = []
    if chunk:
        storage.write_bytes(layout.listing(count // lines_per_file), ("\n".join(chunk) + "\n").encode())
    return count


def read_shard(layout: ShardLayout, block: int, paths: list[str]) -> tuple[int, int] | None:
    """(ok, errors) of a complete shard for these inputs; None if it is missing or torn."""
    try:
        data = storage.read_bytes(layout.shard(block))
    except FileNotFoundError:
        return None
    if not data.endswith(b"\n"):
        return None
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) != len(paths):
        return None
    ok = 0
    for line, path in zip(lines, paths, strict=True):
        try:
            row = json.loads(line)
        except ValueError:
            return None
        if not isinstance(row, dict) or row.get("path") != path or row.get("status") not in ("ok", "error"):
            return None
        ok += row["status"] == "ok"
    return ok, len(paths) - ok


def read_manifest(root: str) -> dict[str, Any] | None:
    try:
        return json.loads(storage.read_bytes(storage.join(root, MANIFEST)))
    except FileNotFoundError:
        return None
    except ValueError:
        raise ArtifactError(f"{storage.join(root, MANIFEST)} is not a manifest; choose another --output") from None


def write_manifest(layout: ShardLayout, manifest: dict[str, Any]) -> None:
    storage.write_bytes(layout.manifest, (json.dumps(manifest, indent=1) + "\n").encode())


def check_resumable(root: str, manifest: dict[str, Any] | None, job: dict[str, Any], resume: bool) -> None:
    """Refuse to mix two jobs in one folder, and to overwrite a finished or running one silently."""
    if manifest is None:
        if not storage.is_uri(root) and Path(root).is_dir() and any(Path(root).iterdir()):
            raise ArtifactError(f"{root} is not empty and holds no {MANIFEST}; choose an empty or new folder")
        return
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{storage.join(root, MANIFEST)} is not a resnet-deploy manifest; choose another --output")
    if not resume:
        raise ArtifactError(
            f"{root} holds a job ({manifest.get('status')}); pass --resume to complete it, or choose another --output"
        )
    if manifest.get("job") != job:
        differs = sorted(k for k in job if manifest.get("job", {}).get(k) != job[k])
        raise ArtifactError(
            f"{root} holds a different job (it differs in {', '.join(differs)}); "
            "resume it with the same inputs and options, or choose another --output"
        )


def job_identity(arguments: list[str], artifact: str, spec: Any, topk: int, shard_size: int) -> dict[str, Any]:
    """What makes two runs the same job: `--resume` refuses to mix different ones in one folder."""
    from resnet_deploy.models.weights import file_sha256

    return {
        "inputs": list(arguments),
        "engine": artifact,
        "engine_sha256": file_sha256(artifact) if Path(artifact).is_file() else None,
        "topk": topk,
        "shard_size": shard_size,
        "preprocess": json.loads(spec.to_json()),
    }


def iter_rows(root: str) -> Iterator[dict[str, Any]]:
    """The rows of a finished sharded job, in input order (shard by shard, as the manifest lists them)."""
    manifest = read_manifest(root)
    if manifest is None or manifest.get("status") != "complete":
        raise ArtifactError(f"{root} holds no finished job; complete it with `infer ... --resume`")
    for name in manifest["shards"]:
        for line in storage.read_bytes(storage.join(root, name)).decode("utf-8", "surrogateescape").splitlines():
            yield json.loads(line)


def clean_temporary_files(root: str) -> None:
    """Remove temporary files a killed worker left behind (a local folder only; S3 has none)."""
    if storage.is_uri(root):
        return
    for leftover in Path(root).glob(".part-*.tmp"):
        leftover.unlink(missing_ok=True)

"""Starting an infer job: unique inputs, and an identity recorded beside the output so that
`--resume` completes the same job and never appends another job's rows.

`<output>.job.json` holds what decides the rows: the engine (its file's sha256, arch, weights,
precision), top-k, preprocessing, a fingerprint of the input list, and the output format. A new
run writes it atomically just before the output file appears; a resumed run must match it. The
single-process and the Ray job both start here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_deploy.atomic import atomic_write_text
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import ModelMetadata
from resnet_deploy.infer.writers import ResultWriter, path_text

JOB_KIND = "resnet-deploy infer job"


@dataclass(frozen=True)
class JobStart:
    """What is left to do: `todo` in input order; `total` unique inputs, `done` of them by an earlier run."""

    todo: list[Path]
    total: int
    done: int
    duplicates: int  # inputs named more than once, classified once


def job_file(output: Path) -> Path:
    return output.with_name(output.name + ".job.json")


def engine_identity(metadata: ModelMetadata, artifact: str | Path | None) -> dict[str, Any]:
    """What decides the predictions: the artifact's bytes when it is a file, and the model it holds."""
    from resnet_deploy.hashing import file_sha256

    is_file = artifact is not None and Path(artifact).is_file()
    return {
        "artifact": None if artifact is None else str(artifact),
        "sha256": file_sha256(artifact) if is_file else None,
        "arch": metadata.arch,
        "weights_sha256": metadata.weights_sha256,
        "precision": metadata.precision,
    }


def _fingerprint(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Each way the recorded job differs from this one, as `what: recorded vs now`."""

    def short(value: Any) -> str:
        return value[:12] if isinstance(value, str) and len(value) == 64 else str(value)

    found = []
    was, now = recorded.get("engine", {}), current["engine"]
    for key, name in (("sha256", "engine sha256"), ("arch", "arch"), ("weights_sha256", "weights sha256"),
                      ("precision", "precision")):  # fmt: skip
        if was.get(key) != now[key] and not (key == "sha256" and None in (was.get(key), now[key])):
            where = (f" ({was.get('artifact')})", f" ({now['artifact']})") if key == "sha256" else ("", "")
            found.append(f"{name} {short(was.get(key))}{where[0]} vs {short(now[key])}{where[1]}")
    for key in ("topk", "output_format"):
        if recorded.get(key) != current[key]:
            found.append(f"{key} {recorded.get(key)} vs {current[key]}")
    was_pre, now_pre = recorded.get("preprocess", {}), current["preprocess"]
    found += [f"preprocessing {key} {was_pre.get(key)} vs {now_pre[key]}" for key in now_pre
              if was_pre.get(key) != now_pre[key]]  # fmt: skip
    was_in, now_in = recorded.get("inputs", {}), current["inputs"]
    if was_in.get("sha256") != now_in["sha256"]:
        found.append(f"inputs {was_in.get('count')} paths (fingerprint {str(was_in.get('sha256'))[:12]}) "
                     f"vs {now_in['count']} ({now_in['sha256'][:12]})")  # fmt: skip
    return found


def _check_same_job(output: Path, current: dict[str, Any]) -> None:
    record = job_file(output)
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"{output} has no job record ({record.name}), so --resume cannot tell whether it holds this job's "
            "rows; write to a new --output"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read the job record {record}: {exc}; write to a new --output") from None
    if not isinstance(recorded, dict) or recorded.get("kind") != JOB_KIND:
        raise ArtifactError(f"{record} is not an infer job record; write to a new --output")
    differences = _differences(recorded, current)
    if differences:
        raise ArtifactError(
            f"--resume: {output} holds another job's rows: {'; '.join(differences)}. "
            "Resume with the original engine, --topk and inputs, or write to a new --output"
        )


def start_job(
    writer: ResultWriter,
    inputs: list[Path],
    *,
    engine: dict[str, Any],
    topk: int,
    metadata: ModelMetadata,
    resume: bool,
) -> JobStart:
    """Open `writer` for this job: a new output, or (with `resume`) the same job's partial output."""
    unique: dict[str, Path] = {}
    for path in inputs:
        unique.setdefault(path_text(path), path)  # a path named twice is classified once
    duplicates = len(inputs) - len(unique)
    if writer.path is None:
        if resume:
            raise ArtifactError("--resume completes an --output file; pass -o FILE.jsonl or FILE.csv")
        writer.open()
        return JobStart(list(unique.values()), len(unique), 0, duplicates)
    identity = {
        "kind": JOB_KIND,
        "engine": engine,
        "topk": topk,
        "preprocess": json.loads(metadata.preprocess.to_json()),
        "inputs": {"count": len(unique), "sha256": _fingerprint(list(unique))},
        "output_format": writer.fmt,
    }
    existing = writer.existing_rows()
    if existing is None:
        text = json.dumps(identity, indent=2) + "\n"  # ASCII: readable in any locale
        writer.open(before_create=lambda: atomic_write_text(job_file(writer.path), text))
        return JobStart(list(unique.values()), len(unique), 0, duplicates)
    if not resume:
        raise ArtifactError(f"{writer.path} exists; pass --resume to complete it, or choose another --output")
    _check_same_job(writer.path, identity)
    rows, end = existing
    writer.open(append_at=end)
    done = {str(row["path"]) for row in rows}
    todo = [path for key, path in unique.items() if key not in done]
    return JobStart(todo, len(unique), len(unique) - len(todo), duplicates)

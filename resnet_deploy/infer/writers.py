"""Streaming result writers: JSON Lines or CSV, one complete line per write, resumable.

Each row is written with a single `write` of a full line and flushed, so a crash leaves at most
one torn final line; `open_results` drops such a line before a resumed run appends to the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from resnet_deploy.errors import ArtifactError

CSV_FIELDS = ("path", "status", "class_index", "label", "wnid", "prob", "topk_labels", "topk_probs", "error")


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ArtifactError(f"--output {path}: use a .jsonl or .csv file")


def _csv_line(row: dict[str, Any]) -> str:
    buffer = io.StringIO()
    topk = row.get("topk") or []
    csv.writer(buffer, lineterminator="\n").writerow(
        [
            row["path"],
            row["status"],
            "" if row.get("class_index") is None else row["class_index"],
            row.get("label") or "",
            row.get("wnid") or "",  # ImageNet models: the WordNet ID of the top class
            "" if not topk else f"{topk[0]['prob']:.6f}",
            ";".join(t["label"] for t in topk),
            ";".join(f"{t['prob']:.6f}" for t in topk),
            row.get("error") or "",
        ]
    )
    return buffer.getvalue()


def format_row(row: dict[str, Any], fmt: str) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n" if fmt == "jsonl" else _csv_line(row)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a results file (JSONL or CSV), ignoring a torn last line."""
    fmt = output_format(path)
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text)))


class ResultWriter:
    """Appends rows to `path` (or writes to a text stream when `path` is None)."""

    def __init__(self, path: Path | None, fmt: str, stream: Any = None) -> None:
        self.path, self.fmt, self.stream = path, fmt, stream
        self._fd: int | None = None

    def open(self, *, resume: bool) -> set[str]:
        """Start writing; with `resume`, returns the paths already done and keeps their rows."""
        done: set[str] = set()
        if self.path is None:
            if self.fmt == "csv":
                self.stream.write(",".join(CSV_FIELDS) + "\n")
            return done
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise ArtifactError(f"{self.path} exists; pass --resume to complete it, or choose another --output")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if exists:
            done = {str(row["path"]) for row in read_rows(self.path)}
            self._drop_torn_line()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if not exists and self.fmt == "csv":
            os.write(self._fd, (",".join(CSV_FIELDS) + "\n").encode())
        return done

    def _drop_torn_line(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def write(self, row: dict[str, Any]) -> None:
        line = format_row(row, self.fmt)
        if self._fd is None:
            self.stream.write(line)
            self.stream.flush()
        else:
            os.write(self._fd, line.encode("utf-8"))  # one write per line: no interleaved halves

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

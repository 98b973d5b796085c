"""Streaming result writers: JSON Lines or CSV, one complete row per write, resumable.

Each row is written with a single `write` and flushed, so a crash leaves at most one torn row at
the end; a resumed run finds the last complete row (parsing CSV properly: a quoted path may hold
a newline) and drops the rest. The file is created with its first row, so a run that fails before
any result leaves no file behind, and an empty file left by an older crash blocks nothing.

Every output is valid UTF-8. A file name's bytes that are not UTF-8 (Python carries them as
surrogate escapes, see `os.fsdecode`) are written as `\\xNN`, the way Python prints them, not
as JSON's lone-surrogate escapes, which strict readers (Rust's serde_json) reject. The resumed run
writes its inputs the same way, so it recognises their rows. (A name that really contains the
four characters `\\xe9` reads the same; such a pair in one job would be classified once.)
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
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


def display_text(text: str) -> str:
    """`text` as valid Unicode: surrogate-escaped bytes (not UTF-8 in a file name) become `\\xNN`."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def path_text(path: str | Path) -> str:
    """A path as its row writes it; also the key by which a resumed run recognises the row."""
    return display_text(os.fspath(path))


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


def _csv_header() -> str:
    return ",".join(CSV_FIELDS) + "\n"


def format_row(row: dict[str, Any], fmt: str) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n" if fmt == "jsonl" else _csv_line(row)


def _lines(data: bytes) -> Iterator[tuple[str, int]]:
    """Each line of `data` with its newline (only "\\n" ends a line), and the offset where it ends."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        yield data[start:end].decode("utf-8", "surrogateescape"), end
        start = end


def _jsonl_rows(data: bytes, source: Path) -> tuple[list[dict[str, Any]], int]:
    rows, complete = [], 0
    for number, (line, end) in enumerate(_lines(data), 1):
        if not line.endswith("\n"):
            break  # a torn last row
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise ArtifactError(f"{source} line {number} is not a result row; write to a new --output") from None
        complete = end
    return rows, complete


def _csv_rows(data: bytes, source: Path) -> tuple[list[dict[str, Any]], int]:
    consumed, line_ended = 0, True

    def lines() -> Iterator[str]:  # the reader pulls lines only until a record ends: `consumed` is its end
        nonlocal consumed, line_ended
        for line, end in _lines(data):
            consumed, line_ended = end, line.endswith("\n")
            yield line

    records, complete = [], 0
    reader = csv.reader(lines(), strict=True)
    try:
        for record in reader:
            if not line_ended:
                break  # the last record has no line end: it may be cut short
            records.append(record)
            complete = consumed
    except csv.Error as exc:
        if consumed < len(data):  # malformed in the middle: not a file this writer made
            raise ArtifactError(f"{source} is not a results CSV ({exc}); write to a new --output") from None
        # an unclosed quote at the very end: a row torn inside a quoted path
    if records and tuple(records[0]) != CSV_FIELDS:
        raise ArtifactError(f"{source} has the columns {records[0]}, not {list(CSV_FIELDS)}; write to a new --output")
    return [dict(zip(CSV_FIELDS, record, strict=False)) for record in records[1:]], complete


def read_complete_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete rows of a results file (JSONL or CSV) and the byte offset where they end."""
    fmt = output_format(path)
    data = path.read_bytes()
    return _jsonl_rows(data, path) if fmt == "jsonl" else _csv_rows(data, path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a results file (JSONL or CSV), ignoring a torn last row."""
    return read_complete_rows(path)[0]


class ResultWriter:
    """Appends rows to `path` (or writes to a text stream when `path` is None)."""

    def __init__(self, path: Path | None, fmt: str, stream: Any = None) -> None:
        self.path, self.fmt, self.stream = path, fmt, stream
        self._fd: int | None = None
        self._before_create: Callable[[], None] | None = None
        self._pending_header = False

    def existing_rows(self) -> tuple[list[dict[str, Any]], int] | None:
        """The output's complete rows and where they end; None if there is no output or no row in it."""
        if self.path is None or not self.path.exists():
            return None
        rows, end = read_complete_rows(self.path)
        return (rows, end) if rows else None

    def open(self, *, append_at: int | None = None, before_create: Callable[[], None] | None = None) -> None:
        """Start writing. `append_at`: keep the file up to that offset (its complete rows) and append.
        Otherwise the file is created with the first row, after `before_create()` has run."""
        if self.path is None:
            if self.fmt == "csv":
                self.stream.write(_csv_header())
            return
        if append_at is not None:
            with open(self.path, "r+b") as handle:
                handle.truncate(append_at)  # drop a torn last row
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            return
        self.path.unlink(missing_ok=True)  # an empty file left by a crash (no row in it): never left behind
        self._before_create, self._pending_header = before_create, self.fmt == "csv"

    def _create(self) -> int:
        if self._before_create is not None:
            self._before_create()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, row: dict[str, Any]) -> None:
        line = format_row(row, self.fmt)
        if self.path is None:
            self.stream.write(line)
            self.stream.flush()
            return
        if self._fd is None:
            self._fd = self._create()
        if self._pending_header:
            line, self._pending_header = _csv_header() + line, False  # a file never holds the header alone
        os.write(self._fd, line.encode("utf-8"))  # one write per row: no interleaved halves

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

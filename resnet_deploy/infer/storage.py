"""Files that live in a local folder or in object storage (`s3://`, `gs://`), behind one small API.

pyarrow's filesystems do the object-storage I/O. For S3 the endpoint and region come from the
standard AWS variables (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `AWS_REGION` or
`AWS_DEFAULT_REGION`), which we pass to `S3FileSystem` ourselves because pyarrow does not read the
endpoint variables (apache/arrow#49643); credentials come from the AWS SDK's own chain
(`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, `~/.aws`, instance roles).
Google Cloud Storage uses pyarrow's `GcsFileSystem` with its default credentials.

Writes are atomic: a local file goes to a temporary name and is renamed; an object-storage put
becomes visible only when the upload completes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from resnet_deploy.atomic import atomic_write_bytes
from resnet_deploy.errors import ArtifactError

URI_SCHEMES = ("s3", "gs", "gcs")
_URI = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_READ_CHUNK = 1 << 20


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """File-system and object-storage failures (no such bucket, access denied) as one-line user errors."""
    try:
        yield
    except OSError as exc:
        raise ArtifactError(f"{what}: {exc}; check the path and, for object storage, the AWS_* settings") from None


def is_uri(text: str) -> bool:
    """True for an object-storage URI (`s3://bucket/key`, `gs://bucket/key`)."""
    match = _URI.match(text)
    return bool(match) and match.group(1).lower() in URI_SCHEMES


@functools.lru_cache(maxsize=8)
def _s3(endpoint: str | None, region: str | None) -> Any:
    from pyarrow.fs import S3FileSystem

    options: dict[str, Any] = {"region": region}
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme)
    return S3FileSystem(**options)


@functools.lru_cache(maxsize=4)
def _from_uri_fs(scheme: str) -> Any:
    from pyarrow.fs import FileSystem

    return FileSystem.from_uri(f"{scheme}://")[0]


def filesystem(uri: str) -> tuple[Any, str]:
    """The pyarrow filesystem for `uri` and the path inside it (`bucket/key`)."""
    scheme, _, rest = uri.partition("://")
    scheme = scheme.lower()
    if scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return _s3(endpoint, region), rest
    return _from_uri_fs("gs" if scheme == "gcs" else scheme), rest


def join(base: str, name: str) -> str:
    """`base/name` for a local folder or a URI prefix."""
    return f"{base.rstrip('/')}/{name}"


def read_bytes(target: str) -> bytes:
    """The whole file or object. Raises FileNotFoundError, PermissionError or OSError."""
    if not is_uri(target):
        return Path(target).read_bytes()
    fs, path = filesystem(target)
    with fs.open_input_stream(path) as stream:
        return stream.read()


def write_bytes(target: str, data: bytes) -> None:
    """Write atomically: readers see the old content or the new, never a part."""
    if not is_uri(target):
        atomic_write_bytes(target, data)
        return
    fs, path = filesystem(target)
    with fs.open_output_stream(path) as stream:
        stream.write(data)


def delete(target: str) -> None:
    if not is_uri(target):
        Path(target).unlink(missing_ok=True)
        return
    fs, path = filesystem(target)
    if kind(target) == "file":
        fs.delete_file(path)


def kind(target: str) -> str:
    """`file`, `dir` (a folder or a non-empty prefix) or `missing`."""
    if not is_uri(target):
        path = Path(target)
        return "dir" if path.is_dir() else "file" if path.exists() else "missing"
    from pyarrow.fs import FileType

    fs, path = filesystem(target)
    found = fs.get_file_info(path.rstrip("/")).type
    return {FileType.File: "file", FileType.Directory: "dir"}.get(found, "missing")


def iter_lines(target: str) -> Iterator[str]:
    """The lines of a text file or object, streamed (a list of a million URIs is never held whole)."""
    if not is_uri(target):
        with open(target, encoding="utf-8") as handle:
            for line in handle:
                yield line.rstrip("\r\n")
        return
    fs, path = filesystem(target)
    with fs.open_input_stream(path) as stream:
        carry = b""
        while chunk := stream.read(_READ_CHUNK):
            *lines, carry = (carry + chunk).split(b"\n")
            for line in lines:
                yield line.decode("utf-8").rstrip("\r")
        if carry:
            yield carry.decode("utf-8").rstrip("\r")


def walk(uri: str) -> Iterator[str]:
    """Every object under a prefix, as URIs, in sorted order; hidden names (`.x`) are skipped.

    The prefix is listed one level (one "folder") at a time, so memory follows the largest level,
    not the whole tree. The order equals `sorted(Path.rglob("*"))` on the same tree.
    """
    fs, root = filesystem(uri)
    yield from _walk(fs, uri.partition("://")[0], root.rstrip("/"))


def _walk(fs: Any, scheme: str, folder: str) -> Iterator[str]:
    from pyarrow.fs import FileSelector, FileType

    level = sorted((i.base_name, i.path, i.type) for i in fs.get_file_info(FileSelector(folder, allow_not_found=True)))
    for name, path, found in level:
        if name.startswith("."):
            continue  # hidden objects and "folders" are not inputs, as for local folders
        if found == FileType.Directory:
            yield from _walk(fs, scheme, path)  # depth first over sorted names keeps the sorted order
        elif found == FileType.File:
            yield f"{scheme}://{path}"

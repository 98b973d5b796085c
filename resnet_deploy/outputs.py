"""Where a command writes: checked before any work starts.

A command that runs for minutes and only then finds it cannot write its result has wasted those
minutes, so every writing command checks its outputs first: the suffix must say what the file is,
and the folder must exist or be creatable, and be writable. Writability is tested by creating (and
removing) a file there, because permission bits say nothing for root, while a read-only mount, an
immutable folder or /sys refuse everyone.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from resnet_deploy.errors import OutputError

ONNX_SUFFIXES = (".onnx",)
PLAN_SUFFIXES = (".plan", ".engine", ".trt")
CSV_SUFFIXES = (".csv",)
PNG_SUFFIXES = (".png",)  # the plots are written as PNG whatever the name says
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".th", ".ckpt", ".tar")


def check_suffix(path: str | Path, suffixes: Sequence[str], option: str = "--output") -> None:
    if Path(path).suffix.lower() not in suffixes:
        raise OutputError(f"{option} {path}: use a {' or '.join(suffixes)} file")


def check_writable(path: str | Path, option: str = "--output", *, folder: bool = False) -> None:
    """Raise `OutputError` unless the file `path` (or the folder, with `folder=True`) can be written.

    Remote locations (`s3://...`) are left to their own client. Nothing is created.
    """
    if "://" in str(path):
        return
    path = Path(path)
    advice = f"choose another {option}"
    if folder and path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {path}: it is a file, not a folder; {advice}")
    if not folder and path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; {advice}")
    existing = path if folder else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write {path}: {existing} is a file, not a folder; {advice}")
    where = existing
    try:
        fd, probe = tempfile.mkstemp(prefix=".resnet-deploy-write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
        if not folder and path.is_file():  # an immutable file refuses even root
            where = path
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {describe_os_error(exc, where)}; {advice}") from None


def check_output(
    path: str | Path | None,
    suffixes: Sequence[str],
    *,
    default_folder: str | Path | None = None,
    option: str = "--output",
) -> None:
    """The check for a file option such as `-o FILE`: its suffix and its folder; when the option is
    not given, the folder the command's default name goes to (if any)."""
    if path is not None:
        check_suffix(path, suffixes, option)
        check_writable(path, option)
    elif default_folder is not None:
        check_writable(default_folder, option, folder=True)


def describe_os_error(exc: OSError, where: str | Path) -> str:
    """`Read-only file system (/mnt/ro)`: the reason, and the folder it applies to."""
    if exc.errno == errno.ENOENT and str(where).startswith(("/proc", "/sys")):
        return f"{where} is a kernel file system that cannot hold files"
    return f"{exc.strerror or exc} ({where})"

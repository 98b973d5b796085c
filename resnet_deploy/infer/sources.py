"""Expanding `infer`'s PATH arguments into one ordered list of inputs.

- A file stays as given; a folder is searched recursively (every regular file and symlink, so a
  stray text file or a broken link is reported rather than silently skipped).
- `@list.txt` names one path per line (blank lines and lines starting with `#` are skipped). As
  with `xargs` or `tar -T`, a relative entry is relative to the current directory, and a folder in
  a list is searched like a folder on the command line. Lines are decoded as file names are
  (`os.fsdecode`), so a list written by `find` works whatever the names' encoding.
- A path named on the command line must exist: a typo is an error before any work. A missing
  entry of a list, or a broken link in a folder, is still an input: it becomes an error row.

Duplicates are kept here; the job classifies each path once and counts the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from resnet_deploy.errors import ImageDataError


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue  # hidden files and folders (.DS_Store, .git) are not inputs
        if path.is_symlink() or path.is_file():
            files.append(path)
    return files


def _expand_path(path: Path) -> list[Path]:
    """A folder's files, or the path itself (a missing one is reported as an error row, not dropped)."""
    return _folder_files(path) if path.is_dir() else [path]


def _list_entries(listing: Path) -> list[Path]:
    if not listing.is_file():
        raise ImageDataError(f"list file {listing} not found; @FILE must name a text file of paths")
    entries = []
    for raw in listing.read_bytes().split(b"\n"):
        line = os.fsdecode(raw).strip()
        if line and not line.startswith("#"):
            entries.append(Path(line))
    return entries


def expand_inputs(arguments: list[str]) -> list[Path]:
    """Files, folders (recursive) and @lists, in the order given, duplicates included."""
    if not arguments:
        raise ImageDataError("no inputs: pass image files, folders or @list.txt")
    missing = [argument for argument in arguments if not argument.startswith("@") and not os.path.lexists(argument)]
    if missing:
        raise ImageDataError(
            f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist; "
            "pass existing image files, folders or @list.txt files"
        )
    result: list[Path] = []
    for argument in arguments:
        if argument.startswith("@"):
            for entry in _list_entries(Path(argument[1:])):
                result += _expand_path(entry)
        else:
            result += _expand_path(Path(argument))
    if not result:
        raise ImageDataError(f"no files found in {', '.join(arguments)}")
    return result

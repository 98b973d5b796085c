"""Expanding `infer`'s PATH arguments into one ordered list of inputs.

Files stay as given; folders are searched recursively (every regular file and symlink, so a
stray text file or a broken link is reported rather than silently skipped); `@list.txt` reads
one path per line. A missing path is still an input: it becomes an error row.
"""

from __future__ import annotations

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


def list_entry_path(entry: str, listing: Path) -> Path:
    """Where an @list entry points: as written if absolute, else relative to the list's folder."""
    path = Path(entry)
    return path if path.is_absolute() else listing.parent / path


def expand_inputs(arguments: list[str]) -> list[Path]:
    """Files, folders (recursive) and @lists, in the order given, without duplicates."""
    if not arguments:
        raise ImageDataError("no inputs: pass image files, folders or @list.txt")
    seen: set[Path] = set()
    result: list[Path] = []

    def add(path: Path) -> None:
        if path not in seen:
            seen.add(path)
            result.append(path)

    for argument in arguments:
        if argument.startswith("@"):
            listing = Path(argument[1:])
            if not listing.is_file():
                raise ImageDataError(f"list file {listing} not found; @FILE must name a text file of paths")
            for line in listing.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    add(list_entry_path(line, listing))
            continue
        path = Path(argument)
        if path.is_dir():
            for file in _folder_files(path):
                add(file)
        else:
            add(path)  # a missing file is reported as an error row, not dropped
    if not result:
        raise ImageDataError(f"no files found in {', '.join(arguments)}")
    return result

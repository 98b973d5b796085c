"""`infer`'s PATH arguments as a stream of inputs, for cluster jobs and object storage.

`expand_inputs` builds the whole list in memory, which suits one machine.
A cluster job can have millions of inputs, so here they are yielded one at a time:

- `s3://bucket/prefix/` or `gs://...`: every object under the prefix, sorted, hidden names skipped
  (one level at a time); a URI that names one object is that object.
- `@list` (a local file or an object): read line by line. URI entries are taken as written (a
  missing object becomes an error row); an entry ending in `/` is listed as a prefix. Local entries
  resolve as in `expand_inputs` (from the current directory), and a local folder is searched.
- Local files and folders: exactly as `expand_inputs` expands them.

Duplicates are kept (each is one input and one row): removing them would cost memory in the
number of inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from resnet_deploy.errors import ImageDataError
from resnet_deploy.infer import storage
from resnet_deploy.infer.sources import expand_inputs


def has_uri(arguments: list[str]) -> bool:
    """Whether any argument is an object-storage URI or an @list stored there."""
    return any(storage.is_uri(argument.removeprefix("@")) for argument in arguments)


def iter_inputs(arguments: list[str]) -> Iterator[str]:
    """Every input named by `arguments`, in order, as a local path or a URI."""
    if not arguments:
        raise ImageDataError("no inputs: pass image files, folders, s3:// or gs:// prefixes, or @list.txt")
    found = False
    for argument in arguments:
        with storage.storage_errors(f"cannot list {argument}"):
            for item in _expand(argument):
                found = True
                yield item
    if not found:
        raise ImageDataError(f"no files found in {', '.join(arguments)}")


def _expand(argument: str) -> Iterator[str]:
    if argument.startswith("@"):
        yield from _list_entries(argument[1:])
    elif storage.is_uri(argument):
        found = storage.kind(argument)
        if found == "missing":
            raise ImageDataError(f"{argument}: no such object or prefix; check the URI and the AWS_* settings")
        yield from storage.walk(argument) if found == "dir" else [argument]
    else:
        yield from (str(path) for path in expand_inputs([argument]))


def _list_entries(listing: str) -> Iterator[str]:
    if storage.kind(listing) != "file":
        raise ImageDataError(f"list file {listing} not found; @FILE must name a text file of paths or URIs")
    for line in storage.iter_lines(listing):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if storage.is_uri(entry):
            yield from storage.walk(entry) if entry.endswith("/") else [entry]
            continue
        path = Path(entry)  # relative to the current directory, as `expand_inputs` reads local lists
        if path.is_dir():
            yield from (str(p) for p in expand_inputs([str(path)]))
        else:
            yield str(path)  # a missing file is an error row, not dropped

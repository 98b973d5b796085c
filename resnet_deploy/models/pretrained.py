"""`--weights FILE|SET|random` -> a verified file: the hub cache, a mirror, or the official URL.

Files live where torch.hub keeps them (`torch.hub.get_dir()/checkpoints`, so `$TORCH_HOME` is
honoured and torchvision's downloads are shared). A download goes to a temporary file in that
folder, is checked against the set's sha256 (or the prefix in its file name, torch.hub's
`check_hash` convention) and only then renamed into place, so nothing broken is ever used or
left behind. A cached file is verified on every use; one that no longer matches is refused and
named, never silently downloaded over.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from resnet_deploy.errors import WeightsError
from resnet_deploy.models.weight_sets import RANDOM, WeightSet

MIRROR_ENV = "RESNET_DEPLOY_WEIGHTS_MIRROR"
CHUNK = 1 << 20
# (file name, bytes so far, total bytes or None): called as a download advances.
DownloadProgress = Callable[[str, int, "int | None"], None]


def cache_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_path(weight_set: WeightSet) -> Path:
    return cache_dir() / weight_set.file_name


def _sha256(path: Path) -> str:
    from resnet_deploy.models.weights import file_sha256

    return file_sha256(path)


def _set_names(sets: tuple[WeightSet, ...]) -> str:
    if not sets:
        return "none are published"
    return ", ".join(f"{s.name} (default)" if i == 0 else s.name for i, s in enumerate(sets))


def resolve_weights(arch: str, value: str | Path | None, *, progress: DownloadProgress | None = None) -> Path | None:
    """What `--weights` means for `arch`: None -> its default set; a set name -> that set;
    `random` -> None (seeded random init); anything else -> a checkpoint file."""
    from resnet_deploy.models.registry import get_card

    sets = get_card(arch).weights
    if value is None:
        if not sets:
            raise WeightsError(
                f"{arch} has no published weights; pass --weights FILE (a checkpoint) or --weights random"
            )
        return fetch_weight_set(arch, sets[0], progress=progress)
    text = str(value)
    if text == RANDOM:
        return None
    for weight_set in sets:
        if weight_set.name == text.lower():
            return fetch_weight_set(arch, weight_set, progress=progress)
    path = Path(text).expanduser()
    if path.is_dir():
        raise WeightsError(f"--weights {text} is a folder, not a checkpoint file; pass a file, a weight set or random")
    if not path.exists():
        if "/" not in text and not path.suffix:  # meant as a set name
            raise WeightsError(
                f"{arch} has no weight set {text!r}; its sets: {_set_names(sets)}; or pass a checkpoint file, or random"
            )
        raise WeightsError(f"weights file {text} not found; pass an existing file, a weight set of {arch} or random")
    return path


def fetch_weight_set(arch: str, weight_set: WeightSet, *, progress: DownloadProgress | None = None) -> Path:
    """The set's file, verified: packaged, cached, or downloaded (from the mirror when one is set)."""
    what = f"{arch} weights {weight_set.name}"
    if weight_set.url is None:
        return _packaged(weight_set, what)
    target = cached_path(weight_set)
    if target.is_file():
        digest = _sha256(target)
        if not weight_set.matches(digest):
            raise WeightsError(
                f"the cached file {target} does not match the published sha256 of {what} (expected "
                f"{weight_set.sha256[:16]}..., got {digest[:16]}...): it is damaged or was replaced; delete it "
                "to download it again, or pass --weights FILE"
            )
        return target
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        source = weight_set.url
    elif "://" in mirror:
        source = f"{mirror.rstrip('/')}/{weight_set.file_name}"
    else:
        source = str(Path(mirror).expanduser() / weight_set.file_name)
        if not Path(source).is_file():
            raise WeightsError(
                f"{source} not found: {MIRROR_ENV}={mirror} has no {weight_set.file_name}; put the file there, "
                f"or unset {MIRROR_ENV} to download {weight_set.url}"
            )
    _download(source, target, weight_set, what, mirrored=bool(mirror), progress=progress)
    return target


def _packaged(weight_set: WeightSet, what: str) -> Path:
    from importlib import resources

    path = Path(str(resources.files("resnet_deploy.assets").joinpath(weight_set.package_file or "")))
    if not path.is_file() or not weight_set.matches(_sha256(path)):
        raise WeightsError(f"the packaged {what} file {path} is missing or damaged; reinstall resnet-deploy")
    return path


def _download(
    source: str, target: Path, weight_set: WeightSet, what: str, *, mirrored: bool, progress: DownloadProgress | None
) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise WeightsError(
            f"cannot write the weights cache {target.parent} ({exc.strerror}); set TORCH_HOME to a writable folder"
        ) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _copy(source, out, weight_set, what, mirrored, target, progress)
            out.flush()
            os.fsync(out.fileno())
        temp.chmod(0o644)  # mkstemp makes it private; the hub cache is shared, as torch.hub's files are
        if not weight_set.matches(digest):
            raise WeightsError(
                f"{source} does not match the published sha256 of {what} (expected {weight_set.sha256[:16]}..., "
                f"got {digest[:16]}...): the file is damaged or not the published one; nothing was cached"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _copy(
    source: str,
    out: BinaryIO,
    weight_set: WeightSet,
    what: str,
    mirrored: bool,
    target: Path,
    progress: DownloadProgress | None,
) -> str:
    """Stream `source` (a URL or a local file) into `out`; returns the sha256 of what was written."""
    import http.client
    import urllib.error
    import urllib.request

    digest, done, total = hashlib.sha256(), 0, None
    try:
        if "://" in source:
            request = urllib.request.Request(source, headers={"User-Agent": "resnet-deploy"})
            stream = urllib.request.urlopen(request, timeout=60)
            total = int(stream.headers.get("Content-Length") or 0) or None
        else:
            stream = open(source, "rb")  # noqa: SIM115 - closed by the `with` below
            total = os.fstat(stream.fileno()).st_size
        with stream:
            while block := stream.read(CHUNK):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(weight_set.file_name, done, total)
    except urllib.error.HTTPError as exc:
        raise WeightsError(
            f"cannot download {what}: HTTP {exc.code} {exc.reason} from {source}; nothing was cached"
        ) from None
    except urllib.error.URLError as exc:
        if mirrored:
            raise WeightsError(
                f"cannot reach the weights mirror for {what}: {source} ({exc.reason}); check {MIRROR_ENV}, or "
                f"put {weight_set.file_name} at {target} by hand, or pass --weights random"
            ) from None
        raise WeightsError(
            f"cannot download {what} from {source} ({exc.reason}). Offline? Put that file at {target} by hand "
            f"(or set {MIRROR_ENV} to a folder or URL that has it), or pass --weights random"
        ) from None
    except (http.client.HTTPException, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise WeightsError(
            f"the download of {what} from {source} broke off after {done:,} bytes ({reason}); nothing was cached; "
            "run the command again"
        ) from None
    if total is not None and done != total:
        raise WeightsError(
            f"the download of {what} from {source} broke off after {done:,} of {total:,} bytes; nothing was "
            "cached; run the command again"
        )
    return digest.hexdigest()

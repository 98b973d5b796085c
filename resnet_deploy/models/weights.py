"""Loading weights: torchvision state_dicts, reference CIFAR checkpoints, our own checkpoints.

Files are always read with `torch.load(..., weights_only=True)`: a checkpoint is data, and one
that needs arbitrary code to unpickle is refused. A model never loads partially: any missing,
unexpected or misshapen key is an error that names the keys and the arch the file fits best.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnet_deploy.errors import WeightsError
from resnet_deploy.hashing import file_sha256


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a weights file plus whatever it says about itself."""

    path: Path
    sha256: str
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any]  # e.g. arch, labels, preprocess (our checkpoints), best_prec1 (CIFAR)


def _normalise_keys(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Strip DataParallel's `module.` prefix; the reference CIFAR code calls its classifier `linear`."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.startswith("linear."):
            key = "fc." + key[len("linear.") :]
        out[key] = value
    return out


def _check_container(path: Path) -> None:
    """torch.save writes a zip archive (or, before PyTorch 1.6, a pickle stream): refuse anything
    else up front, so an ONNX or random bytes is called what it is, not a pickle security error."""
    if path.is_dir():
        raise WeightsError(f"weights {path} is a folder, not a checkpoint file; pass the file itself")
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found; pass an existing file with --weights")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise WeightsError(f"{path} is empty, not a PyTorch checkpoint")
    if head != b"PK\x03\x04" and not (len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5):
        kind = "an ONNX model" if path.suffix.lower() == ".onnx" else "neither a zip archive nor a pickle"
        raise WeightsError(
            f"{path} is not a PyTorch checkpoint ({kind}); pass a file written by torch.save "
            "(.pt, .pth, .th), a weight set name or random"
        )


def read_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    _check_container(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported object"
        raise WeightsError(
            f"{path} is not a plain weights file: it needs code to load ({first_line[:160]}); "
            "refusing to run it. Save a state_dict with torch.save(model.state_dict(), path)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path} is truncated or not a PyTorch weights file ({reason[:160]})") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{path} holds a {type(raw).__name__}, not a state_dict or checkpoint dict")
    meta: dict[str, Any] = {}
    state_dict = raw
    for key in ("state_dict", "model"):
        if isinstance(raw.get(key), dict):
            state_dict = raw[key]
            meta = {k: v for k, v in raw.items() if k not in ("state_dict", "model", "optimizer", "scheduler")}
            break
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path} contains no tensors; expected a state_dict")
    return Checkpoint(path=path, sha256=file_sha256(path), state_dict=_normalise_keys(tensors), meta=meta)


def _shape_mismatches(model_sd: dict[str, torch.Tensor], file_sd: dict[str, torch.Tensor]) -> list[str]:
    return [
        f"{k} {tuple(file_sd[k].shape)} vs {tuple(v.shape)}"
        for k, v in model_sd.items()
        if k in file_sd and tuple(file_sd[k].shape) != tuple(v.shape)
    ]


def guess_arch(state_dict: dict[str, torch.Tensor]) -> str | None:
    """The registered arch whose keys and shapes (ignoring the classifier) fit `state_dict` best."""
    from resnet_deploy.models.registry import create_model, list_models

    file_shapes = {k: tuple(v.shape) for k, v in state_dict.items() if not k.startswith("fc.")}
    best, best_score = None, 0.0
    for card in list_models():
        with torch.device("meta"):
            model = create_model(card.name)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("fc.")}
        matched = sum(1 for k, s in shapes.items() if file_shapes.get(k) == s)
        score = matched / max(len(shapes), len(file_shapes))
        if score > best_score:
            best, best_score = card.name, score
    return best if best_score > 0.5 else None


def load_into(model: nn.Module, checkpoint: Checkpoint, arch: str) -> None:
    """Load every tensor of `checkpoint` into `model`, or raise a `WeightsError` saying why not."""
    model_sd = model.state_dict()
    # Checkpoints from PyTorch < 0.4.1 lack BN's step counter; it does not affect inference.
    file_sd = {
        **{k: v for k, v in model_sd.items() if k.endswith("num_batches_tracked")},
        **checkpoint.state_dict,
    }
    missing = [k for k in model_sd if k not in file_sd]
    unexpected = [k for k in file_sd if k not in model_sd]
    shapes = _shape_mismatches(model_sd, file_sd)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches ({'; '.join(shapes[:2])})")
        guess = guess_arch(file_sd)
        hint = (
            f"it looks like a {guess} checkpoint: try --arch {guess}"
            if guess and guess != arch
            else ("check --num-classes" if guess == arch else "no registered arch matches it")
        )
        raise WeightsError(f"{checkpoint.path} does not fit {arch}: {', '.join(parts)}; {hint}")
    model.load_state_dict(file_sd, strict=True)


def load_model(
    arch: str | None,
    weights: str | Path | None = None,
    *,
    num_classes: int | None = None,
    **options: str | None,
) -> tuple[nn.Module, Checkpoint | None]:
    """Build `arch` in eval mode and load `weights` if given (the arch may come from our checkpoint)."""
    from resnet_deploy.models.registry import create_model

    checkpoint = read_checkpoint(weights) if weights is not None else None
    if checkpoint is not None:
        arch = arch or checkpoint.meta.get("arch")
        if num_classes is None and "fc.weight" in checkpoint.state_dict:
            num_classes = int(checkpoint.state_dict["fc.weight"].shape[0])
        for key in ("shortcut", "activation", "variant"):
            options.setdefault(key, checkpoint.meta.get(key))
    if arch is None:
        raise WeightsError("no architecture given; pass --arch NAME (see `resnet-deploy models`)")
    model = create_model(arch, num_classes=num_classes, **options)
    if checkpoint is not None:
        load_into(model, checkpoint, arch)
    return model.eval(), checkpoint

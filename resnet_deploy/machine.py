"""Facts about this machine that several commands need: its CUDA GPUs and package versions."""

from __future__ import annotations

import importlib.metadata


def package_version(dist: str) -> str | None:
    """The installed version of a distribution, without importing it; None if absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cuda_gpus() -> list[dict[str, str]]:
    """Name and compute capability ("9.0") of every GPU PyTorch can use; [] without one."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [
        {
            "name": torch.cuda.get_device_name(i),
            "compute_capability": "{}.{}".format(*torch.cuda.get_device_capability(i)),
        }
        for i in range(torch.cuda.device_count())
    ]


def cuda_gpu() -> tuple[str, str] | None:
    """(name, compute capability) of the current GPU, or None."""
    gpus = cuda_gpus()
    if not gpus:
        return None
    import torch

    current = gpus[torch.cuda.current_device()]
    return current["name"], current["compute_capability"]

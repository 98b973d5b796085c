"""The benchmark's environment header: CPU, GPU and library versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "gpu_compute_capability": "{}.{}".format(*torch.cuda.get_device_capability(0)) if gpu else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
        "tensorrt": _version("tensorrt"),
        "tensorrt_rtx": _version("tensorrt-rtx") or _version("tensorrt_rtx"),
        "python": platform.python_version(),
    }

"""The benchmark's environment header: CPU, GPU and library versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from resnet_deploy.machine import cuda_gpu, package_version


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    import torch

    gpu = cuda_gpu()
    return {
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu[0] if gpu else None,
        "gpu_compute_capability": gpu[1] if gpu else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "onnxruntime": package_version("onnxruntime") or package_version("onnxruntime-gpu"),
        "tensorrt": package_version("tensorrt"),
        "tensorrt_rtx": package_version("tensorrt-rtx") or package_version("tensorrt_rtx"),
        "python": platform.python_version(),
    }

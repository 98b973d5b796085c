"""What this machine can do: which backends import, their versions, and what that means."""

from __future__ import annotations

import importlib
import platform
from typing import Any

from resnet_deploy.machine import cuda_gpus, package_version


def _torch_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError as exc:
        return {"installed": False, "reason": str(exc)}
    cuda = torch.cuda.is_available()
    return {
        "installed": True,
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": cuda,
        "gpus": cuda_gpus(),
    }


def _onnxruntime_info() -> dict[str, Any]:
    try:
        import onnxruntime
    except ImportError as exc:
        return {"installed": False, "reason": str(exc)}
    return {
        "installed": True,
        "version": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
    }


def _tensorrt_info(module: str) -> dict[str, Any]:
    try:
        trt = importlib.import_module(module)
    except ImportError as exc:
        return {"installed": False, "reason": str(exc).splitlines()[0] if str(exc) else "not installed"}
    except Exception as exc:  # a broken install (e.g. missing CUDA libraries) is worth reporting, not crashing
        return {"installed": False, "reason": f"import failed: {exc}"}
    return {"installed": True, "version": trt.__version__}


def environment_report() -> dict[str, Any]:
    """Backends, versions and a plain-language verdict of what works here."""
    report: dict[str, Any] = {
        "resnet_deploy": package_version("resnet-deploy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _torch_info(),
        "onnxruntime": _onnxruntime_info(),
        "onnxruntime_packages": [dist for dist in ("onnxruntime", "onnxruntime-gpu") if package_version(dist)],
        "tensorrt": _tensorrt_info("tensorrt"),
        "tensorrt_rtx": _tensorrt_info("tensorrt_rtx"),
    }
    report["verdict"] = _verdict(report)
    return report


# Both wheels install the same `onnxruntime` module; whichever was installed last wins, and the
# CUDA provider can vanish (microsoft/onnxruntime#26996).
ORT_BOTH = (
    "onnxruntime and onnxruntime-gpu are both installed, and they overwrite each other's files: `pip uninstall -y "
    "onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu` (see the README's [gpu] note)."
)


def _verdict(report: dict[str, Any]) -> list[str]:
    torch_info, ort, trt, rtx = report["torch"], report["onnxruntime"], report["tensorrt"], report["tensorrt_rtx"]
    gpu = bool(torch_info.get("cuda_available"))
    lines = []
    if torch_info["installed"]:
        lines.append("PyTorch reference models run on " + ("CUDA and CPU." if gpu else "the CPU only (no CUDA GPU)."))
    else:
        lines.append("PyTorch is missing: models cannot be built or exported. Install the package again.")
    if ort["installed"]:
        gpu_eps = [p for p in ort["providers"] if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")]
        lines.append("onnxruntime runs ONNX models on " + (f"{', '.join(gpu_eps)} and CPU." if gpu_eps else "the CPU."))
    if report.get("onnxruntime_packages") == ["onnxruntime", "onnxruntime-gpu"]:
        lines.append(ORT_BOTH)
    if trt["installed"]:
        lines.append(
            "TensorRT can build and run engines."
            if gpu
            else "TensorRT is installed, but without a GPU it can neither build nor run engines."
        )
    if rtx["installed"]:
        lines.append(
            "TensorRT-RTX can build engines here and run them on supported RTX GPUs."
            if gpu
            else "no GPU: engines can be built with TensorRT-RTX but not run (it builds ahead of time on the CPU)."
        )
    if not trt["installed"] and not rtx["installed"]:
        lines.append("No TensorRT: install `resnet-deploy[rtx]` (TensorRT-RTX, PyPI) or `[trt]` to build engines.")
    return lines

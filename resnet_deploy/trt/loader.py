"""Import the requested TensorRT family, or explain how to get it."""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

from resnet_deploy.errors import ArtifactError
from resnet_deploy.trt.adapter import FAMILIES, TrtFamily

INSTALL_HINT = {
    "tensorrt": "pip install 'resnet-deploy[trt]' (NVIDIA's index; needs a GPU to build)",
    "tensorrt_rtx": "pip install 'resnet-deploy[rtx]' (PyPI; builds on the CPU)",
}


def _import(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def import_trt(runtime: str = "auto") -> tuple[ModuleType, TrtFamily]:
    """`auto` prefers full TensorRT (it runs on every NVIDIA GPU), then TensorRT-RTX."""
    if runtime == "auto":
        candidates = ["tensorrt", "tensorrt_rtx"]
    elif runtime in FAMILIES:
        candidates = [FAMILIES[runtime]]
    else:
        raise ArtifactError(f"--runtime {runtime!r} is not one of auto, {', '.join(FAMILIES)}")
    for module in candidates:
        trt = _import(module)
        if trt is not None:
            return trt, TrtFamily(module, trt.__version__)
    hints = "; ".join(f"{m}: {INSTALL_HINT[m]}" for m in candidates)
    wanted = "TensorRT" if runtime == "auto" else f"--runtime {runtime}"
    raise ArtifactError(f"{wanted} is not installed here; {hints}")


def cuda_major(family: TrtFamily) -> str | None:
    """The CUDA major version the TensorRT wheel was built for (from its `_cuNN` package name)."""
    base = family.module.replace("_", "-")
    for major in ("13", "12", "11"):
        for dist in (f"{base}-cu{major}", f"{family.module}_cu{major}"):
            try:
                importlib.metadata.version(dist)
                return major
            except importlib.metadata.PackageNotFoundError:
                continue
    return None


def engine_module(module_name: str) -> ModuleType:
    """The module a plan's sidecar names, for deserializing it."""
    trt = _import(module_name)
    if trt is None:
        raise ArtifactError(f"this plan needs {module_name}, which is not installed; {INSTALL_HINT[module_name]}")
    return trt

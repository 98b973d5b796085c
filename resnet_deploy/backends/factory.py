"""`open_runner`: one entry point from any artifact to a runner."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from resnet_deploy.backends.base import Runner
from resnet_deploy.errors import ArtifactError

BACKENDS = ("torch", "onnxruntime", "tensorrt")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".th", ".ckpt", ".bin")
PLAN_SUFFIXES = (".plan", ".engine", ".trt")


def detect_backend(artifact: str | Path) -> str:
    """The backend an artifact runs on by default: by file type, or torch for an arch name."""
    from resnet_deploy.models.registry import list_models

    text = str(artifact)
    suffix = Path(text).suffix.lower()
    if suffix == ".onnx":
        return "onnxruntime"
    if suffix in PLAN_SUFFIXES:
        return "tensorrt"
    if suffix in CHECKPOINT_SUFFIXES or text in {card.name for card in list_models()}:
        return "torch"
    if not Path(text).exists():
        raise ArtifactError(
            f"{text} is neither a file nor a registered architecture; pass a .onnx, .plan, checkpoint "
            "or arch name (see `resnet-deploy models`)"
        )
    raise ArtifactError(
        f"cannot tell what {text} is from its suffix {suffix!r}; use .onnx, .plan/.engine, "
        f"or a checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}), or pass --backend"
    )


def open_runner(
    artifact: str | Path,
    backend: str | None = None,
    *,
    arch: str | None = None,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    device: str | None = None,
    providers: Sequence[str] | None = None,
    check_sidecar: bool = True,
    allow_host_code: bool = False,
) -> Runner:
    """Open `artifact` (an arch name, a checkpoint, an .onnx or a .plan) on `backend`."""
    backend = backend or detect_backend(artifact)
    if backend not in BACKENDS:
        raise ArtifactError(f"--backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if device not in (None, "cpu", "cuda"):  # checked here too: only the torch runner reads it
        raise ArtifactError(f"--device must be cpu or cuda, got {device!r}")
    text = str(artifact)
    if backend == "torch":
        from resnet_deploy.backends.torch_runner import TorchRunner

        if Path(text).suffix.lower() in (".onnx", *PLAN_SUFFIXES):
            raise ArtifactError(f"the torch backend runs arch names and checkpoints, not {text}")
        is_file = Path(text).suffix.lower() in CHECKPOINT_SUFFIXES or (Path(text).is_file() and weights is None)
        if is_file:
            if not Path(text).is_file():
                raise ArtifactError(f"checkpoint {text} not found")
            return TorchRunner.from_arch(arch, text, num_classes=num_classes, device=device)
        return TorchRunner.from_arch(arch or text, weights, num_classes=num_classes, device=device)
    if backend == "onnxruntime":
        from resnet_deploy.backends.ort_runner import OnnxRuntimeRunner

        if device == "cuda" and not providers:
            providers = ["CUDAExecutionProvider"]
        return OnnxRuntimeRunner(text, providers=providers)
    from resnet_deploy.trt.runner import TensorRTRunner

    return TensorRTRunner(text, check_sidecar=check_sidecar, allow_host_code=allow_host_code)

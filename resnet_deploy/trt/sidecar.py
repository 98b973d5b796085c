"""`EngineSidecar`: what a plan was built from and for, written beside it as JSON.

A TensorRT plan only runs on the runtime version and GPU it was built for (unless built
version- or hardware-compatible). The sidecar records that, and `compatibility_problems`
compares it with the machine before anything is deserialized, so a mismatch is a clear message
with the command that rebuilds the plan instead of a crash inside TensorRT.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import ModelMetadata

SIDECAR_FORMAT = 1
NO_GPU = "there is no CUDA GPU"


@dataclass(frozen=True)
class EngineSidecar:
    runtime: str  # "tensorrt" or "tensorrt_rtx" (the module that builds and runs it)
    runtime_version: str
    cuda_major: str | None
    gpu_name: str | None  # the build GPU (TensorRT); None for TensorRT-RTX ahead-of-time builds
    compute_capability: str | None  # e.g. "9.0" for the build GPU
    aot_targets: list[str]  # TensorRT-RTX compute-capability targets, e.g. ["SM80", ...]
    hardware_compatibility: str  # "none" or "ampere_plus"
    version_compatible: bool
    strongly_typed: bool
    precision: str
    profile: dict[str, list[int]]  # min/opt/max batch shapes of the input
    inputs: list[dict[str, Any]]  # name, dtype, shape
    outputs: list[dict[str, Any]]
    model: dict[str, str]  # the ONNX's resnet-deploy metadata_props
    onnx_path: str
    onnx_sha256: str
    plan_sha256: str
    plan_bytes: int
    built_at: str
    build_seconds: float
    layers: list[dict[str, str]] = field(default_factory=list)  # as the build recorded them
    tf32: bool = True  # float32 layers may run as TF32 (TensorRT's default); False: built with --strict-fp32
    format: int = SIDECAR_FORMAT

    @property
    def metadata(self) -> ModelMetadata:
        return ModelMetadata.from_props(self.model, "the engine sidecar")

    @property
    def family_name(self) -> str:
        return "TensorRT-RTX" if self.runtime == "tensorrt_rtx" else "TensorRT"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def read(cls, path: Path) -> EngineSidecar:
        rebuild = "rebuild the plan with `resnet-deploy build MODEL.onnx -o PLAN`"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"sidecar {path} is unreadable ({exc}); {rebuild}") from None
        if not isinstance(data, dict):
            raise ArtifactError(f"sidecar {path} holds a JSON {type(data).__name__}, not a sidecar object; {rebuild}")
        fields = dataclasses.fields(cls)
        required = [
            f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            raise ArtifactError(f"sidecar {path} lacks {len(missing)} of its fields ({shown}); {rebuild}")
        try:
            return cls(**{f.name: data[f.name] for f in fields if f.name in data})
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"sidecar {path} is damaged ({exc}); {rebuild}") from None

    def rebuild_command(self, plan: str | Path | None = None) -> str:
        """The `build` command that makes this plan again, with every option that shaped it."""
        runtime = "tensorrt-rtx" if self.runtime == "tensorrt_rtx" else "tensorrt"
        batch = self.profile["min"][0], self.profile["opt"][0], self.profile["max"][0]
        parts = [
            f"resnet-deploy build {self.onnx_path} --precision {self.precision}",
            f"--batch {batch[0]}:{batch[1]}:{batch[2]} --runtime {runtime}",
        ]
        if self.hardware_compatibility == "ampere_plus":
            parts.append("--hardware-compatible")
        if not self.tf32:
            parts.append("--strict-fp32")
        if plan is not None:
            parts.append(f"-o {plan}")
        return " ".join(parts)

    def built_for(self) -> str:
        where = (
            f"GPU {self.gpu_name} (sm {self.compute_capability})"
            if self.compute_capability
            else f"targets {', '.join(self.aot_targets)}"
        )
        return f"{self.family_name} {self.runtime_version} on {where}"


def sidecar_path(plan: Path) -> Path:
    return plan.with_suffix(".json")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def _cc_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _target_cc(target: str) -> tuple[int, int]:
    digits = target.upper().removeprefix("SM")
    return int(digits[:-1]), int(digits[-1])


def compatibility_problems(sidecar: EngineSidecar, runtime_version: str | None, gpu_cc: str | None) -> list[str]:
    """Why this plan cannot run with `runtime_version` of its family on a GPU of `gpu_cc`."""
    problems = []
    if runtime_version is None:
        problems.append(f"{sidecar.runtime} is not installed")
    elif runtime_version != sidecar.runtime_version:
        here, built = _version(runtime_version), _version(sidecar.runtime_version)
        if not (sidecar.version_compatible and here[0] == built[0] and here >= built):
            problems.append(f"{sidecar.family_name} {runtime_version} is installed")
    if gpu_cc is None:
        problems.append(NO_GPU)
    elif sidecar.compute_capability:  # a plan built on (and for) one GPU
        here, built = _cc_tuple(gpu_cc), _cc_tuple(sidecar.compute_capability)
        ok = here == built or (sidecar.hardware_compatibility == "ampere_plus" and here >= (8, 0))
        if not ok:
            problems.append(f"the GPU here has compute capability {gpu_cc}")
    else:  # TensorRT-RTX ahead of time: the listed targets, and later for the default list
        here = _cc_tuple(gpu_cc)
        targets = [_target_cc(t) for t in sidecar.aot_targets]
        default_list = set(sidecar.aot_targets) == {"SM80", "SM86", "SM89", "SM120"}
        if here not in targets and not (default_list and here >= (12, 0)):
            problems.append(f"the GPU here has compute capability {gpu_cc}, which is not a build target")
    return problems

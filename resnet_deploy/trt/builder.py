"""Build a TensorRT plan and its sidecar from an ONNX, with either TensorRT family.

Flow (NVIDIA TensorRT developer guide "The Python API" and sample `onnx_resnet50.py`;
TensorRT-RTX `api_usage.py`): Builder -> network (strongly typed where supported) ->
OnnxParser -> builder config (workspace, optimization profile, timing cache, progress monitor)
-> `build_serialized_network`, which returns None on failure rather than raising.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx

from resnet_deploy.atomic import atomic_write_bytes, atomic_write_text
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import BatchRange, read_metadata
from resnet_deploy.exporting.onnx_file import load_onnx
from resnet_deploy.machine import cuda_gpu
from resnet_deploy.models.weights import file_sha256
from resnet_deploy.quant.graph import has_fp16_weights, is_quantized
from resnet_deploy.quant.layouts import require_tensorrt_layout
from resnet_deploy.trt.adapter import RTX_DEFAULT_TARGETS, TrtFamily
from resnet_deploy.trt.loader import cuda_major, import_trt
from resnet_deploy.trt.sidecar import EngineSidecar, sidecar_path

PRECISIONS = ("auto", "fp32", "fp16", "int8")
ProgressCallback = Callable[[str, int, int], None]  # phase, step, steps


@dataclass(frozen=True)
class BuildResult:
    plan: Path
    sidecar: EngineSidecar
    converted_from: Path | None  # the float32 ONNX when --precision fp16 converted it first
    timing_cache: Path | None

    def to_dict(self) -> dict:
        s = self.sidecar
        return {
            "plan": str(self.plan),
            "sidecar": str(sidecar_path(self.plan)),
            "runtime": s.runtime,
            "runtime_version": s.runtime_version,
            "precision": s.precision,
            "profile": s.profile,
            "targets": s.aot_targets or [s.compute_capability],
            "plan_sha256": s.plan_sha256,
            "plan_bytes": s.plan_bytes,
            "build_seconds": s.build_seconds,
            "timing_cache": str(self.timing_cache) if self.timing_cache else None,
            "tf32": s.tf32,
        }


def onnx_precision(model: onnx.ModelProto) -> str:
    if is_quantized(model):
        return "int8"
    return "fp16" if has_fp16_weights(model) else "fp32"


def resolve_precision(requested: str, found: str, onnx_path: Path) -> str:
    """The build precision; a conversion the builder can't do itself is a clear error."""
    if requested not in PRECISIONS:
        raise ArtifactError(f"--precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    if requested in ("auto", found) or (requested == "fp16" and found == "fp32"):
        return found if requested == "auto" else requested
    if requested == "int8":
        raise ArtifactError(
            f"{onnx_path} has no Q/DQ nodes; calibrate it first: "
            f"resnet-deploy calibrate {onnx_path} --images DIR, then build the _int8.onnx"
        )
    raise ArtifactError(f"{onnx_path} is a {found} model; --precision {requested} needs a float32 ONNX")


def _progress_monitor(trt, callback: ProgressCallback):
    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.steps: dict[str, int] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.steps[phase_name] = num_steps
            if parent_phase is None:
                callback(phase_name, 0, num_steps)

        def step_complete(self, phase_name, step):
            callback(phase_name, step + 1, self.steps.get(phase_name, 0))
            return True  # keep building

        def phase_finish(self, phase_name):
            pass

    return Monitor()


def _tensor_info(tensor) -> dict:
    return {"name": tensor.name, "dtype": str(tensor.dtype).split(".")[-1], "shape": list(tensor.shape)}


def default_timing_cache(family: TrtFamily, gpu: tuple[str, str] | None, folder: Path) -> Path | None:
    """One timing cache per GPU model and TensorRT version, beside the plans (TensorRT only)."""
    if not family.has_timing_cache or gpu is None:
        return None
    slug = re.sub(r"[^a-z0-9]+", "-", gpu[0].lower()).strip("-")
    return folder / "timing" / f"{slug}-sm{gpu[1].replace('.', '')}-trt{family.version}.cache"


def _layer_info(layer) -> dict:
    """Name, type and output dtype: in a strongly typed network the dtype is the precision."""
    dtype = layer.get_output(0).dtype if layer.num_outputs else None
    return {"name": layer.name, "type": str(layer.type).split(".")[-1], "dtype": str(dtype).split(".")[-1]}


def build_engine(
    onnx_path: str | Path,
    *,
    precision: str = "auto",
    batch: BatchRange | None = None,
    workspace_gb: float = 4.0,
    timing_cache: str | Path | None = None,
    runtime: str = "auto",
    output: str | Path | None = None,
    hardware_compatible: bool = False,
    strict_fp32: bool = False,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Build `onnx_path` into `engines/<name>_<precision>.plan` plus its JSON sidecar."""
    onnx_path = Path(onnx_path)
    model = load_onnx(onnx_path)
    metadata = read_metadata(model, str(onnx_path))
    found = onnx_precision(model)
    require_tensorrt_layout(metadata, onnx_path)
    target_precision = resolve_precision(precision, found, onnx_path)
    batch = batch or metadata.batch
    if workspace_gb <= 0:
        raise ArtifactError(f"--workspace-gb must be positive, got {workspace_gb}")
    trt, family = import_trt(runtime)
    gpu = cuda_gpu()
    if not family.builds_without_gpu and gpu is None:
        raise ArtifactError(
            f"{family.describe()} needs a CUDA GPU to build; use --runtime tensorrt-rtx to build ahead of time here"
        )
    stem = onnx_path.stem.removesuffix("_int8").removesuffix("_fp16")
    plan_path = Path(output) if output else Path("engines") / f"{stem}_{target_precision}.plan"
    timing_cache = timing_cache or default_timing_cache(family, gpu, plan_path.parent)

    with tempfile.TemporaryDirectory() as tmp:
        source, converted_from = onnx_path, None
        if target_precision == "fp16" and found == "fp32" and family.strongly_typed:
            from resnet_deploy.quant.fp16 import convert_fp16  # strongly typed: fp16 must be in the graph

            source, converted_from = convert_fp16(onnx_path, Path(tmp) / f"{stem}_fp16.onnx").path, onnx_path
        plan, record, cache_path = _build(
            trt,
            family,
            source,
            size=metadata.input_size,
            batch=batch,
            precision=target_precision,
            workspace_gb=workspace_gb,
            timing_cache=timing_cache,
            hardware_compatible=hardware_compatible,
            strict_fp32=strict_fp32,
            progress=progress,
        )

    plan_sha = hashlib.sha256(plan).hexdigest()
    sidecar = EngineSidecar(
        runtime=family.module,
        runtime_version=family.version,
        cuda_major=cuda_major(family),
        gpu_name=None if family.is_rtx else gpu[0],
        compute_capability=None if family.is_rtx else gpu[1],
        aot_targets=list(RTX_DEFAULT_TARGETS) if family.is_rtx else [],
        hardware_compatibility="ampere_plus" if hardware_compatible and not family.is_rtx else "none",
        version_compatible=False,
        strongly_typed=family.strongly_typed,
        precision=target_precision,
        profile=record["profile"],
        inputs=record["inputs"],
        outputs=record["outputs"],
        model=metadata.with_changes(precision=target_precision, batch=batch).to_props(),
        onnx_path=str(converted_from or onnx_path),
        onnx_sha256=file_sha256(converted_from or onnx_path),
        plan_sha256=plan_sha,
        plan_bytes=len(plan),
        built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(record["seconds"], 3),
        layers=record["layers"],
        tf32=not strict_fp32,
    )
    # Plan first, then sidecar: a sidecar always describes a complete plan that exists.
    atomic_write_bytes(plan_path, plan)
    atomic_write_text(sidecar_path(plan_path), sidecar.to_json())
    return BuildResult(plan_path, sidecar, converted_from, cache_path)


def _build(
    trt,
    family: TrtFamily,
    onnx_path: Path,
    *,
    size: int,
    batch: BatchRange,
    precision: str,
    workspace_gb: float,
    timing_cache: str | Path | None,
    hardware_compatible: bool,
    strict_fp32: bool,
    progress: ProgressCallback | None,
) -> tuple[bytes, dict, Path | None]:
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if family.strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)).strip() for i in range(parser.num_errors))
        raise ArtifactError(f"{family.describe()} cannot parse {onnx_path}: {errors[:400]}")
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    outputs = [network.get_output(i) for i in range(network.num_outputs)]
    if len(inputs) != 1:
        raise ArtifactError(f"{onnx_path} has {len(inputs)} inputs; expected one image batch input")
    fixed = inputs[0].shape[0]
    if fixed > 0 and not (batch.min == batch.max == fixed):
        raise ArtifactError(f"{onnx_path} has a fixed batch of {fixed}; --batch must be {fixed}:{fixed}:{fixed}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # lets `inspect` show layer details
    for flag in family.legacy_precision_flags(precision):
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if strict_fp32:  # TensorRT runs float32 convs as TF32 by default (10 mantissa bits): not bit-for-bit fp32
        config.clear_flag(trt.BuilderFlag.TF32)
    if hardware_compatible and not family.is_rtx:
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    shape = {name: (b, 3, size, size) for name, b in (("min", batch.min), ("opt", batch.opt), ("max", batch.max))}
    profile = builder.create_optimization_profile()
    profile.set_shape(inputs[0].name, shape["min"], shape["opt"], shape["max"])
    config.add_optimization_profile(profile)

    # TensorRT-RTX keeps the timing-cache API only as a deprecated no-op that also queries for
    # a GPU; it caches JIT kernels at run time instead. So the cache is TensorRT's alone.
    cache_path = Path(timing_cache) if timing_cache and family.has_timing_cache else None
    cache = None
    if cache_path is not None:
        cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
        config.set_timing_cache(cache, False)
    if progress is not None:
        monitor = _progress_monitor(trt, progress)
        config.progress_monitor = monitor  # keep `monitor` referenced for the whole build

    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise ArtifactError(
            f"{family.describe()} failed to build {onnx_path} (see the TensorRT log above); "
            "try a larger --workspace-gb or a smaller --batch"
        )
    if cache is not None:
        atomic_write_bytes(cache_path, bytes(cache.serialize()))
    record = {
        "profile": {k: list(v) for k, v in shape.items()},
        "inputs": [_tensor_info(t) for t in inputs],
        "outputs": [_tensor_info(t) for t in outputs],
        "layers": [_layer_info(network.get_layer(i)) for i in range(network.num_layers)],
        "seconds": seconds,
    }
    return bytes(serialized), record, cache_path

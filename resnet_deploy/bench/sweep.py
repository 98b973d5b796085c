"""The benchmark sweep: every target x batch size, with skips and out-of-memory reported."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from resnet_deploy.bench.environment import environment
from resnet_deploy.bench.measure import measure
from resnet_deploy.bench.peaks import peak_tflops
from resnet_deploy.bench.targets import (
    BACKENDS,
    Skip,
    Target,
    artifact_target,
    onnxruntime_target,
    tensorrt_target,
    torch_target,
)
from resnet_deploy.errors import ArtifactError
from resnet_deploy.models.flops import model_complexity

PRECISIONS = ("fp32", "tf32", "fp16", "int8")  # fp32: strict float32; tf32: float32 layers as TF32


@dataclass
class BenchReport:
    environment: dict
    results: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"environment": self.environment, "results": self.results}


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return "out of memory" in text or "outofmemory" in text or "failed to allocate" in text


def _targets(arch: str, engines: list[str], backends: list[str], precisions: list[str], device: str, graphs: bool):
    """Yield (backend, precision, factory) in sweep order."""
    if engines:
        for artifact in engines:
            yield artifact, "from artifact", functools.partial(artifact_target, artifact, device)
        return
    from resnet_deploy.models.registry import get_card

    size = get_card(arch).input_size
    for backend in backends:
        for precision in precisions:
            yield backend, precision, functools.partial(_make_target, backend, precision, arch, device, size, graphs)


def _make_target(backend: str, precision: str, arch: str, device: str, size: int, graphs: bool) -> Target:
    if backend in ("torch", "torch-compile"):
        return torch_target(arch, precision, device, size, compiled=backend == "torch-compile", cuda_graphs=graphs)
    if backend == "onnxruntime":
        return onnxruntime_target(arch, precision, device, size)
    return tensorrt_target(arch, precision, size)


def run_bench(
    *,
    arch: str = "resnet50",
    engines: list[str] | None = None,
    backends: list[str] | None = None,
    device: str = "cpu",
    precisions: list[str] | None = None,
    batch_sizes: list[int] | None = None,
    warmup_s: float = 2.0,
    duration_s: float = 5.0,
    cuda_graphs: bool = False,
    on_result: Callable[[dict], None] | None = None,
) -> BenchReport:
    """Every backend x precision x batch size; `cuda_graphs` replays a captured CUDA graph in every
    torch row on CUDA (TensorRT and onnxruntime rows launch their kernels as they are)."""
    backends = backends or ["torch", "onnxruntime"]
    precisions = precisions or ["fp32"]
    batch_sizes = batch_sizes or [1, 8, 32, 128]
    for name in backends:
        if name not in BACKENDS:
            raise ArtifactError(f"--backends: {name!r} is not one of {', '.join(BACKENDS)}")
    for name in precisions:
        if name not in PRECISIONS:
            raise ArtifactError(f"--precision: {name!r} is not one of {', '.join(PRECISIONS)}")
    if device not in ("cpu", "cuda"):
        raise ArtifactError(f"--device must be cpu or cuda, got {device!r}")
    if any(b < 1 for b in batch_sizes) or warmup_s < 0 or duration_s <= 0:
        raise ArtifactError("--batch-sizes must be positive and --duration-s greater than 0")
    report = BenchReport(environment=environment())
    gpu = report.environment["gpu"]

    def emit(row: dict) -> None:
        report.results.append(row)
        if on_result is not None:
            on_result(row)

    for backend, precision, factory in _targets(arch, engines or [], backends, precisions, device, cuda_graphs):
        base = {"backend": backend, "precision": precision, "device": device}
        baseline = _used_device_bytes() if device == "cuda" else None
        try:
            target: Target = factory()
        except Skip as exc:
            emit({**base, "batch": None, "status": "skipped", "reason": str(exc)})
            continue
        except ArtifactError as exc:
            emit({**base, "batch": None, "status": "skipped", "reason": str(exc)})
            continue
        macs = model_complexity(target.arch, input_size=target.input_size)["macs"]
        base = {"backend": target.backend, "precision": target.precision, "device": target.device, "arch": target.arch}
        if target.device == "cuda":
            base["cuda_graph"] = target.cuda_graph
        try:
            for batch in batch_sizes:
                emit(_measure_one(target, batch, macs, gpu, warmup_s, duration_s, base, baseline))
        finally:
            target.close()
    return report


def _used_device_bytes() -> int:
    """Memory in use on the current GPU, by every allocator (torch's, TensorRT's, onnxruntime's)."""
    import torch

    free, total = torch.cuda.mem_get_info()
    return total - free


def _measure_one(target: Target, batch: int, macs: int, gpu: str | None, warmup_s: float, duration_s: float,
                 base: dict, baseline: int | None) -> dict:  # fmt: skip
    row = {**base, "batch": batch}
    cuda = target.device == "cuda"
    try:
        if cuda:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        step = target.prepare(batch)
        timings = measure(step, warmup_s, duration_s)
    except Skip as exc:  # e.g. torch.compile failing at its first call
        return {**row, "status": "skipped", "reason": str(exc)}
    except Exception as exc:  # one failing batch size must not end the sweep
        if _is_oom(exc):
            return {**row, "status": "oom", "reason": f"out of memory at batch {batch}"}
        return {**row, "status": "error", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"}
    row.update(status="ok", **timings.summary(batch))
    row["gflops"] = round(2 * macs * row["throughput"] / 1e9, 2)
    if cuda:
        row.update(_device_memory(target, baseline))
        peak = peak_tflops(gpu, target.precision)
        if peak is not None:
            row["peak_fraction"] = round(row["gflops"] / (peak * 1000), 4)
    return row


def _device_memory(target: Target, baseline: int | None) -> dict:
    """torch rows: its allocator's peak. TensorRT and onnxruntime allocate outside torch, where
    `max_memory_allocated` sees nothing: the rise in the GPU's used memory since the target was
    created (CUDA's own count, so it includes their arenas and the engine's context memory)."""
    import torch

    if target.backend.startswith("torch"):
        return {"peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
    out = {}
    if baseline is not None:
        out["device_memory_mb"] = round(max(_used_device_bytes() - baseline, 0) / 2**20, 1)
    if target.engine_memory_bytes is not None:
        out["engine_memory_mb"] = round(target.engine_memory_bytes / 2**20, 1)
    return out

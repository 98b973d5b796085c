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

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class BenchReport:
    environment: dict
    results: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"environment": self.environment, "results": self.results}


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return "out of memory" in text or "outofmemory" in text or "failed to allocate" in text


def _targets(arch: str, engines: list[str], backends: list[str], precisions: list[str], device: str):
    """Yield (backend, precision, factory) in sweep order."""
    if engines:
        for artifact in engines:
            yield artifact, "from artifact", functools.partial(artifact_target, artifact, device)
        return
    from resnet_deploy.models.registry import get_card

    size = get_card(arch).input_size
    for backend in backends:
        for precision in precisions:
            yield backend, precision, functools.partial(_make_target, backend, precision, arch, device, size)


def _make_target(backend: str, precision: str, arch: str, device: str, size: int) -> Target:
    if backend in ("torch", "torch-compile"):
        return torch_target(arch, precision, device, size, compiled=backend == "torch-compile")
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
    on_result: Callable[[dict], None] | None = None,
) -> BenchReport:
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

    for backend, precision, factory in _targets(arch, engines or [], backends, precisions, device):
        base = {"backend": backend, "precision": precision, "device": device}
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
        try:
            for batch in batch_sizes:
                emit(_measure_one(target, batch, macs, gpu, warmup_s, duration_s, base))
        finally:
            target.close()
    return report


def _measure_one(target: Target, batch: int, macs: int, gpu: str | None, warmup_s: float, duration_s: float,
                 base: dict) -> dict:  # fmt: skip
    row = {**base, "batch": batch}
    cuda = target.device == "cuda"
    try:
        if cuda:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        step = target.prepare(batch)
        timings = measure(step, warmup_s, duration_s)
    except Exception as exc:  # one failing batch size must not end the sweep
        if _is_oom(exc):
            return {**row, "status": "oom", "reason": f"out of memory at batch {batch}"}
        return {**row, "status": "error", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"}
    row.update(status="ok", **timings.summary(batch))
    row["gflops"] = round(2 * macs * row["throughput"] / 1e9, 2)
    if cuda:
        import torch

        row["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        peak = peak_tflops(gpu, target.precision)
        if peak is not None:
            row["peak_fraction"] = round(row["gflops"] / (peak * 1000), 4)
    return row

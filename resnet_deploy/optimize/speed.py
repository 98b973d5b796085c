"""A candidate's throughput, measured where it runs here: onnxruntime on this CPU, TensorRT on a GPU.

Where the target cannot run (TensorRT without a GPU) the speed is None with the reason, and the
search ranks by precision instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_deploy.backends.base import Runner
from resnet_deploy.bench.measure import measure

WARMUP_S = 0.5
MEASURE_S = 2.0  # default timed window per candidate


@dataclass(frozen=True)
class Speed:
    images_per_s: float | None  # None: unmeasured
    how: str  # where and at which batch, or why unmeasured


def onnxruntime_speed(runner: Runner, batch: int, seconds: float = MEASURE_S) -> Speed:
    size = runner.input.shape[-1]
    inputs = np.random.default_rng(0).standard_normal((batch, 3, size, size), dtype=np.float32)
    timings = measure(lambda: runner.infer(inputs), WARMUP_S, seconds)
    return Speed(float(batch * 1e3 / np.median(timings.latencies_ms)), f"onnxruntime CPU, batch {batch}")


def tensorrt_speed(onnx_path: Path, runtime: str, batch: int, workdir: Path, seconds: float = MEASURE_S) -> Speed:
    """Build the candidate with `runtime` (tensorrt or tensorrt-rtx) and time it on the GPU."""
    from resnet_deploy.bench.targets import Skip, tensorrt_target
    from resnet_deploy.errors import ArtifactError
    from resnet_deploy.exporting.metadata import BatchRange
    from resnet_deploy.machine import cuda_gpu
    from resnet_deploy.trt.builder import build_engine

    if cuda_gpu() is None:
        return Speed(None, "unmeasured: no CUDA GPU here, and TensorRT runs only on one")
    try:
        plan = workdir / f"{onnx_path.stem}.plan"
        built = build_engine(onnx_path, runtime=runtime, batch=BatchRange(1, batch, batch), output=plan)
        model = built.sidecar.metadata
        target = tensorrt_target(model.arch, built.sidecar.precision, model.input_size, plan=built.plan)
    except (ArtifactError, Skip) as exc:
        return Speed(None, f"unmeasured: {exc}")
    try:
        timings = measure(target.prepare(batch), WARMUP_S, seconds)
    finally:
        target.close()
    return Speed(float(batch * 1e3 / np.median(timings.latencies_ms)), f"{runtime} on {cuda_gpu()[0]}, batch {batch}")

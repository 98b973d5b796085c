"""What `bench` can measure: a backend at a precision on a device, prepared per batch size.

Each target turns a batch size into a `Step` (one timed batch). A target that cannot run here
raises `Skip` with the reason, which the sweep reports instead of failing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_deploy.bench.measure import Step

BACKENDS = ("torch", "torch-compile", "onnxruntime", "tensorrt")


class Skip(Exception):
    """This backend/precision cannot be measured here; the message says why."""


@dataclass
class Target:
    backend: str
    precision: str
    device: str
    arch: str
    input_size: int
    prepare: Callable[[int], Step]  # batch size -> step
    close: Callable[[], None] = lambda: None


def _cuda_step(run: Callable, host: np.ndarray, dtype) -> Step:
    """Copy pinned host input to the GPU, run, and time both with CUDA events."""
    import torch

    pinned = torch.from_numpy(host).pin_memory()
    device_input = torch.empty(host.shape, dtype=dtype, device="cuda")
    events = [torch.cuda.Event(enable_timing=True) for _ in range(3)]

    def step() -> tuple[float, float]:
        events[0].record()
        device_input.copy_(pinned, non_blocking=True)
        events[1].record()
        run(device_input)
        events[2].record()
        events[2].synchronize()
        return events[0].elapsed_time(events[1]), events[1].elapsed_time(events[2])

    return step


def _batch(batch: int, size: int) -> np.ndarray:
    return np.random.default_rng(batch).standard_normal((batch, 3, size, size), dtype=np.float32)


def torch_target(arch: str, precision: str, device: str, size: int, compiled: bool) -> Target:
    import torch

    from resnet_deploy.models import create_model

    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("no CUDA GPU")
    if precision == "int8":
        raise Skip("PyTorch int8 inference is not a deployment path here; use onnxruntime or TensorRT")
    if precision == "fp16" and device == "cpu":
        raise Skip("fp16 on the CPU has no fast kernels in PyTorch")
    model = create_model(arch).eval().to(device)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    if device == "cuda":
        model = model.to(dtype=dtype, memory_format=torch.channels_last)
    if compiled:
        try:
            model = torch.compile(model)
        except Exception as exc:  # no compiler toolchain, unsupported platform
            raise Skip(f"torch.compile failed: {exc}") from None

    def prepare(batch: int) -> Step:
        host = _batch(batch, size)
        if device == "cpu":
            tensor = torch.from_numpy(host)

            def cpu_step() -> None:
                with torch.inference_mode():
                    model(tensor)

            return cpu_step
        if precision == "fp16" and not compiled:  # eager fp16: replay a captured CUDA graph
            static = torch.empty(host.shape, dtype=dtype, device="cuda").contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(3):
                        model(static)
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    model(static)

            def replay(device_input) -> None:
                static.copy_(device_input)
                graph.replay()

            return _cuda_step(replay, host, dtype)

        def eager(device_input) -> None:
            with torch.inference_mode():
                model(device_input.contiguous(memory_format=torch.channels_last))

        return _cuda_step(eager, host, dtype)

    backend = "torch-compile" if compiled else "torch"
    return Target(backend, precision, device, arch, size, prepare)


def _export_for_bench(arch: str, folder: Path) -> Path:
    from resnet_deploy.exporting.export import export_onnx

    return export_onnx(arch, output=folder / f"{arch}.onnx").path


def onnxruntime_target(arch: str, precision: str, device: str, size: int, onnx_path: Path | None = None) -> Target:
    from resnet_deploy.backends.ort_runner import OnnxRuntimeRunner
    from resnet_deploy.errors import ArtifactError

    if precision == "fp16" and device == "cpu":
        raise Skip("onnxruntime's CPU provider has no fp16 Conv kernels (it would time casts to fp32)")
    if precision == "int8" and onnx_path is None:
        raise Skip("int8 needs a calibrated ONNX: pass --engine MODEL_int8.onnx")
    folder = tempfile.TemporaryDirectory()
    path = onnx_path or _export_for_bench(arch, Path(folder.name))
    if precision == "fp16" and onnx_path is None:
        from resnet_deploy.quant.fp16 import convert_fp16

        path = convert_fp16(path).path
    try:
        runner = OnnxRuntimeRunner(path, providers=["cuda" if device == "cuda" else "cpu"])
    except ArtifactError as exc:
        folder.cleanup()
        raise Skip(str(exc)) from None

    def prepare(batch: int) -> Step:
        host = _batch(batch, size)

        def step() -> None:
            runner.infer(host)

        return step

    def close() -> None:
        runner.close()
        folder.cleanup()

    return Target("onnxruntime", precision, device, arch, size, prepare, close)


def tensorrt_target(arch: str, precision: str, size: int, plan: Path | None = None) -> Target:
    import torch

    from resnet_deploy.errors import ArtifactError

    if not torch.cuda.is_available():
        raise Skip("no CUDA GPU: TensorRT plans can be built here but not run")
    folder = tempfile.TemporaryDirectory()
    try:
        if plan is None:
            from resnet_deploy.trt.builder import build_engine

            if precision == "int8":
                raise Skip("int8 needs a calibrated plan: pass --engine MODEL_int8.plan")
            onnx_path = _export_for_bench(arch, Path(folder.name))
            plan = build_engine(onnx_path, precision=precision, output=Path(folder.name) / "bench.plan").plan
        from resnet_deploy.trt.runner import TensorRTRunner

        runner = TensorRTRunner(plan)
    except ArtifactError as exc:
        folder.cleanup()
        raise Skip(str(exc)) from None

    def prepare(batch: int) -> Step:
        return _cuda_step(runner.infer_torch, _batch(batch, size), runner.input_dtype)

    def close() -> None:
        runner.close()
        folder.cleanup()

    return Target("tensorrt", precision, "cuda", arch, size, prepare, close)


def artifact_target(artifact: str, device: str) -> Target:
    """A target for one --engine ARTIFACT: precision and arch come from its metadata."""
    from resnet_deploy.backends.factory import detect_backend

    backend = detect_backend(artifact)
    if backend == "tensorrt":
        from resnet_deploy.trt.runner import load_checked_plan

        _, sidecar = load_checked_plan(Path(artifact), check_sidecar=False)
        if sidecar is None:
            raise Skip(f"{artifact} has no sidecar, so its arch and precision are unknown; rebuild it with "
                       "`resnet-deploy build`")  # fmt: skip
        meta = sidecar.metadata
        return tensorrt_target(meta.arch, meta.precision, meta.input_size, plan=Path(artifact))
    if backend == "onnxruntime":
        from resnet_deploy.backends.ort_runner import load_onnx_metadata

        meta = load_onnx_metadata(Path(artifact))
        if meta is None:
            raise Skip(f"{artifact} has no resnet-deploy metadata")
        return onnxruntime_target(meta.arch, meta.precision, device, meta.input_size, onnx_path=Path(artifact))
    from resnet_deploy.models.registry import get_card

    arch = artifact
    if Path(artifact).is_file():  # a checkpoint: timing depends on its architecture, not its values
        from resnet_deploy.models.weights import read_checkpoint

        arch = read_checkpoint(artifact).meta.get("arch")
        if arch is None:
            raise Skip(f"{artifact} does not say its architecture; bench it as --arch NAME")
    return torch_target(arch, "fp32", device, get_card(arch).input_size, compiled=False)

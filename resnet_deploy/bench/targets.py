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
    precision: str  # fp32 (strict float32), tf32 (float32 layers as TF32 on tensor cores), fp16, int8
    device: str
    arch: str
    input_size: int
    prepare: Callable[[int], Step]  # batch size -> step
    close: Callable[[], None] = lambda: None
    cuda_graph: bool = False  # each step replays a captured CUDA graph
    engine_memory_bytes: int | None = None  # TensorRT: the execution context's device memory


def _cuda_step(run: Callable, host: np.ndarray, dtype, stream=None) -> Step:
    """Copy pinned host input to the GPU, run, and time both with CUDA events, all on `stream`
    (the runner's own stream for TensorRT, so no cross-stream waits are timed)."""
    import torch

    stream = stream or torch.cuda.current_stream()
    pinned = torch.from_numpy(host).pin_memory()
    with torch.cuda.stream(stream):
        device_input = torch.empty(host.shape, dtype=dtype, device="cuda")
    events = [torch.cuda.Event(enable_timing=True) for _ in range(3)]

    def step() -> tuple[float, float]:
        with torch.cuda.stream(stream):
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


def _no_tf32_on_cpu(precision: str, device: str) -> None:
    if precision == "tf32" and device == "cpu":
        raise Skip("TF32 is a tensor-core mode of NVIDIA GPUs; on the CPU float32 is float32 (see the fp32 row)")


def _capture(model, static, warmups: int = 3):
    """A CUDA graph of `model(static)`, captured after warm-up on a side stream (PyTorch's recipe)."""
    import torch

    with torch.inference_mode():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmups):
                model(static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(static)
    return graph


def torch_target(
    arch: str, precision: str, device: str, size: int, compiled: bool, cuda_graphs: bool = False
) -> Target:
    import torch

    from resnet_deploy.backends.torch_runner import tf32_mode
    from resnet_deploy.models import create_model

    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("no CUDA GPU")
    if precision == "int8":
        raise Skip("PyTorch int8 inference is not a deployment path here; use onnxruntime or TensorRT")
    if precision == "fp16" and device == "cpu":
        raise Skip("fp16 on the CPU has no fast kernels in PyTorch")
    _no_tf32_on_cpu(precision, device)
    graphs = cuda_graphs and device == "cuda"
    model = create_model(arch).eval().to(device)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    if device == "cuda":
        model = model.to(dtype=dtype, memory_format=torch.channels_last)
    if compiled:
        try:  # with CUDA graphs, torch.compile captures them itself ("reduce-overhead")
            model = torch.compile(model, mode="reduce-overhead" if graphs else None)
        except Exception as exc:  # no compiler toolchain, unsupported platform
            raise Skip(f"torch.compile failed: {exc}") from None
    tf32 = precision == "tf32"

    def prepare(batch: int) -> Step:
        host = _batch(batch, size)
        if device == "cpu":
            tensor = torch.from_numpy(host)

            def cpu_step() -> None:
                with torch.inference_mode():
                    model(tensor)

            _first_call(cpu_step, compiled)
            return cpu_step
        static = torch.empty(host.shape, dtype=dtype, device="cuda").contiguous(memory_format=torch.channels_last)
        with tf32_mode(tf32):
            if graphs and not compiled:
                graph = _capture(model, static)

                def run(device_input) -> None:
                    static.copy_(device_input)
                    graph.replay()
            else:

                def run(device_input) -> None:
                    with torch.inference_mode():
                        model(device_input.contiguous(memory_format=torch.channels_last))

                _first_call(lambda: run(static), compiled)
        step = _cuda_step(run, host, dtype)

        def timed() -> tuple[float, float]:
            with tf32_mode(tf32):  # cuDNN and cuBLAS read the flags at each call
                return step()

        return timed

    backend = "torch-compile" if compiled else "torch"
    return Target(backend, precision, device, arch, size, prepare, cuda_graph=graphs)


def _first_call(call: Callable[[], object], compiled: bool) -> None:
    """torch.compile compiles at the first call: a failure there is a Skip with its reason."""
    if not compiled:
        return
    try:
        call()
    except Exception as exc:  # inductor/triton errors have many types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise Skip(f"torch.compile failed at the first call: {type(exc).__name__}: {first}") from None


def _export_for_bench(arch: str, folder: Path) -> Path:
    from resnet_deploy.exporting.export import export_onnx

    return export_onnx(arch, output=folder / f"{arch}.onnx").path


# onnxruntime's CUDA provider has no int8 convolution kernels: a Q/DQ graph runs as float32
# around the Q/DQ pairs (onnxruntime docs, quantization: "Quantization on GPU" needs the TensorRT
# provider), so an "int8" row there would time fake quantization.
ORT_CUDA_INT8 = ("onnxruntime's CUDA provider runs Q/DQ models as float32 around fake quantization, not int8 "
                 "kernels: time int8 with TensorRT (--backends tensorrt)")  # fmt: skip


def onnxruntime_target(arch: str, precision: str, device: str, size: int, onnx_path: Path | None = None) -> Target:
    from resnet_deploy.backends.ort_runner import OnnxRuntimeRunner
    from resnet_deploy.errors import ArtifactError

    if precision == "fp16" and device == "cpu":
        raise Skip("onnxruntime's CPU provider has no fp16 Conv kernels (it would time casts to fp32)")
    _no_tf32_on_cpu(precision, device)
    if precision == "int8" and device == "cuda":
        raise Skip(ORT_CUDA_INT8)
    if precision == "int8" and onnx_path is None:
        raise Skip("int8 needs a calibrated ONNX: pass --engine MODEL_int8.onnx")
    folder = tempfile.TemporaryDirectory()
    path = onnx_path or _export_for_bench(arch, Path(folder.name))
    if precision == "fp16" and onnx_path is None:
        from resnet_deploy.quant.fp16 import convert_fp16

        path = convert_fp16(path).path
    # The CUDA provider's `use_tf32` (on by default) decides whether float32 convs use TF32.
    options = {"CUDAExecutionProvider": {"use_tf32": "1" if precision == "tf32" else "0"}}
    try:
        runner = OnnxRuntimeRunner(path, providers=["cuda" if device == "cuda" else "cpu"], provider_options=options)
    except ArtifactError as exc:
        folder.cleanup()
        raise Skip(str(exc)) from None

    def prepare(batch: int) -> Step:
        host = _batch(batch, size)
        if device == "cuda":
            return _io_binding_step(runner, host)

        def step() -> None:
            runner.infer(host)

        return step

    def close() -> None:
        runner.close()
        folder.cleanup()

    return Target("onnxruntime", precision, device, arch, size, prepare, close)


def _io_binding_step(runner, host: np.ndarray) -> Step:
    """onnxruntime on CUDA with input and output bound to device buffers (IO binding), so a step
    times the model, not host copies, as the torch and TensorRT rows do (onnxruntime docs,
    "Python API: IOBinding")."""
    import time

    import torch

    session = runner.session
    device_input = torch.from_numpy(host).cuda()
    output = torch.empty((host.shape[0], session.get_outputs()[0].shape[-1]), device="cuda")
    binding = session.io_binding()
    binding.bind_input(runner.input.name, "cuda", 0, np.float32, tuple(device_input.shape), device_input.data_ptr())
    binding.bind_output(runner.output_name, "cuda", 0, np.float32, tuple(output.shape), output.data_ptr())
    torch.cuda.synchronize()

    def step() -> tuple[float, float]:
        start = time.perf_counter()
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return 0.0, (time.perf_counter() - start) * 1e3  # no host-to-device copy: all of it is compute

    return step


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
            build_precision = "fp32" if precision == "tf32" else precision
            plan = build_engine(onnx_path, precision=build_precision, strict_fp32=precision == "fp32",
                                output=Path(folder.name) / "bench.plan").plan  # fmt: skip
        from resnet_deploy.trt.runner import TensorRTRunner

        runner = TensorRTRunner(plan)
    except ArtifactError as exc:
        folder.cleanup()
        raise Skip(str(exc)) from None

    def prepare(batch: int) -> Step:
        # Timed inside the runner's own stream. Each batch shape is run once before timing (the
        # warm-up in `measure`), which TensorRT-RTX needs: it specialises kernels for a shape lazily.
        return _cuda_step(runner.infer_torch, _batch(batch, size), runner.input_dtype, stream=runner.stream)

    def close() -> None:
        runner.close()
        folder.cleanup()

    memory = getattr(runner.engine, "device_memory_size_v2", None)
    return Target("tensorrt", precision, "cuda", arch, size, prepare, close, engine_memory_bytes=memory)


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
        precision = "tf32" if meta.precision == "fp32" and sidecar.tf32 else meta.precision
        return tensorrt_target(meta.arch, precision, meta.input_size, plan=Path(artifact))
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

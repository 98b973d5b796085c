"""The engine runner on a real GPU: torch buffers, streams, chunking, padding, reuse, accuracy.

Skipped, with the reason, where there is no CUDA GPU, or where the plans built here cannot run on
this GPU (TensorRT-RTX builds for SM 8.0/8.6/8.9/12.0 and later: not Hopper's SM 9.0).

Tolerances say which arithmetic they test: `fp32` plans are built with --strict-fp32 (TF32 off),
so they match onnxruntime's float32 CPU reference to 1e-3; `tf32` plans (TensorRT's default) run
float32 layers with 10-bit mantissas, which moved ResNet-20's logits by up to 0.015 in emulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.backends import open_runner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import BatchRange
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.trt.builder import build_engine
from resnet_deploy.trt.runner import plan_problems
from tests.conftest import RESNET20_JPEG_TOP1

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: TensorRT plans are built here but not run"),
]


@pytest.fixture(scope="module")
def built(resnet20_weights: Path, cifar_train: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("gpu")
    fp32 = export_onnx("resnet20", weights=resnet20_weights, output=folder / "r20.onnx").path
    int8 = calibrate_int8(fp32, cifar_train, num_images=512, cache_dir=folder).path
    try:
        plans = {
            "onnx": fp32,
            "fp32": build_engine(fp32, strict_fp32=True, output=folder / "fp32.plan"),
            "tf32": build_engine(fp32, output=folder / "tf32.plan"),
            "fp16": build_engine(fp32, precision="fp16", output=folder / "fp16.plan"),
            "int8": build_engine(int8, output=folder / "int8.plan"),
            "small": build_engine(fp32, batch=BatchRange(1, 4, 8), strict_fp32=True, output=folder / "small.plan"),
            "padded": build_engine(fp32, batch=BatchRange(8, 32, 256), strict_fp32=True, output=folder / "pad.plan"),
        }
    except ArtifactError as exc:  # e.g. no TensorRT family installed that builds here
        pytest.skip(f"cannot build plans here: {exc}")
    problems = plan_problems(plans["fp32"].sidecar)
    if problems:  # e.g. only TensorRT-RTX installed, on a GPU it does not target
        pytest.skip(f"the plans built here cannot run on this GPU: {' and '.join(problems)}")
    return {name: value if name == "onnx" else value.plan for name, value in plans.items()}


def _batch(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3, 32, 32), dtype=np.float32)


@pytest.mark.parametrize(("precision", "atol"), [("fp32", 1e-3), ("tf32", 3e-2), ("fp16", 5e-2)])
def test_matches_onnxruntime(built: dict, precision: str, atol: float) -> None:
    with open_runner(built["onnx"]) as reference, open_runner(built[precision]) as engine:
        x = _batch(33)
        np.testing.assert_allclose(engine.infer(x), reference.infer(x), atol=atol, rtol=1e-2)


def test_batches_above_the_profile_are_split(built: dict) -> None:
    with open_runner(built["onnx"]) as reference, open_runner(built["small"]) as engine:
        assert engine.input.batch == BatchRange(1, 4, 8)
        x = _batch(20)
        np.testing.assert_allclose(engine.infer(x), reference.infer(x), atol=1e-3)


@pytest.mark.parametrize("count", [3, 8, 259])
def test_batches_below_the_profile_min_are_padded(built: dict, count: int) -> None:
    with open_runner(built["onnx"]) as reference, open_runner(built["padded"]) as engine:
        assert engine.input.batch == BatchRange(8, 32, 256)
        x = _batch(count)
        np.testing.assert_allclose(engine.infer(x), reference.infer(x), atol=1e-3)


def test_output_buffers_are_reused(built: dict) -> None:
    with open_runner(built["fp32"]) as engine:
        engine.infer(_batch(8))
        buffers = dict(engine._outputs)
        engine.infer(_batch(8))
        assert {k: v.data_ptr() for k, v in engine._outputs.items()} == {k: v.data_ptr() for k, v in buffers.items()}


def test_torch_stream_and_device_input(built: dict) -> None:
    with open_runner(built["fp32"]) as engine:
        assert engine.stream.cuda_stream != torch.cuda.default_stream().cuda_stream  # never the legacy stream
        x = torch.from_numpy(_batch(16)).cuda()
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            on_stream = engine.infer_torch(x)
        stream.synchronize()
        np.testing.assert_allclose(on_stream.cpu().numpy(), engine.infer(_batch(16)), atol=1e-4)


def test_int8_engine_accuracy(built: dict, cifar_test: Path) -> None:
    with open_runner(built["int8"]) as engine:
        report = evaluate(engine, cifar_test)
    assert abs(report.top1 - RESNET20_JPEG_TOP1) <= 0.005

"""The engine runner on a real GPU: torch buffers, streams, chunking, reuse, accuracy.

Skipped, with the reason, where no CUDA GPU or no TensorRT family that supports it exists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.backends import open_runner
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import BatchRange
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.trt.builder import build_engine
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
        return {
            "onnx": fp32,
            "fp32": build_engine(fp32, output=folder / "fp32.plan").plan,
            "fp16": build_engine(fp32, precision="fp16", output=folder / "fp16.plan").plan,
            "int8": build_engine(int8, output=folder / "int8.plan").plan,
            "small": build_engine(fp32, batch=BatchRange(1, 4, 8), output=folder / "small.plan").plan,
        }
    except Exception as exc:  # e.g. only TensorRT-RTX installed on a GPU it does not support
        pytest.skip(f"cannot build for this GPU: {exc}")


def _batch(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3, 32, 32), dtype=np.float32)


@pytest.mark.parametrize(("precision", "atol"), [("fp32", 1e-3), ("fp16", 5e-2)])
def test_matches_onnxruntime(built: dict, precision: str, atol: float) -> None:
    with open_runner(built["onnx"]) as reference, open_runner(built[precision]) as engine:
        x = _batch(33)
        np.testing.assert_allclose(engine.infer(x), reference.infer(x), atol=atol, rtol=1e-2)


def test_batches_above_the_profile_are_split(built: dict) -> None:
    with open_runner(built["onnx"]) as reference, open_runner(built["small"]) as engine:
        assert engine.input.batch == BatchRange(1, 4, 8)
        x = _batch(20)
        np.testing.assert_allclose(engine.infer(x), reference.infer(x), atol=1e-3)


def test_output_buffers_are_reused(built: dict) -> None:
    with open_runner(built["fp32"]) as engine:
        engine.infer(_batch(8))
        buffers = dict(engine._outputs)
        engine.infer(_batch(8))
        assert {k: v.data_ptr() for k, v in engine._outputs.items()} == {k: v.data_ptr() for k, v in buffers.items()}


def test_torch_stream_and_device_input(built: dict) -> None:
    with open_runner(built["fp32"]) as engine:
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

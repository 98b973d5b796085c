"""One conformance suite, run on every runner that can run here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.backends import Runner, open_runner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.export import export_onnx


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def onnx_path(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("c") / "r20.onnx").path


RUNNERS = [
    "torch-cpu",
    pytest.param("torch-cuda", marks=pytest.mark.skipif(not _cuda(), reason="no CUDA GPU on this machine")),
    "onnxruntime-cpu",
    pytest.param(
        "tensorrt",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not _cuda(), reason="no CUDA GPU: plans are built here but not run"),
        ],
    ),
]


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest, onnx_path: Path, resnet20_weights: Path) -> Runner:
    kind = request.param
    if kind.startswith("torch"):
        opened = open_runner("resnet20", weights=resnet20_weights, device=kind.split("-")[1])
    elif kind == "tensorrt":
        from resnet_deploy.trt.builder import build_engine

        opened = open_runner(build_engine(onnx_path, output=onnx_path.with_suffix(".plan")).plan)
    else:
        opened = open_runner(onnx_path)
    yield opened
    opened.close()


def _batch(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3, 32, 32), dtype=np.float32)


def test_input_metadata(runner: Runner) -> None:
    assert runner.input.name == "input" and runner.input.shape == (None, 3, 32, 32) and runner.input.dtype == "float32"
    assert runner.metadata is not None and runner.metadata.arch == "resnet20" and runner.metadata.num_classes == 10
    assert runner.metadata.weights_sha256.startswith("12fca82f")


@pytest.mark.parametrize("n", [1, 7, 64])
def test_infer_shapes_and_dtype(runner: Runner, n: int) -> None:
    logits = runner.infer(_batch(n))
    assert logits.shape == (n, 10) and logits.dtype == np.float32 and np.isfinite(logits).all()


def test_agrees_with_reference(runner: Runner, resnet20_weights: Path) -> None:
    with open_runner("resnet20", weights=resnet20_weights, device="cpu") as reference:
        expected = reference.infer(_batch(16))
    np.testing.assert_allclose(runner.infer(_batch(16)), expected, atol=1e-3)


def test_batch_independence(runner: Runner) -> None:
    x = _batch(8)
    np.testing.assert_allclose(runner.infer(x)[3:4], runner.infer(x[3:4]), atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 1, 32, 32), (3, 32, 32), (0, 3, 32, 32)])
def test_wrong_shape_is_rejected(runner: Runner, shape: tuple[int, ...]) -> None:
    with pytest.raises(ArtifactError, match="expects"):
        runner.infer(np.zeros(shape, np.float32))


def test_float64_input_is_converted(runner: Runner) -> None:
    x = _batch(2)
    np.testing.assert_allclose(runner.infer(x.astype(np.float64)), runner.infer(x), atol=1e-6)


def test_closed_runner_refuses(runner: Runner) -> None:
    runner.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner.infer(_batch(1))


def test_requested_provider_must_be_active(onnx_path: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA provider installed here")
    with pytest.raises(ArtifactError, match="not installed"):
        open_runner(onnx_path, providers=["CUDAExecutionProvider"])


def test_cuda_device_without_gpu_is_an_error() -> None:
    if _cuda():
        pytest.skip("a GPU is present")
    with pytest.raises(ArtifactError, match="no CUDA GPU"):
        open_runner("resnet20", device="cuda")

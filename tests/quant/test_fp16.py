"""FP16 ONNX: float32 I/O, fp16 inside; numerics verified as far as the CPU allows.

onnxruntime's CPU provider has no fp16 kernels for Conv/Gemm on x86 and inserts casts to
float32, so its run checks the fp16-rounded weights. PyTorch runs the same net with fp16
activations on the CPU, which checks fp16 arithmetic; both are compared with float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from resnet_deploy.backends import open_runner
from resnet_deploy.data.folders import image_folder
from resnet_deploy.data.loader import iter_batches
from resnet_deploy.errors import ArtifactError
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import read_metadata
from resnet_deploy.exporting.parity import LogitComparison, check_parity
from resnet_deploy.models.weights import load_model
from resnet_deploy.quant.fp16 import convert_fp16
from tests.conftest import RESNET20_JPEG_TOP1


@pytest.fixture(scope="module")
def fp16_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fp16")
    fp32 = export_onnx("resnet20", weights=resnet20_weights, output=folder / "r20.onnx").path
    return convert_fp16(fp32).path


def test_graph_is_fp16_inside_with_float32_io(fp16_onnx: Path) -> None:
    model = onnx.load(str(fp16_onnx))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    dtypes = {i.data_type for i in model.graph.initializer if i.name in conv_weights}
    assert dtypes == {onnx.TensorProto.FLOAT16}
    assert read_metadata(model).precision == "fp16"


def test_fp16_accuracy_and_parity(fp16_onnx: Path, resnet20_weights: Path, cifar_test: Path) -> None:
    with open_runner(fp16_onnx) as runner:
        report = evaluate(runner, cifar_test)
    assert abs(report.top1 - RESNET20_JPEG_TOP1) <= 0.003
    parity = check_parity(fp16_onnx, weights=resnet20_weights, images=cifar_test, num_images=500)
    assert parity.precision == "fp16" and parity.passed


def test_fp16_arithmetic_in_pytorch_agrees(fp16_onnx: Path, resnet20_weights: Path, cifar_test: Path) -> None:
    model, _ = load_model("resnet20", resnet20_weights)
    half = load_model("resnet20", resnet20_weights)[0].half()
    data = image_folder(cifar_test)
    paths = [p for p, _ in data.samples][::20]  # 500 images across all classes
    meta = read_metadata(onnx.load(str(fp16_onnx)))
    batch = next(iter_batches(paths, meta.preprocess, batch_size=len(paths)))
    with torch.inference_mode():
        fp32 = model(torch.from_numpy(batch.inputs)).numpy()
        fp16 = half(torch.from_numpy(batch.inputs).half()).float().numpy()
    with open_runner(fp16_onnx) as runner:
        onnx_fp16 = runner.infer(batch.inputs)
    torch_vs_fp32 = LogitComparison.of(fp32, fp16)
    onnx_vs_torch_half = LogitComparison.of(fp16, onnx_fp16)
    assert torch_vs_fp32.min_cosine > 0.9999 and torch_vs_fp32.top1_agreement >= 0.99
    assert onnx_vs_torch_half.min_cosine > 0.9999 and onnx_vs_torch_half.top1_agreement >= 0.99
    assert np.abs(fp32 - fp16).max() < 0.1


def test_refuses_fp16_and_int8_inputs(fp16_onnx: Path) -> None:
    with pytest.raises(ArtifactError, match="already FP16"):
        convert_fp16(fp16_onnx)

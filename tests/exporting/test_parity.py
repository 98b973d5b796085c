"""Parity and accuracy of the exported shared ResNet-20 on the real test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from resnet_deploy.backends import open_runner
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.parity import check_parity
from tests.conftest import RESNET20_JPEG_TOP1


@pytest.fixture(scope="module")
def resnet20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("onnx") / "r20.onnx").path


def test_onnxruntime_accuracy_equals_pytorch(resnet20_onnx: Path, resnet20_weights: Path, cifar_test: Path) -> None:
    with open_runner(resnet20_onnx) as runner:
        ort_report = evaluate(runner, cifar_test)
    with open_runner("resnet20", weights=resnet20_weights) as runner:
        torch_report = evaluate(runner, cifar_test)
    assert ort_report.images == torch_report.images == 10_000 and ort_report.errors == 0
    assert abs(ort_report.top1 - RESNET20_JPEG_TOP1) <= 0.001
    assert abs(ort_report.top1 - torch_report.top1) <= 0.001
    assert ort_report.top5 > ort_report.top1


def test_parity_on_all_test_images(resnet20_onnx: Path, resnet20_weights: Path, cifar_test: Path) -> None:
    report = check_parity(resnet20_onnx, weights=resnet20_weights, images=cifar_test, num_images=10_000, batch_size=500)
    assert report.images == 10_000 and report.inputs == "images"
    assert report.comparison.top1_agreement >= 0.999
    assert report.comparison.max_abs_diff < 1e-3
    assert report.passed


def test_resnet50_random_init_parity_at_224(tmp_path: Path) -> None:
    path = export_onnx("resnet50", output=tmp_path / "r50.onnx").path
    report = check_parity(path, num_images=8, batch_size=4)
    assert report.inputs == "random" and report.images == 8
    assert report.passed, report.to_dict()


def test_parity_fails_on_a_damaged_graph(resnet20_onnx: Path, resnet20_weights: Path, cifar_test: Path, tmp_path: Path):
    model = onnx.load(str(resnet20_onnx))
    fc = next(init for init in model.graph.initializer if init.dims == [10, 64])
    weight = numpy_helper.to_array(fc).copy()
    weight[0] += 0.05  # a small error, as a wrong BN fold would make
    fc.CopyFrom(numpy_helper.from_array(weight.astype(np.float32), fc.name))
    damaged = tmp_path / "damaged.onnx"
    onnx.save(model, str(damaged))
    report = check_parity(damaged, weights=resnet20_weights, images=cifar_test, num_images=200)
    assert not report.passed
    assert report.comparison.max_abs_diff > 1e-3

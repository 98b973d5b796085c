"""The main job on the embedded default model, end to end, on a small labelled folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from resnet_deploy.backends import open_runner
from resnet_deploy.demo import embedded_weights, run_demo
from resnet_deploy.evaluate import evaluate


def test_embedded_model_scores_its_card(cifar_test: Path) -> None:
    with open_runner(str(embedded_weights())) as runner:
        assert runner.metadata.arch == "resnet20" and runner.metadata.labels[0] == "airplane"
        report = evaluate(runner, cifar_test)
    assert report.top1 == pytest.approx(0.7369, abs=0.0005)  # MODEL_CARD.md


def test_demo_runs_every_step(cifar_test: Path, cifar_train: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    for name in ("cat", "ship", "truck"):
        (images / name).mkdir(parents=True)
        for path in sorted((cifar_test / name).iterdir())[:20]:
            shutil.copy(path, images / name / path.name)
    summary = run_demo(images, workdir=tmp_path / "demo", calibration_images=cifar_train)
    assert summary["check"]["passed"]
    assert summary["infer"]["images"] == 60 and summary["infer"]["errors"] == 0
    assert set(summary["accuracy"]) == {"onnx fp32", "onnx int8"}
    try:
        import tensorrt_rtx  # noqa: F401

        assert {p for p, plan in summary["build"].items() if "plan" in plan} == {"fp16", "int8"}
    except ImportError:
        pass
    assert any(row["status"] == "ok" for row in summary["bench"])

"""The main job on the embedded default model, end to end: on the full shared set where it exists,
on the packaged sample where it does not (a plain pip install, a fresh clone elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy import demo
from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.demo import embedded_weights
from resnet_deploy.evaluate import evaluate


def test_embedded_model_scores_its_card(cifar_test: Path) -> None:
    with open_runner(str(embedded_weights())) as runner:
        assert runner.metadata.arch == "resnet20" and runner.metadata.labels[0] == "airplane"
        report = evaluate(runner, cifar_test)
    assert report.top1 == pytest.approx(0.7369, abs=0.0005)  # MODEL_CARD.md


def test_demo_without_shared_data_runs_every_step_on_the_packaged_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "SHARED_IMAGES", tmp_path / "no-shared-here")
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"]["source"] == "the packaged CIFAR-10 sample" and summary["images"]["count"] == 200
    assert summary["check"]["passed"]
    assert summary["infer"]["images"] == 200 and summary["infer"]["errors"] == 0
    assert summary["accuracy"]["onnx fp32"] == {"top1": 0.735, "images": 200}  # tests/test_packaged_sample.py
    assert summary["accuracy"]["onnx int8"]["images"] == 200
    try:
        import tensorrt_rtx  # noqa: F401

        assert {p for p, plan in summary["build"].items() if "plan" in plan} == {"fp16", "int8"}
    except ImportError:
        pass
    assert any(row["status"] == "ok" for row in summary["bench"])


def test_demo_prefers_the_full_shared_set(cifar_test: Path, cifar_train: Path) -> None:
    chosen = demo.default_images()
    assert (chosen.test, chosen.calibration) == (cifar_test, cifar_train)
    assert chosen.source == "the shared CIFAR-10 test JPEGs"

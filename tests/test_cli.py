"""The CLI: fast start-up, JSON contracts, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from resnet_deploy.cli.app import app

runner = CliRunner()


def test_startup_does_not_import_torch() -> None:
    code = "import sys, resnet_deploy.cli.app; print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("resnet-deploy ")


def test_flops_json() -> None:
    result = runner.invoke(app, ["flops", "--arch", "resnet50", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["arch"] == "resnet50" and data["params"] == 25_557_032
    assert data["macs"] == 4_089_184_256 and data["flops"] == 2 * data["macs"] and data["input_size"] == 224


def test_flops_other_input_size() -> None:
    data = json.loads(runner.invoke(app, ["flops", "--arch", "resnet20", "--input-size", "64", "--json"]).output)
    assert data["input_size"] == 64 and data["params"] == 269_722


def test_models_json_lists_every_model() -> None:
    result = runner.invoke(app, ["models", "--json"])
    rows = json.loads(result.output)
    names = {row["name"] for row in rows}
    assert {"resnet152", "resnet50_v1", "plain34", "resnet1202", "preact_resnet1001"} <= names
    assert all({"name", "params", "macs"} <= set(row) for row in rows)


def test_unknown_arch_is_one_line_exit_1() -> None:
    result = runner.invoke(app, ["flops", "--arch", "resnet51"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown architecture 'resnet51'")
    assert "Traceback" not in result.output


def test_doctor_json() -> None:
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).output)
    assert {"torch", "onnxruntime", "tensorrt", "tensorrt_rtx", "verdict"} <= set(data)
    assert "CPUExecutionProvider" in data["onnxruntime"]["providers"]
    if not data["torch"]["cuda_available"] and data["tensorrt_rtx"]["installed"]:
        assert any("built with TensorRT-RTX but not run" in line for line in data["verdict"])

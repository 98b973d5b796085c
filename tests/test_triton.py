"""Triton model repository: every config.pbtxt parses with Triton's own model_config protobuf."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import BatchRange

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="tritonclient not installed")
text_format = pytest.importorskip("google.protobuf.text_format")
cli = CliRunner()


def _parse(path: Path):
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_onnx_models_repository(resnet20_weights: Path, tmp_path: Path) -> None:
    fp32 = export_onnx("resnet20", weights=resnet20_weights, batch=BatchRange(1, 64, 512), output=tmp_path / "r20.onnx")
    other = export_onnx("resnet50", input_size=64, output=tmp_path / "r50.onnx")
    repo = tmp_path / "repo"
    result = cli.invoke(app, ["triton-repo", str(fp32.path), str(other.path), "-o", str(repo), "--instances", "2"])
    assert result.exit_code == 0, result.output
    config = _parse(repo / "r20" / "config.pbtxt")
    assert config.name == "r20" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 512
    assert list(config.input[0].dims) == [3, 32, 32] and config.input[0].data_type == model_config_pb2.TYPE_FP32
    assert config.output[0].name == "logits" and list(config.output[0].dims) == [10]
    assert config.output[0].label_filename == "labels.txt"
    assert list(config.dynamic_batching.preferred_batch_size) == [64, 512]
    assert config.instance_group[0].count == 2
    assert (repo / "r20" / "1" / "model.onnx").read_bytes() == fp32.path.read_bytes()
    assert (repo / "r20" / "labels.txt").read_text().splitlines()[3] == "cat"
    assert len((repo / "r50" / "labels.txt").read_text().splitlines()) == 1000
    assert list(_parse(repo / "r50" / "config.pbtxt").input[0].dims) == [3, 64, 64]
    readme = (repo / "README.md").read_text()
    assert "perf_analyzer -m r20" in readme and "mean [0.485, 0.456, 0.406]" in readme


def test_max_batch_and_no_dynamic_batching(tmp_path: Path) -> None:
    model = export_onnx("resnet20", output=tmp_path / "m.onnx").path
    repo = tmp_path / "repo"
    assert cli.invoke(app, ["triton-repo", str(model), "-o", str(repo), "--max-batch", "8",
                            "--no-dynamic-batching"]).exit_code == 0  # fmt: skip
    config = _parse(repo / "m" / "config.pbtxt")
    assert config.max_batch_size == 8 and not config.HasField("dynamic_batching")
    too_big = cli.invoke(app, ["triton-repo", str(model), "-o", str(repo), "--max-batch", "5000"])
    assert too_big.exit_code == 1 and "between 1 and the model's batch maximum 1024" in too_big.output


def test_tensorrt_rtx_plans_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX not installed")
    from resnet_deploy.trt.builder import build_engine

    model = export_onnx("resnet20", output=tmp_path / "m.onnx").path
    plan = build_engine(model, runtime="tensorrt-rtx", output=tmp_path / "m.plan").plan
    result = cli.invoke(app, ["triton-repo", str(plan), "-o", str(tmp_path / "repo")])
    assert result.exit_code == 1 and "TensorRT-RTX plan" in result.output

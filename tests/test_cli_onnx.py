"""export / check / eval through the CLI: JSON contracts and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from typer.testing import CliRunner

from resnet_deploy.cli.app import app

runner = CliRunner()


def _one_line_error(result, pattern: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and pattern in lines[0], result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def r20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "r20.onnx"
    result = runner.invoke(app, ["export", "--arch", "resnet20", "--weights", str(resnet20_weights),
                                 "-o", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["path"] == str(out) and data["batch"] == "1:256:1024" and not data["random_init"]
    return out


def test_export_random_init_says_so_loudly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--arch", "resnet20", "--weights", "random", "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 0
    assert "RANDOM weights" in result.output


def test_check_json_passes(r20_onnx: Path, resnet20_weights: Path, cifar_test: Path) -> None:
    result = runner.invoke(app, ["check", str(r20_onnx), "--weights", str(resnet20_weights),
                                 "--images", str(cifar_test), "--num-images", "100", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"max_abs_diff", "mean_abs_diff", "min_cosine", "top1_agreement", "images", "passed"} <= set(data)
    assert data["passed"] is True and data["images"] == 100


def test_eval_json(r20_onnx: Path, cifar_test: Path) -> None:
    result = runner.invoke(app, ["eval", str(r20_onnx), "--images", str(cifar_test), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"top1", "top5", "images", "errors", "backend"} <= set(data)
    assert data["backend"] == "onnxruntime" and 0.80 <= data["top1"] <= 0.82 and data["images"] == 10_000


def test_eval_counts_unreadable_images(r20_onnx: Path, cifar_test: Path, tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for source in sorted((cifar_test / name).iterdir())[:5]:
            (tmp_path / name / source.name).write_bytes(source.read_bytes())
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = json.loads(runner.invoke(app, ["eval", str(r20_onnx), "--images", str(tmp_path), "--json"]).output)
    assert data["images"] == 10 and data["errors"] == 1
    assert "broken.jpg" in data["error_samples"][0]["path"]


def test_missing_file(tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["check", str(tmp_path / "nope.onnx")]), "not found")


def test_not_onnx(tmp_path: Path, cifar_test: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("this is not a protobuf")
    _one_line_error(runner.invoke(app, ["eval", str(bad), "--images", str(cifar_test)]), "is not an ONNX model")


def test_wrong_input_rank(tmp_path: Path, cifar_test: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["logits"])],
        "flat",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
    )
    path = tmp_path / "rank2.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    _one_line_error(runner.invoke(app, ["eval", str(path), "--images", str(cifar_test)]), "rank-2 input")


def test_images_folder_without_images(r20_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "notes.txt").write_text("no images here")
    _one_line_error(runner.invoke(app, ["eval", str(r20_onnx), "--images", str(tmp_path)]), "no images")


def test_class_folders_that_do_not_match(r20_onnx: Path, tmp_path: Path) -> None:
    for name in ("cat", "zebra"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (32, 32)).save(tmp_path / name / "a.png")
    result = runner.invoke(app, ["eval", str(r20_onnx), "--images", str(tmp_path)])
    _one_line_error(result, "['zebra'] are not labels of the model")
    assert "airplane" in result.output


def test_bad_batch_range() -> None:
    _one_line_error(runner.invoke(app, ["export", "--arch", "resnet20", "--batch", "8:1:4"]), "MIN <= OPT <= MAX")


def test_check_needs_the_source_weights(resnet20_weights: Path, tmp_path: Path) -> None:
    # A checkpoint that is not a published set (its bytes differ): check can't know it by itself.
    own = tmp_path / "own.pt"
    torch.save(torch.load(resnet20_weights, map_location="cpu", weights_only=True), own)
    onnx_path = tmp_path / "own.onnx"
    exported = runner.invoke(app, ["export", "--arch", "resnet20", "--weights", str(own), "-o", str(onnx_path)])
    assert exported.exit_code == 0, exported.output
    _one_line_error(runner.invoke(app, ["check", str(onnx_path)]), "pass the same file with --weights")


def test_calibrate_and_fp16_json(r20_onnx: Path, cifar_train: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(r20_onnx), "--images", str(cifar_train), "--num-images", "32",
                                 "--cache-dir", str(tmp_path), "-o", str(tmp_path / "q.onnx"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)  # stdout is pure JSON: onnxruntime's progress prints are kept out
    assert data["images"] == 32 and data["method"] == "percentile" and not data["cache_hit"]
    again = runner.invoke(app, ["calibrate", str(tmp_path / "q.onnx"), "--images", str(cifar_train)])
    _one_line_error(again, "already quantized")
    half = runner.invoke(app, ["fp16", str(r20_onnx), "-o", str(tmp_path / "h.onnx"), "--json"])
    assert half.exit_code == 0 and json.loads(half.output)["fp16_initializers"] > 0


def test_calibrate_too_few_images(r20_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "x" / "a.png")
    result = runner.invoke(app, ["calibrate", str(r20_onnx), "--images", str(tmp_path / "x")])
    _one_line_error(result, "calibration needs 512 images")


def test_export_fp16_precision(tmp_path: Path) -> None:
    out = tmp_path / "m16.onnx"
    result = runner.invoke(app, ["export", "--arch", "resnet20", "--weights", "random", "--precision", "fp16",
                                 "-o", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["precision"] == "fp16"  # the random-init warning went to stderr
    model = onnx.load(str(out))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    _one_line_error(runner.invoke(app, ["export", "--arch", "resnet20", "--precision", "int8"]), "use `calibrate`")

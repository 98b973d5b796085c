"""`optimize` on the shared ResNet-20: the choice, its accuracy against `eval`, sensitivity names, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import read_metadata
from resnet_deploy.machine import cuda_gpu
from resnet_deploy.models import create_model
from resnet_deploy.optimize.search import optimize
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.quant.graph import module_path
from tests.conftest import RESNET20_JPEG_TOP1

runner = CliRunner()


@pytest.fixture(scope="module")
def r20_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("opt") / "r20.onnx").path


@pytest.fixture(scope="module")
def calib_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One histogram pass over the calibration images serves every candidate of every test here."""
    return tmp_path_factory.mktemp("calib")


@pytest.fixture(scope="module")
def cpu_report(r20_onnx: Path, cifar_train: Path, cifar_test: Path, calib_cache: Path,
               tmp_path_factory: pytest.TempPathFactory) -> dict:  # fmt: skip
    """The issue's run: all 10,000 test images as --eval, sensitivity on 1,000 of them."""
    out = tmp_path_factory.mktemp("optimized")
    return optimize(r20_onnx, cifar_train, cifar_test, budget=0.5, target="onnxruntime-cpu", output_dir=out,
                    sensitivity_images=1000, cache_dir=calib_cache, speed_seconds=0.5)  # fmt: skip


def _small_eval(source: Path, target: Path, per_class: int, classes: dict[str, str] | None = None) -> Path:
    """An ImageFolder of symlinks to the first `per_class` images of each class (renamed per `classes`)."""
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        name = (classes or {}).get(folder.name, folder.name)
        (target / name).mkdir(parents=True, exist_ok=True)
        for image in sorted(folder.iterdir())[:per_class]:
            (target / name / image.name).symlink_to(image)
    return target


@pytest.mark.slow
def test_half_point_budget_picks_int8_and_eval_agrees(cpu_report: dict, cifar_test: Path) -> None:
    fp32, chosen = cpu_report["candidates"][0], cpu_report["chosen"]
    assert fp32["name"] == "fp32" and fp32["correct"] == round(RESNET20_JPEG_TOP1 * 10_000)
    assert chosen["precision"] == "int8" and chosen["images"] == 10_000 and chosen["within_budget"]
    assert abs(chosen["top1"] - RESNET20_JPEG_TOP1) <= 0.005
    artifact = Path(cpu_report["artifact"])
    with open_runner(artifact) as model:
        report = evaluate(model, cifar_test)
    assert report.top1 == chosen["top1"] and report.images == 10_000  # the same figure, image for image
    meta = read_metadata(onnx.load(str(artifact)))
    assert meta.precision == "int8" and meta.extra["quantization_target"] == "onnxruntime-cpu"
    assert {c["method"] for c in cpu_report["candidates"]} >= {"entropy", "percentile", "minmax"}
    assert all(c["images_per_s"] for c in cpu_report["candidates"])  # measured here, on this CPU


@pytest.mark.slow
def test_sensitivity_names_modules_of_the_model(cpu_report: dict) -> None:
    modules = dict(create_model("resnet20").named_modules())
    layers = cpu_report["sensitivity"]["layers"]
    quantizable = {name for name, m in modules.items() if type(m).__name__ in ("Conv2d", "Linear")}
    assert {layer["module"] for layer in layers} == quantizable and len(layers) == 20
    assert all(module_path(layer["node"]) == layer["module"] for layer in layers)
    assert cpu_report["sensitivity"]["images"] == 1000


@pytest.mark.slow
def test_report_files(cpu_report: dict) -> None:
    files = cpu_report["files"]
    assert json.loads(Path(files["json"]).read_text()) == cpu_report
    text = Path(files["markdown"]).read_text()
    assert f"| {cpu_report['chosen']['name']} (chosen) |" in text and "`layer1.0.conv1`" in text
    assert Path(files["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_module_paths_from_exporter_names() -> None:
    assert module_path("/layer3/layer3.2/conv2/Conv") == "layer3.2.conv2"
    assert module_path("/layer1/layer1.0/downsample/downsample.0/Conv") == "layer1.0.downsample.0"
    assert module_path("/fc/Gemm") == "fc" and module_path("/conv1/Conv") == "conv1"
    assert module_path("node_Conv_12") is None and module_path("/Flatten") is None


def test_zero_budget_never_picks_a_lossy_candidate(r20_onnx: Path, cifar_train: Path, cifar_test: Path,
                                                   calib_cache: Path, tmp_path: Path) -> None:  # fmt: skip
    images = _small_eval(cifar_test, tmp_path / "eval", per_class=20)
    args = ["optimize", str(r20_onnx), "--calib", str(cifar_train), "--eval", str(images), "--budget", "0",
            "--target", "onnxruntime-cpu", "--output-dir", str(tmp_path / "out"), "--cache-dir", str(calib_cache),
            "--sensitivity-images", "0", "--speed-seconds", "0.3", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    fp32 = report["candidates"][0]
    assert fp32["images"] == 200 and report["chosen"]["correct"] >= fp32["correct"]
    for candidate in report["candidates"]:
        assert candidate["within_budget"] == (candidate["correct"] >= fp32["correct"]), candidate
    assert Path(report["artifact"]).is_file()


def _one_line_error(args: list[str], pattern: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and pattern in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("negative budget", "--budget -1.0 must be 0 or more"),
        ("unknown target", "--target 'openvino' is not one of onnxruntime-cpu, tensorrt, tensorrt-rtx"),
        ("eval classes not the model's", "class folders ['zebra'] are not labels of the model"),
        ("too few eval images", "has 50 images; accuracy budgets need at least 100"),
        ("too few calibration images", "calibration needs 512 images but"),
        ("already quantized", "is already quantized"),
    ],
)
def test_bad_input_is_one_line(case: str, pattern: str, r20_onnx: Path, cifar_train: Path, cifar_test: Path,
                               tmp_path: Path) -> None:  # fmt: skip
    model, calib, budget, target = r20_onnx, cifar_train, "0.5", "onnxruntime-cpu"
    images = tmp_path / "eval"
    if case == "eval classes not the model's":
        _small_eval(cifar_test, images, per_class=12, classes={"horse": "zebra"})
    else:
        _small_eval(cifar_test, images, per_class=5 if case == "too few eval images" else 12)
    if case == "negative budget":
        budget = "-1"
    if case == "unknown target":
        target = "openvino"
    if case == "too few calibration images":
        calib = _small_eval(cifar_train, tmp_path / "calib", per_class=1)
    if case == "already quantized":
        cat = cifar_train / "cat"
        model = calibrate_int8(r20_onnx, cat, num_images=16, cache_dir=tmp_path / "c", output=tmp_path / "q.onnx").path
    args = ["optimize", str(model), "--calib", str(calib), "--eval", str(images), "--budget", budget,
            "--target", target, "--output-dir", str(tmp_path / "out")]  # fmt: skip
    _one_line_error(args, pattern)
    assert not (tmp_path / "out").exists()  # nothing written


def test_tensorrt_target_without_gpu_ranks_by_precision(r20_onnx: Path, cifar_train: Path, cifar_test: Path,
                                                        calib_cache: Path, tmp_path: Path) -> None:  # fmt: skip
    images = _small_eval(cifar_test, tmp_path / "eval", per_class=10)
    report = optimize(r20_onnx, cifar_train, images, budget=2.0, target="tensorrt", output_dir=tmp_path / "out",
                      sensitivity_images=0, cache_dir=calib_cache, speed_seconds=0.3)  # fmt: skip
    names = [c["name"] for c in report["candidates"]]
    assert names[:5] == ["fp32", "fp16", "int8 entropy", "int8 percentile", "int8 minmax"]
    assert "TensorRT's own kernels are not run here" in report["accuracy_backend"]
    if not cuda_gpu():
        assert report["speed"].startswith("unmeasured") and not any(c["images_per_s"] for c in report["candidates"])
        within = [c for c in report["candidates"] if c["within_budget"] and c["precision"] == "int8"]
        if within:  # precision decides: an all-INT8 candidate (fewest float layers), the most accurate one
            best = min(within, key=lambda c: (len(c["float_layers"]), -c["correct"]))
            assert report["chosen"]["name"] == best["name"]
    meta = read_metadata(onnx.load(report["artifact"]))
    if meta.precision == "int8":
        assert meta.extra["quantization_target"] == "tensorrt"

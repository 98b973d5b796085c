"""INT8 calibration on real images: accuracy bounds, TensorRT's Q/DQ rules, the CPU flavour, cache, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image
from typer.testing import CliRunner

from resnet_deploy.backends import open_runner
from resnet_deploy.cli.app import app
from resnet_deploy.errors import ArtifactError, ImageDataError
from resnet_deploy.evaluate import evaluate
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import read_metadata
from resnet_deploy.quant import calibrate as calibrate_module
from resnet_deploy.quant.calibrate import DEFAULT_METHOD, calibrate_int8
from tests.conftest import RESNET20_JPEG_TOP1


@pytest.fixture(scope="module")
def fp32_onnx(resnet20_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx("resnet20", weights=resnet20_weights, output=tmp_path_factory.mktemp("q") / "r20.onnx").path


@pytest.fixture(scope="module")
def calib_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One histogram pass over the 512 images serves every method and target in this module."""
    return tmp_path_factory.mktemp("calib")


@pytest.fixture(scope="module")
def int8_onnx(fp32_onnx: Path, cifar_train: Path, calib_cache: Path) -> Path:
    return calibrate_int8(fp32_onnx, cifar_train, num_images=512, cache_dir=calib_cache).path


@pytest.fixture(scope="module")
def cpu_int8_onnx(fp32_onnx: Path, cifar_train: Path, calib_cache: Path) -> Path:
    return calibrate_int8(fp32_onnx, cifar_train, num_images=512, cache_dir=calib_cache, target="onnxruntime-cpu").path


def _top1(model: Path, images: Path) -> float:
    with open_runner(model) as runner:
        report = evaluate(runner, images)
    assert report.images == 10_000
    return report.top1


def test_default_method_within_half_a_point_of_fp32(int8_onnx: Path, cifar_test: Path) -> None:
    top1 = _top1(int8_onnx, cifar_test)
    assert abs(top1 - RESNET20_JPEG_TOP1) <= 0.005, f"{DEFAULT_METHOD}: top-1 {top1:.4f}"


def test_entropy_within_half_a_point_of_fp32(fp32_onnx: Path, int8_onnx: Path, cifar_train: Path, calib_cache: Path,
                                             cifar_test: Path, tmp_path: Path) -> None:  # fmt: skip
    # onnxruntime's own entropy calibrator scored 76.02% here; TensorRT's algorithm keeps the accuracy.
    out = tmp_path / "e.onnx"
    entropy = calibrate_int8(fp32_onnx, cifar_train, method="entropy", cache_dir=calib_cache, output=out)
    assert entropy.cache_hit  # the histograms of the default method's pass (int8_onnx) serve entropy too
    top1 = _top1(entropy.path, cifar_test)
    assert abs(top1 - RESNET20_JPEG_TOP1) <= 0.005, f"entropy: top-1 {top1:.4f}"


def test_cpu_flavour_within_half_a_point_of_fp32(cpu_int8_onnx: Path, cifar_test: Path) -> None:
    top1 = _top1(cpu_int8_onnx, cifar_test)
    assert abs(top1 - RESNET20_JPEG_TOP1) <= 0.005, f"onnxruntime-cpu: top-1 {top1:.4f}"


def test_cpu_flavour_fuses_every_conv_to_int8(cpu_int8_onnx: Path, tmp_path: Path) -> None:
    meta = read_metadata(onnx.load(str(cpu_int8_onnx)))
    assert meta.extra["quantization_target"] == "onnxruntime-cpu" and meta.precision == "int8"
    assert meta.extra["activation_type"] == "uint8" and meta.extra["weight_type"] == "int8"
    assert cpu_int8_onnx.name == "r20_int8_cpu.onnx"
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "fused.onnx")
    ort.InferenceSession(str(cpu_int8_onnx), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(str(tmp_path / "fused.onnx")).graph.node]
    # onnxruntime's QDQ transformer fused every conv, residual add and the fc: int8 from end to end
    assert ops.count("QLinearConv") == 19 and ops.count("QLinearAdd") == 9 and "QGemm" in ops, ops
    assert "Conv" not in ops and ops.count("DequantizeLinear") <= 2, ops


def test_build_refuses_the_cpu_flavour(cpu_int8_onnx: Path) -> None:
    result = CliRunner().invoke(app, ["build", str(cpu_int8_onnx)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "laid out for onnxruntime-cpu" in errors[0] and "--target tensorrt" in result.output


def test_metadata_carried_over(int8_onnx: Path) -> None:
    meta = read_metadata(onnx.load(str(int8_onnx)))
    assert meta.precision == "int8" and meta.arch == "resnet20" and meta.labels[0] == "airplane"
    assert meta.extra["calibration_method"] == DEFAULT_METHOD
    assert meta.extra["calibration_images"] == "512" and len(meta.extra["calibration_fingerprint"]) == 64
    assert meta.extra["quantization_target"] == "tensorrt" and meta.extra["activation_type"] == "int8"


def test_graph_follows_tensorrt_qdq_rules(int8_onnx: Path) -> None:
    model = onnx.load(str(int8_onnx))
    graph = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zero_point = inits[node.input[2]]
            assert zero_point.dtype == np.int8 and not zero_point.any(), node.name  # symmetric int8
    dq_inputs = [n for n in graph.node if n.op_type == "DequantizeLinear"]
    assert all(inits.get(n.input[0], np.zeros(1, np.int8)).dtype != np.int32 for n in dq_inputs)  # no int32 bias
    for conv in (n for n in graph.node if n.op_type in ("Conv", "Gemm")):
        weight_dq = producer[conv.input[1]]
        assert weight_dq.op_type == "DequantizeLinear"
        scales = inits[weight_dq.input[1]]
        out_channels = inits[weight_dq.input[0]].shape[0]
        assert inits[weight_dq.input[0]].dtype == np.int8 and scales.shape == (out_channels,)  # per channel
        assert producer[conv.input[0]].op_type == "DequantizeLinear"  # activation input quantized
        if len(conv.input) > 2:
            assert conv.input[2] in inits and inits[conv.input[2]].dtype == np.float32  # float bias
    adds = [n for n in graph.node if n.op_type == "Add"]
    assert len(adds) == 9
    for add in adds:
        kinds = sorted(producer[name].op_type for name in add.input)
        assert kinds == ["Conv", "DequantizeLinear"], (add.name, kinds)  # residual quantized, conv fuses
    outputs = {o.name for o in graph.output}
    assert all(producer[o].op_type == "Gemm" for o in outputs)  # logits stay float


def test_rerun_uses_the_cache_without_reading_images(
    fp32_onnx: Path, cifar_train: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = calibrate_int8(fp32_onnx, cifar_train, num_images=64, cache_dir=tmp_path, output=tmp_path / "a.onnx")
    assert not first.cache_hit and first.cache.is_file()

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("images were decoded on a cache hit")

    monkeypatch.setattr(calibrate_module, "decode_image", no_decoding)
    second = calibrate_int8(fp32_onnx, cifar_train, num_images=64, cache_dir=tmp_path, output=tmp_path / "b.onnx")
    assert second.cache_hit and second.cache == first.cache
    assert onnx.load(str(first.path)) == onnx.load(str(second.path))
    # Another method or target derives its ranges from the same cached histograms: no image is read.
    other = calibrate_int8(fp32_onnx, cifar_train, num_images=64, method="entropy", cache_dir=tmp_path,
                           target="onnxruntime-cpu", output=tmp_path / "c.onnx")  # fmt: skip
    assert other.cache_hit and other.cache != first.cache and other.histograms == first.histograms
    with pytest.raises(AssertionError, match="decoded"):  # other images are another cache entry
        calibrate_int8(fp32_onnx, cifar_train / "cat", num_images=64, cache_dir=tmp_path)


def _copy_images(source: Path, target: Path, count: int) -> None:
    target.mkdir(parents=True)
    for path in sorted(source.iterdir())[:count]:
        shutil.copy(path, target / path.name)


def test_corrupt_files_are_skipped_and_counted(fp32_onnx: Path, cifar_train: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _copy_images(cifar_train / "ship", folder, 37)
    # Named to sort first, so the evenly spread selection meets all three.
    (folder / "-zero.jpg").write_bytes(b"")
    (folder / "-text.png").write_text("not an image")
    (folder / "-cut.jpg").write_bytes((cifar_train / "ship" / "0000.jpg").read_bytes()[:100])
    result = calibrate_int8(fp32_onnx, folder, num_images=37, cache_dir=tmp_path / "c")
    assert result.images == 37 and result.corrupt == 3  # 37 is prime: also checks uneven batching


def test_wrong_size_and_channel_count_are_converted_and_reported(fp32_onnx: Path, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (32, 32), np.uint8), "L").save(folder / f"gray{i}.png")
        Image.fromarray(rng.integers(0, 255, (48, 64, 4), np.uint8), "RGBA").save(folder / f"rgba{i}.png")
    result = calibrate_int8(fp32_onnx, folder, num_images=16, cache_dir=tmp_path / "c")
    assert result.images == 16 and result.resized == 8 and result.converted == {"L": 8, "RGBA": 8}


def test_too_few_images(fp32_onnx: Path, cifar_train: Path, tmp_path: Path) -> None:
    _copy_images(cifar_train / "cat", tmp_path / "few", 10)
    with pytest.raises(ImageDataError, match="needs 512 images but .* has 10 usable.*--num-images 10"):
        calibrate_int8(fp32_onnx, tmp_path / "few", cache_dir=tmp_path / "c")


def test_already_quantized(int8_onnx: Path, cifar_train: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="already quantized"):
        calibrate_int8(int8_onnx, cifar_train, cache_dir=tmp_path)


def test_unknown_method_and_target(fp32_onnx: Path, cifar_train: Path) -> None:
    with pytest.raises(ArtifactError, match="--method 'kl'"):
        calibrate_int8(fp32_onnx, cifar_train, method="kl")
    with pytest.raises(ArtifactError, match="--target 'openvino' is not one of tensorrt, onnxruntime-cpu"):
        calibrate_int8(fp32_onnx, cifar_train, target="openvino")

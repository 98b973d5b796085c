"""Real TensorRT-RTX builds on the CPU: fp32, fp16 and int8 plans of the shared ResNet-20."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import BatchRange, write_metadata
from resnet_deploy.exporting.metadata import read_metadata as read_onnx_metadata
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.quant.fp16 import convert_fp16
from resnet_deploy.trt.builder import build_engine
from resnet_deploy.trt.inspect import inspect_plan
from resnet_deploy.trt.runner import load_checked_plan
from resnet_deploy.trt.sidecar import EngineSidecar, sidecar_path

trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed (pip install '.[rtx]')")
cli = CliRunner()


@pytest.fixture(scope="module")
def onnx_files(resnet20_weights: Path, cifar_train: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("rtx")
    fp32 = export_onnx("resnet20", weights=resnet20_weights, output=folder / "resnet20.onnx").path
    return {
        "fp32": fp32,
        "fp16": convert_fp16(fp32).path,
        "int8": calibrate_int8(fp32, cifar_train, num_images=128, cache_dir=folder).path,
    }


@pytest.fixture(scope="module")
def plans(onnx_files: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("plans")
    return {
        p: build_engine(path, runtime="tensorrt-rtx", output=folder / f"r20_{p}.plan") for p, path in onnx_files.items()
    }


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_sidecar_describes_the_plan(plans: dict, onnx_files: dict, precision: str) -> None:
    result = plans[precision]
    sidecar = EngineSidecar.read(sidecar_path(result.plan))
    assert sidecar == result.sidecar
    assert sidecar.plan_sha256 == hashlib.sha256(result.plan.read_bytes()).hexdigest()
    assert sidecar.plan_bytes == result.plan.stat().st_size > 100_000
    assert sidecar.onnx_sha256 == hashlib.sha256(onnx_files[precision].read_bytes()).hexdigest()
    assert sidecar.runtime == "tensorrt_rtx" and sidecar.runtime_version == trt.__version__
    assert sidecar.strongly_typed and sidecar.precision == precision
    assert sidecar.aot_targets == ["SM80", "SM86", "SM89", "SM120"] and sidecar.compute_capability is None
    assert sidecar.profile == {"min": [1, 3, 32, 32], "opt": [256, 3, 32, 32], "max": [1024, 3, 32, 32]}
    assert sidecar.inputs == [{"name": "input", "dtype": "FLOAT", "shape": [-1, 3, 32, 32]}]
    assert sidecar.outputs == [{"name": "logits", "dtype": "FLOAT", "shape": [-1, 10]}]
    meta = sidecar.metadata
    assert meta.arch == "resnet20" and meta.labels[0] == "airplane" and meta.precision == precision
    assert meta.preprocess.input_size == 32
    assert meta.weight_set["name"] == "cifar10" and meta.weight_set["sha256"] == meta.weights_sha256  # the set's record
    dtypes = {layer["dtype"] for layer in sidecar.layers}
    kinds = {layer["type"] for layer in sidecar.layers}
    expected = {"fp32": "FLOAT", "fp16": "HALF", "int8": "INT8"}[precision]
    assert expected in dtypes
    if precision == "int8":
        assert {"QUANTIZE", "DEQUANTIZE"} <= kinds


def test_fp16_from_a_float32_onnx_converts_first(onnx_files: dict, tmp_path: Path) -> None:
    result = build_engine(onnx_files["fp32"], precision="fp16", runtime="tensorrt-rtx", output=tmp_path / "c.plan")
    assert result.converted_from == onnx_files["fp32"] and result.sidecar.precision == "fp16"
    assert "HALF" in {layer["dtype"] for layer in result.sidecar.layers}


def test_default_output_name(onnx_files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = build_engine(onnx_files["int8"], runtime="tensorrt-rtx")
    assert result.plan == Path("engines/resnet20_int8.plan") and Path("engines/resnet20_int8.json").is_file()


def test_rebuild_with_a_timing_cache_path(onnx_files: dict, tmp_path: Path) -> None:
    cache = tmp_path / "timing.cache"
    first = build_engine(onnx_files["fp32"], runtime="tensorrt-rtx", timing_cache=cache, output=tmp_path / "a.plan")
    second = build_engine(onnx_files["fp32"], runtime="tensorrt-rtx", timing_cache=cache, output=tmp_path / "a.plan")
    # TensorRT-RTX has no timing cache (a deprecated no-op): the path is accepted and not written.
    assert first.timing_cache is None and second.timing_cache is None and not cache.exists()
    assert second.sidecar.plan_bytes == first.sidecar.plan_bytes


def test_custom_batch_profile(onnx_files: dict, tmp_path: Path) -> None:
    result = build_engine(
        onnx_files["fp16"], batch=BatchRange(2, 8, 16), runtime="tensorrt-rtx", output=tmp_path / "b.plan"
    )
    assert result.sidecar.profile["max"] == [16, 3, 32, 32]
    assert result.sidecar.metadata.batch == BatchRange(2, 8, 16)


def test_corrupted_plan_is_refused(plans: dict, tmp_path: Path) -> None:
    plan = tmp_path / "corrupt.plan"
    data = bytearray(plans["fp32"].plan.read_bytes())
    data[len(data) // 2] ^= 0xFF
    plan.write_bytes(bytes(data))
    sidecar_path(plan).write_text(sidecar_path(plans["fp32"].plan).read_text())
    with pytest.raises(ArtifactError, match="corrupted or was replaced; rebuild it: resnet-deploy build"):
        load_checked_plan(plan)


def test_mismatched_sidecar_is_refused(plans: dict, tmp_path: Path) -> None:
    plan = tmp_path / "old.plan"
    plan.write_bytes(plans["fp16"].plan.read_bytes())
    data = json.loads(sidecar_path(plans["fp16"].plan).read_text())
    data["runtime_version"] = "1.0.0.1"
    sidecar_path(plan).write_text(json.dumps(data))
    with pytest.raises(ArtifactError) as info:
        load_checked_plan(plan)
    message = str(info.value)
    assert "was built for TensorRT-RTX 1.0.0.1 on targets SM80" in message
    assert f"TensorRT-RTX {trt.__version__} is installed" in message
    assert "rebuild it on this machine: resnet-deploy build" in message and "--precision fp16" in message


def test_plan_without_sidecar_needs_the_override(plans: dict, tmp_path: Path) -> None:
    plan = tmp_path / "lonely.plan"
    plan.write_bytes(plans["fp32"].plan.read_bytes())
    with pytest.raises(ArtifactError, match="--no-sidecar-check"):
        load_checked_plan(plan)
    data, sidecar = load_checked_plan(plan, check_sidecar=False)
    assert sidecar is None and len(data) == plan.stat().st_size


def test_unparseable_onnx(onnx_files: dict, tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("NoSuchOp", ["input"], ["logits"], domain="example.custom")],
        "custom",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)]
    )
    write_metadata(model, read_onnx_metadata(onnx.load(str(onnx_files["fp32"]))))
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ArtifactError, match="TensorRT-RTX .* cannot parse"):
        build_engine(path, runtime="tensorrt-rtx", output=tmp_path / "x.plan")
    assert not (tmp_path / "x.plan").exists()


def test_inspect_uses_the_build_record_without_a_gpu(plans: dict) -> None:
    info = inspect_plan(plans["int8"].plan)
    assert info["precision"] == "int8" and info["arch"] == "resnet20"
    assert len(info["layers"]) == len(plans["int8"].sidecar.layers) > 50
    import torch

    if not torch.cuda.is_available():
        assert info["layers_source"].startswith("build record")


def _one_line_error(result, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and pattern in errors[0], result.output


def test_cli_build_json_and_errors(onnx_files: dict, tmp_path: Path) -> None:
    out = tmp_path / "cli.plan"
    result = cli.invoke(app, ["build", str(onnx_files["int8"]), "--runtime", "tensorrt-rtx", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["precision"] == "int8" and data["plan"] == str(out) and len(data["plan_sha256"]) == 64
    inspected = json.loads(cli.invoke(app, ["inspect", str(out), "--json"]).stdout)
    assert inspected["plan_sha256"] == data["plan_sha256"]
    for bad in ("8:1:4", "0:1:2"):
        _one_line_error(cli.invoke(app, ["build", str(onnx_files["fp32"]), "--batch", bad]), f"--batch {bad}")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        _one_line_error(
            cli.invoke(app, ["build", str(onnx_files["fp32"]), "--runtime", "tensorrt"]),
            "--runtime tensorrt is not installed here",
        )
    _one_line_error(cli.invoke(app, ["build", str(onnx_files["fp32"]), "--precision", "int8"]), "calibrate it first")
    import torch

    if not torch.cuda.is_available():
        _one_line_error(cli.invoke(app, ["eval", str(out), "--images", str(tmp_path)]), "no CUDA GPU here")


def test_cli_inspect_shows_the_whole_hash_and_says_what_it_leaves_out(plans: dict) -> None:
    plan = plans["int8"]
    layers = plan.sidecar.layers
    assert len(layers) > 60
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["inspect", str(plan.plan)])
    assert result.exit_code == 0, result.output
    assert f"plan_sha256 {plan.sidecar.plan_sha256}" in result.stdout
    assert f"showing 60 of {len(layers)} layers; --all or --json for all" in result.stdout
    wide = CliRunner(env={"COLUMNS": "1000"}).invoke(app, ["inspect", str(plan.plan), "--all"])
    assert wide.exit_code == 0 and "showing" not in wide.stdout
    assert all(layer["name"] in wide.stdout for layer in layers)

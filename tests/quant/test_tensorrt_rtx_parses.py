"""TensorRT acceptance of the INT8 and FP16 ONNX: TensorRT-RTX parses and builds them on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.quant.fp16 import convert_fp16

trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed (pip install '.[rtx]')")


def _parse_and_build(path: Path) -> tuple[list[str], int]:
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(path)), [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 32, 32), (8, 3, 32, 32), (64, 3, 32, 32))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None
    layer_types = [str(network.get_layer(i).type) for i in range(network.num_layers)]
    return layer_types, plan.nbytes


def test_int8_and_fp16_parse_and_build(resnet20_weights: Path, cifar_train: Path, tmp_path: Path) -> None:
    fp32 = export_onnx("resnet20", weights=resnet20_weights, output=tmp_path / "r20.onnx").path
    int8 = calibrate_int8(fp32, cifar_train, num_images=64, cache_dir=tmp_path).path
    fp16 = convert_fp16(fp32).path
    int8_layers, int8_bytes = _parse_and_build(int8)
    assert any("QUANTIZE" in t for t in int8_layers) and any("DEQUANTIZE" in t for t in int8_layers)
    fp16_layers, fp16_bytes = _parse_and_build(fp16)
    assert any("CAST" in t for t in fp16_layers)
    assert int8_bytes > 0 and fp16_bytes > 0

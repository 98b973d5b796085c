"""The family/version decisions and sidecar rules, tested without TensorRT installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.errors import ArtifactError
from resnet_deploy.trt.adapter import RTX_DEFAULT_TARGETS, TrtFamily
from resnet_deploy.trt.builder import default_timing_cache, resolve_precision
from resnet_deploy.trt.sidecar import NO_GPU, EngineSidecar, compatibility_problems


@pytest.mark.parametrize(
    ("module", "version", "strong", "fp16_flags", "int8_flags"),
    [
        ("tensorrt", "10.3.0.26", False, ["FP16"], ["INT8", "FP16"]),
        ("tensorrt", "10.11.0", False, ["FP16"], ["INT8", "FP16"]),
        ("tensorrt", "10.12.0.36", True, [], []),
        ("tensorrt", "11.0.0", True, [], []),
        ("tensorrt_rtx", "1.7.1.116", True, [], []),
    ],
)
def test_network_and_flags_per_version(module, version, strong, fp16_flags, int8_flags) -> None:
    family = TrtFamily(module, version)
    assert family.strongly_typed is strong
    assert family.legacy_precision_flags("fp16") == fp16_flags
    assert family.legacy_precision_flags("int8") == int8_flags
    assert family.legacy_precision_flags("fp32") == []


def test_timing_cache_is_tensorrt_only_and_per_gpu(tmp_path: Path) -> None:
    trt10, rtx = TrtFamily("tensorrt", "10.13.0"), TrtFamily("tensorrt_rtx", "1.7.1")
    assert trt10.has_timing_cache and not rtx.has_timing_cache
    assert rtx.builds_without_gpu and not trt10.builds_without_gpu
    path = default_timing_cache(trt10, ("NVIDIA H100 80GB HBM3", "9.0"), tmp_path)
    assert path == tmp_path / "timing" / "nvidia-h100-80gb-hbm3-sm90-trt10.13.0.cache"
    assert default_timing_cache(rtx, ("NVIDIA GeForce RTX 4090", "8.9"), tmp_path) is None
    assert default_timing_cache(trt10, None, tmp_path) is None


def test_precision_resolution(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    assert resolve_precision("auto", "int8", model) == "int8"
    assert resolve_precision("fp16", "fp32", model) == "fp16"  # converted before building
    assert resolve_precision("fp32", "fp32", model) == "fp32"
    with pytest.raises(ArtifactError, match="calibrate it first"):
        resolve_precision("int8", "fp32", model)
    with pytest.raises(ArtifactError, match="is a fp16 model; --precision fp32"):
        resolve_precision("fp32", "fp16", model)
    with pytest.raises(ArtifactError, match="not one of"):
        resolve_precision("bf16", "fp32", model)


def _sidecar(**changes) -> EngineSidecar:
    base = dict(
        runtime="tensorrt", runtime_version="10.13.0", cuda_major="12", gpu_name="H100", compute_capability="9.0",
        aot_targets=[], hardware_compatibility="none", version_compatible=False, strongly_typed=True, precision="fp16",
        profile={"min": [1, 3, 224, 224], "opt": [32, 3, 224, 224], "max": [256, 3, 224, 224]}, inputs=[], outputs=[],
        model={}, onnx_path="export/resnet50.onnx", onnx_sha256="0" * 64, plan_sha256="1" * 64, plan_bytes=1,
        built_at="2026-11-28T00:00:00+00:00", build_seconds=1.0,
    )  # fmt: skip
    return EngineSidecar(**{**base, **changes})


def test_compatibility_rules() -> None:
    plan = _sidecar()
    assert compatibility_problems(plan, "10.13.0", "9.0") == []
    assert compatibility_problems(plan, "10.14.1", "9.0") == ["TensorRT 10.14.1 is installed"]
    assert compatibility_problems(plan, "10.13.0", "8.0") == ["the GPU here has compute capability 8.0"]
    assert compatibility_problems(plan, None, None) == ["tensorrt is not installed", NO_GPU]
    portable = _sidecar(version_compatible=True, hardware_compatibility="ampere_plus")
    assert compatibility_problems(portable, "10.14.1", "8.6") == []
    assert compatibility_problems(portable, "10.12.0", "8.6") == ["TensorRT 10.12.0 is installed"]  # older
    assert compatibility_problems(portable, "10.14.1", "7.5") == ["the GPU here has compute capability 7.5"]
    rtx = _sidecar(runtime="tensorrt_rtx", runtime_version="1.7.1.116", gpu_name=None, compute_capability=None,
                   aot_targets=list(RTX_DEFAULT_TARGETS))  # fmt: skip
    assert compatibility_problems(rtx, "1.7.1.116", "8.9") == []
    assert compatibility_problems(rtx, "1.7.1.116", "12.1") == []  # "and later"
    assert compatibility_problems(rtx, "1.7.1.116", "9.0") == [
        "the GPU here has compute capability 9.0, which is not a build target"
    ]
    assert "--runtime tensorrt-rtx" in rtx.rebuild_command() and "--batch 1:32:256" in rtx.rebuild_command()

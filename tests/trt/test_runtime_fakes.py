"""The runner's TensorRT decisions on the CPU, against fakes of each family's real API surface
(tests/trt/fake_tensorrt.py), so the GPU path is right before it first runs."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.errors import ArtifactError
from resnet_deploy.trt.adapter import Chunk, plan_chunks, supports_runtime_cache, torch_dtype_name
from resnet_deploy.trt.runner import TensorRTRunner, save_runtime_cache
from resnet_deploy.trt.sidecar import EngineSidecar, compatibility_problems
from tests.trt.fake_tensorrt import FAMILIES, FakeContext, FakeRuntimeConfigRtx, fake_engine, runner_stub


@pytest.mark.parametrize("family", FAMILIES)
def test_a_context_is_created_with_every_family(family: str, tmp_path: Path) -> None:
    """Defect 1: full TensorRT >= 10.11 has create_runtime_config but no runtime cache."""
    engine = fake_engine(family)
    stub = runner_stub(engine)
    (tmp_path / "m.runtime_cache").write_bytes(b"cached kernels")
    context = TensorRTRunner._create_context(stub, None, tmp_path / "m.plan")
    assert context is engine.contexts[-1]
    if family == "tensorrt-10.8":
        assert context.config is None and stub._runtime_cache is None
    elif family.startswith("tensorrt-"):
        assert context.config is not None and stub._runtime_cache is None  # a config, no cache
    else:
        assert stub._runtime_cache is context.config.get_runtime_cache()
        assert stub._runtime_cache.blob == b"cached kernels"  # the last run's kernels are reused


def test_rtx_fake_matches_the_real_module() -> None:
    trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed")
    public = {name for name in dir(FakeRuntimeConfigRtx) if not name.startswith("_")}
    assert public <= set(dir(trt.IRuntimeConfig))
    assert {"serialize", "deserialize", "reset"} <= set(dir(trt.IRuntimeCache))
    assert {"create_runtime_config", "create_execution_context"} <= set(dir(trt.ICudaEngine))
    assert {"set_input_shape", "infer_shapes", "execute_async_v3"} <= set(dir(trt.IExecutionContext))


def test_a_refused_context_is_one_line(tmp_path: Path) -> None:
    engine = fake_engine("tensorrt-11.4")

    def refuse(config=None):
        raise RuntimeError("out of device memory")

    engine.create_execution_context = refuse
    with pytest.raises(ArtifactError, match="could not create an execution context for .*out of device memory"):
        TensorRTRunner._create_context(runner_stub(engine), None, tmp_path / "m.plan")


def test_runtime_cache_is_rtx_only() -> None:
    assert supports_runtime_cache(fake_engine("tensorrt_rtx-1.7").create_runtime_config())
    assert not supports_runtime_cache(fake_engine("tensorrt-11.4").create_runtime_config())
    assert not supports_runtime_cache(None)


def _shape_stub(context: FakeContext) -> SimpleNamespace:
    return SimpleNamespace(
        context=context, input_name="input", plan=Path("m.plan"), profile=SimpleNamespace(min=8, max=32)
    )


def test_a_refused_input_shape_is_an_error_not_a_silent_read() -> None:
    """Defect 5: set_input_shape's False and infer_shapes' names are errors."""
    TensorRTRunner._set_input_shape(_shape_stub(FakeContext(8, 32)), (8, 3, 32, 32))
    with pytest.raises(ArtifactError, match=r"refused input shape \(3, 3, 32, 32\).*batches 8..32"):
        TensorRTRunner._set_input_shape(_shape_stub(FakeContext(8, 32)), (3, 3, 32, 32))
    with pytest.raises(ArtifactError, match="could not infer the shapes of \\['logits'\\]"):
        TensorRTRunner._set_input_shape(_shape_stub(FakeContext(8, 32, unspecified=["logits"])), (8, 3, 32, 32))


@pytest.mark.parametrize(
    ("count", "low", "high", "chunks"),
    [
        (3, 8, 256, [Chunk(0, 3, 8)]),  # below the profile's min: padded to 8, 3 rows kept
        (20, 1, 8, [Chunk(0, 8, 8), Chunk(8, 16, 8), Chunk(16, 20, 4)]),
        (259, 8, 256, [Chunk(0, 256, 256), Chunk(256, 259, 8)]),
        (32, 32, 32, [Chunk(0, 32, 32)]),
    ],
)
def test_chunks_fit_the_profile(count: int, low: int, high: int, chunks: list[Chunk]) -> None:
    assert plan_chunks(count, low, high) == chunks
    assert sum(chunk.rows for chunk in chunks) == count
    assert all(low <= chunk.run_rows <= high for chunk in chunks)


def test_every_io_dtype_has_a_torch_type_or_none() -> None:
    """Defect 11: BF16, INT64, BOOL and UINT8 I/O; FP8/INT4/FP4 are refused, not a KeyError."""
    torch = pytest.importorskip("torch")
    trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed")
    names = {name for name in dir(trt.DataType) if name.isupper()}
    mapped = {name: torch_dtype_name(getattr(trt.DataType, name)) for name in names}
    assert {name for name, value in mapped.items() if value} == {
        "FLOAT", "HALF", "BF16", "INT8", "UINT8", "INT32", "INT64", "BOOL",
    }  # fmt: skip
    assert all(isinstance(getattr(torch, value), torch.dtype) for value in mapped.values() if value)


def test_a_runtime_cache_beside_a_read_only_plan_is_a_warning(tmp_path: Path) -> None:
    """Defect 11: the cache write warns and the run goes on."""
    blocker = tmp_path / "plans"
    blocker.write_text("a file where the plans' folder should be")
    with pytest.warns(RuntimeWarning, match="could not save the TensorRT-RTX runtime cache"):
        save_runtime_cache(SimpleNamespace(serialize=lambda: b"kernels"), blocker / "m.runtime_cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_runtime_cache(SimpleNamespace(serialize=lambda: b"kernels"), tmp_path / "m.runtime_cache")
    assert (tmp_path / "m.runtime_cache").read_bytes() == b"kernels"


def _sidecar(**changes) -> EngineSidecar:
    base = dict(
        runtime="tensorrt_rtx", runtime_version="1.7.1.116", cuda_major="12", gpu_name=None, compute_capability=None,
        aot_targets=["SM80", "SM86", "SM89", "SM120"], hardware_compatibility="none", version_compatible=False,
        strongly_typed=True, precision="fp32", profile={"min": [1, 3, 32, 32], "opt": [8, 3, 32, 32],
        "max": [64, 3, 32, 32]}, inputs=[], outputs=[], model={}, onnx_path="export/r20.onnx", onnx_sha256="0" * 64,
        plan_sha256="0" * 64, plan_bytes=1, built_at="2026-11-28T00:00:00+00:00", build_seconds=0.1,
    )  # fmt: skip
    return EngineSidecar(**{**base, **changes})


def test_hopper_is_not_a_tensorrt_rtx_target() -> None:
    """Defect 3: the decision the GPU tests skip on (SM90 is not among RTX's AOT targets)."""
    problems = compatibility_problems(_sidecar(), "1.7.1.116", "9.0")
    assert problems == ["the GPU here has compute capability 9.0, which is not a build target"]
    assert compatibility_problems(_sidecar(), "1.7.1.116", "8.9") == []


def test_the_rebuild_hint_rebuilds_that_plan() -> None:
    command = _sidecar(tf32=False).rebuild_command(Path("engines/r20_fp32.plan"))
    assert command == ("resnet-deploy build export/r20.onnx --precision fp32 --batch 1:8:64 --runtime tensorrt-rtx "
                       "--strict-fp32 -o engines/r20_fp32.plan")  # fmt: skip


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("{}", r"lacks 20 of its fields \(runtime, runtime_version, .* and 14 more\)"),
        ("[]", "holds a JSON list, not a sidecar object"),
        ("{not json", "is unreadable"),
    ],
)
def test_a_broken_sidecar_is_one_line(tmp_path: Path, content: str, pattern: str) -> None:
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan bytes")
    (tmp_path / "m.json").write_text(content)
    with pytest.raises(ArtifactError, match=pattern):
        EngineSidecar.read(tmp_path / "m.json")
    result = CliRunner().invoke(app, ["inspect", str(plan)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: sidecar"), result.output
    assert "resnet-deploy build MODEL.onnx -o PLAN" in lines[0]


def test_bench_of_a_plan_without_sidecar_is_a_skip(tmp_path: Path) -> None:
    """Defect 11: artifact_target on a plan without a sidecar."""
    from resnet_deploy.bench.targets import Skip, artifact_target

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan bytes")
    with pytest.raises(Skip, match="has no sidecar"):
        artifact_target(str(plan), "cuda")

"""Export over the whole registry: graph contract, metadata, checker, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from resnet_deploy.backends.base import run_padded
from resnet_deploy.backends.ort_runner import OnnxRuntimeRunner
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.exporting.metadata import RANDOM_INIT, BatchRange, read_metadata
from resnet_deploy.models import get_card, list_models

HUGE = {"resnet1202", "preact_resnet1001"}
NAMES = [pytest.param(c.name, marks=pytest.mark.slow) if c.name in HUGE else c.name for c in list_models()]


@pytest.mark.parametrize("name", NAMES)
def test_every_model_exports(name: str, tmp_path: Path) -> None:
    card = get_card(name)
    # ImageNet nets export at 64 px to keep CI fast; the graph is the same at any size.
    size = 64 if card.family == "imagenet" else None
    result = export_onnx(name, input_size=size, output=tmp_path / f"{name}.onnx")
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    assert graph_input.name == "input" and graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, size or 32, size or 32]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert "BatchNormalization" not in result.op_types or card.config.get("activation") == "full_preact"
    meta = read_metadata(model)
    assert meta.arch == name and meta.num_classes == card.num_classes and meta.labels == card.labels
    assert meta.weights_sha256 == RANDOM_INIT and meta.tool_version
    with OnnxRuntimeRunner(result.path) as runner:
        logits = runner.infer(np.zeros((2, 3, size or 32, size or 32), np.float32))
    assert logits.shape == (2, card.num_classes)


def test_metadata_round_trip(resnet20_weights: Path, tmp_path: Path) -> None:
    result = export_onnx("resnet20", weights=resnet20_weights, batch=BatchRange(1, 64, 512), output=tmp_path / "m.onnx")
    meta = read_metadata(onnx.load(str(result.path)))
    assert meta.weights_sha256.startswith("12fca82f")
    assert meta.batch == BatchRange(1, 64, 512)
    assert meta.preprocess == get_card("resnet20").preprocess
    assert meta.labels[3] == "cat"


def test_fixed_batch_has_static_dim_and_pads(tmp_path: Path) -> None:
    result = export_onnx("resnet20", batch=BatchRange.parse("4:4:4"), output=tmp_path / "fixed.onnx")
    dim0 = onnx.load(str(result.path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_value == 4 and not dim0.dim_param
    with OnnxRuntimeRunner(result.path) as runner:
        assert runner.input.shape[0] == 4
        with pytest.raises(ArtifactError, match="fixed batch of 4"):
            runner.infer(np.zeros((3, 3, 32, 32), np.float32))
        x = np.random.default_rng(0).standard_normal((7, 3, 32, 32), dtype=np.float32)
        padded = run_padded(runner, x)
        assert padded.shape == (7, 10)
        np.testing.assert_allclose(padded[:4], runner.infer(x[:4]), atol=1e-5)


def test_variants_export(tmp_path: Path) -> None:
    result = export_onnx(
        "resnet20", options={"activation": "full_preact", "variant": "exclusive_gating"}, output=tmp_path / "v.onnx"
    )
    assert result.op_types.get("Sigmoid") == 9
    assert read_metadata(onnx.load(str(result.path))).options == {
        "activation": "full_preact",
        "variant": "exclusive_gating",
    }


def test_failed_export_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.onnx"
    target.write_bytes(b"previous contents")
    with pytest.raises(ArtifactError, match="opset"):
        export_onnx("resnet20", opset=99, output=target)
    assert target.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.onnx"]


@pytest.mark.parametrize("text", ["8:1:4", "0:1:2", "a:b:c", "1:2"])
def test_bad_batch_ranges(text: str) -> None:
    with pytest.raises(ArtifactError, match="--batch"):
        BatchRange.parse(text)

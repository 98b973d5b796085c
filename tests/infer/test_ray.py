"""`infer --ray` on a local Ray instance equals the single-process job, row for row."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.infer.writers import read_rows

pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
cli = CliRunner()


def test_ray_output_equals_single_process(resnet20_weights: Path, cifar_test: Path, tmp_path: Path) -> None:
    model = export_onnx("resnet20", weights=resnet20_weights, output=tmp_path / "r20.onnx").path
    listing = tmp_path / "inputs.txt"
    paths = [
        p for name in sorted(p.name for p in cifar_test.iterdir()) for p in sorted((cifar_test / name).iterdir())[:12]
    ]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    listing.write_text("\n".join(map(str, [*paths, tmp_path / "broken.jpg", tmp_path / "missing.jpg"])) + "\n")
    single, distributed = tmp_path / "single.jsonl", tmp_path / "ray.jsonl"
    common = [f"@{listing}", "--engine", str(model), "--batch-size", "16"]
    assert cli.invoke(app, ["infer", *common, "-o", str(single)]).exit_code == 0
    result = cli.invoke(app, ["infer", *common, "-o", str(distributed), "--ray", "local", "--actors", "1"])
    assert result.exit_code == 0, result.output
    ray_rows, single_rows = read_rows(distributed), read_rows(single)
    assert len(ray_rows) == len(single_rows) == len(paths) + 2
    assert ray_rows == single_rows  # same order, same predictions and probabilities, same errors
    assert [r["status"] for r in ray_rows[-2:]] == ["error", "error"]

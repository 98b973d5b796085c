"""The package alone: its real image sample, and the core pipeline on it with the embedded model.

These tests need nothing from ../shared, so a fresh clone (or a plain pip install) tests
export, check, calibrate, build, infer and eval on real images.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.demo import DemoImages, embedded_weights, packaged_sample
from resnet_deploy.infer.writers import read_rows
from resnet_deploy.models.labels import CIFAR10_LABELS

cli = CliRunner()
# The embedded ResNet-20 on the packaged 200 test JPEGs (float32; MODEL_CARD.md): 147 / 200.
SAMPLE_TOP1 = 0.735


def _invoke_json(*args: str) -> dict:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sample() -> DemoImages:
    return packaged_sample()


def test_sample_is_small_real_and_disjoint(sample: DemoImages) -> None:
    digests = {}
    for folder in (sample.test, sample.calibration):
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        assert classes == sorted(CIFAR10_LABELS)
        files = sorted(folder.rglob("*.jpg"))
        assert len(files) == 200 and all(len(list((folder / c).iterdir())) == 20 for c in classes)
        assert sum(f.stat().st_size for f in files) < 500_000
        for file in files:
            with Image.open(file) as image:
                assert image.format == "JPEG" and image.size == (32, 32) and image.mode == "RGB"
        digests[folder.name] = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert len(digests["cifar10-test"]) == len(digests["cifar10-calib"]) == 200
    assert not digests["cifar10-test"] & digests["cifar10-calib"]


def test_core_pipeline_on_the_packaged_sample(sample: DemoImages, tmp_path: Path) -> None:
    weights = str(embedded_weights())
    fp32 = tmp_path / "r20.onnx"
    _invoke_json("export", "--arch", "resnet20", "--weights", weights, "-o", str(fp32))

    parity = _invoke_json("check", str(fp32), "--weights", weights, "--images", str(sample.test))
    assert parity["passed"] and parity["images"] == 200 and parity["top1_agreement"] == 1.0

    accuracy = _invoke_json("eval", str(fp32), "--images", str(sample.test))
    assert accuracy["images"] == 200 and accuracy["top1"] == pytest.approx(SAMPLE_TOP1)

    int8 = tmp_path / "r20_int8.onnx"
    calibration = _invoke_json("calibrate", str(fp32), "--images", str(sample.calibration), "--num-images", "200",
                               "-o", str(int8), "--cache-dir", str(tmp_path / "calib"))  # fmt: skip
    assert calibration["images"] == 200
    int8_accuracy = _invoke_json("eval", str(int8), "--images", str(sample.test))
    assert abs(int8_accuracy["top1"] - SAMPLE_TOP1) <= 0.02  # 4 of 200 images

    rows_path = tmp_path / "rows.jsonl"
    summary = _invoke_json("infer", str(sample.test), "--engine", str(int8), "-o", str(rows_path))
    rows = read_rows(rows_path)
    assert summary["ok"] == len(rows) == 200 and summary["errors"] == 0
    correct = sum(row["label"] == Path(row["path"]).parent.name for row in rows)
    assert correct / 200 == pytest.approx(int8_accuracy["top1"])

    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX is not installed: engine builds not tested")
    for source, precision in ((fp32, "fp16"), (int8, "int8")):
        plan = tmp_path / f"r20_{precision}.plan"
        built = _invoke_json("build", str(source), "--precision", precision, "-o", str(plan))
        assert built["precision"] == precision and built["plan_bytes"] == plan.stat().st_size > 100_000
        assert hashlib.sha256(plan.read_bytes()).hexdigest() == built["plan_sha256"]

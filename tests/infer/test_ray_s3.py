"""`infer s3://... --ray local --output s3://.../`: images in object storage (a local S3 server on
127.0.0.1), shards and manifest written back there, the same classes as `infer` on local files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.data.folders import image_folder, spread_evenly
from resnet_deploy.infer import storage
from resnet_deploy.infer.shards import iter_rows
from resnet_deploy.infer.writers import read_rows

pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
pytestmark = pytest.mark.ray
cli = CliRunner()


def test_s3_job_matches_local_infer_class_for_class(s3, cifar_test: Path, resnet20_onnx: Path, tmp_path: Path) -> None:
    paths = spread_evenly([path for path, _ in image_folder(cifar_test).samples], 1000)  # 100 per class
    s3.put_files([(f"s3://bkt/cifar/{path.relative_to(cifar_test)}", path) for path in paths])
    corrupt = paths[0].read_bytes()[:300]  # a truncated JPEG
    s3.put("s3://bkt/cifar/zz_corrupt.jpg", corrupt)
    s3.put("s3://bkt/lists/extra.txt", b"# an object that does not exist\ns3://bkt/elsewhere/missing.jpg\n")

    listing = tmp_path / "local.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n")
    common = ["--engine", str(resnet20_onnx), "--batch-size", "64"]
    local = cli.invoke(app, ["infer", f"@{listing}", *common, "-o", str(tmp_path / "local.jsonl")])
    assert local.exit_code == 0, local.output
    result = cli.invoke(app, ["infer", "s3://bkt/cifar/", "@s3://bkt/lists/extra.txt", *common, "--ray", "local",
                              "--output", "s3://bkt/out/", "--shard-size", "256", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["ok"], summary["errors"]) == (1002, 1000, 2)

    rows = list(iter_rows("s3://bkt/out/"))  # shards and manifest read back from S3
    manifest = json.loads(storage.read_bytes("s3://bkt/out/manifest.json"))
    assert (manifest["rows"], manifest["errors"], len(manifest["shards"])) == (1002, 2, 4)
    local_rows = read_rows(tmp_path / "local.jsonl")
    assert [row["path"] for row in rows[:1000]] == [f"s3://bkt/cifar/{p.relative_to(cifar_test)}" for p in paths]
    strip = [{k: v for k, v in row.items() if k != "path"} for row in rows[:1000]]
    assert strip == [{k: v for k, v in row.items() if k != "path"} for row in local_rows]  # class for class
    correct = sum(row["label"] == Path(row["path"]).parent.name for row in rows[:1000])
    assert 0.75 < correct / 1000 < 0.87  # ResNet-20 scores 81% on these JPEGs
    corrupt_row, missing_row = rows[1000:]
    assert corrupt_row["path"] == "s3://bkt/cifar/zz_corrupt.jpg" and corrupt_row["status"] == "error"
    assert corrupt_row["error"].startswith("corrupt image")
    assert missing_row == {"path": "s3://bkt/elsewhere/missing.jpg", "status": "error", "class_index": None,
                           "label": None, "topk": [], "error": "object not found"}  # fmt: skip

"""`infer --ray` on a local Ray instance: the same rows as the single-process job, as one file or
as shards written by the workers; `--resume` rewrites torn and missing shards only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.infer.shards import iter_rows
from resnet_deploy.infer.writers import read_rows

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
pytestmark = pytest.mark.ray
cli = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray for the module (jobs reuse a running Ray instead of starting their own)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def job(cifar_test: Path, resnet20_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """122 inputs (12 per class, a corrupt file, a missing one) and the single-process rows for them."""
    tmp = tmp_path_factory.mktemp("rayjob")
    paths = [p for c in sorted(cifar_test.iterdir()) for p in sorted(c.iterdir())[:12]]
    (tmp / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    listing = tmp / "inputs.txt"
    listing.write_text("\n".join(map(str, [*paths, tmp / "broken.jpg", tmp / "missing.jpg"])) + "\n")
    common = [f"@{listing}", "--engine", str(resnet20_onnx), "--batch-size", "16"]
    assert cli.invoke(app, ["infer", *common, "-o", str(tmp / "single.jsonl")]).exit_code == 0
    return {"tmp": tmp, "common": common, "rows": read_rows(tmp / "single.jsonl")}


def test_ray_output_equals_single_process(job: dict) -> None:
    distributed = job["tmp"] / "ray.jsonl"
    result = cli.invoke(app, ["infer", *job["common"], "-o", str(distributed), "--ray", "local", "--actors", "1"])
    assert result.exit_code == 0, result.output
    rows = read_rows(distributed)
    assert len(rows) == 122 and rows == job["rows"]  # same order, predictions, probabilities and errors
    assert [r["status"] for r in rows[-2:]] == ["error", "error"]


def test_sharded_output_equals_single_process_and_resumes(job: dict) -> None:
    out = job["tmp"] / "shards"
    sharded = [*job["common"], "-o", f"{out}/", "--ray", "local", "--shard-size", "16", "--json"]
    result = cli.invoke(app, ["infer", *sharded])
    assert result.exit_code == 0, result.output
    assert list(iter_rows(str(out))) == job["rows"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["status"], manifest["inputs"], manifest["rows"], manifest["errors"]) == ("complete", 122, 122, 2)
    assert manifest["shards"] == [f"part-{k:08d}.jsonl" for k in range(8)]
    assert len(manifest["job"]["engine_sha256"]) == 64

    # A run killed mid-job: one shard torn, one never written, a worker's temporary file left behind.
    torn = out / "part-00000002.jsonl"
    torn.write_bytes(torn.read_bytes()[:1000])
    (out / "part-00000005.jsonl").unlink()
    (out / ".part-00000005.jsonl.x1y2.tmp").write_text("half a shard")
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))

    again = cli.invoke(app, ["infer", *sharded])
    assert again.exit_code == 1 and "pass --resume" in again.output
    other = cli.invoke(app, ["infer", *sharded, "--resume", "--topk", "3"])
    assert other.exit_code == 1 and "holds a different job (it differs in topk)" in other.output

    resumed = cli.invoke(app, ["infer", *sharded, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert (summary["resumed_from"], summary["ok"] + summary["errors"]) == (122 - 32, 32)
    assert list(iter_rows(str(out))) == job["rows"]  # every input exactly once, in order
    assert not list(out.glob(".*.tmp")) and json.loads((out / "manifest.json").read_text())["status"] == "complete"

    # A worker that fails (its input list is gone) ends the job with one line, not a traceback.
    (out / "_inputs" / "inputs-000000.txt").unlink()
    (out / "part-00000003.jsonl").unlink()
    broken = cli.invoke(app, ["infer", *sharded, "--resume"])
    assert broken.exit_code == 1 and "Traceback" not in broken.output
    assert "error: the Ray job failed: FileNotFoundError: " in broken.output and "rerun with --resume" in broken.output


def test_decode_runs_as_tasks_apart_from_the_inference_actors(job: dict, resnet20_onnx: Path) -> None:
    from resnet_deploy.backends import open_runner
    from resnet_deploy.infer.ray_stages import build_dataset

    paths = [row["path"] for row in job["rows"][:32]]
    with open_runner(resnet20_onnx) as runner:
        spec = runner.metadata.preprocess.to_json()
    blocks = [{"block": k, "paths": json.dumps(paths[16 * k : 16 * k + 16])} for k in range(2)]
    source = ray.data.from_items(blocks, override_num_blocks=2)
    dataset = build_dataset(ray, source, (str(resnet20_onnx), {}, 5, 16), spec_json=spec, block_size=16)
    texts = [row["rows"] for row in dataset.iter_rows()]
    assert [json.loads(line) for text in texts for line in text.splitlines()] == job["rows"][:32]
    stats = dataset.stats()
    assert "MapBatches(decode_blocks): 2 tasks executed" in stats  # not fused into the actors
    assert "MapBatches(decode_blocks)->MapBatches(Classify)" not in stats

"""A node lost mid-job: a 2-node Ray cluster on 127.0.0.1 loses the node that runs the inference
actor and every decode task; the job still completes with every input exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.cli.app import app
from resnet_deploy.infer.shards import iter_rows
from resnet_deploy.infer.writers import read_rows

pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
pytestmark = pytest.mark.ray
cli = CliRunner()
LOCAL = {"node_ip_address": "127.0.0.1", "include_dashboard": False}


def test_job_survives_losing_a_node(cifar_test: Path, resnet20_onnx: Path, tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    paths = [p for c in sorted(cifar_test.iterdir()) for p in sorted(c.iterdir())[:48]]  # 480 inputs, 30 shards
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(map(str, paths)) + "\n")
    common = [f"@{listing}", "--engine", str(resnet20_onnx), "--batch-size", "16"]
    assert cli.invoke(app, ["infer", *common, "-o", str(tmp_path / "single.jsonl")]).exit_code == 0
    out = tmp_path / "shards"

    # The head holds the driver and no CPUs, so node A runs all the work; B joins just before A dies.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **LOCAL})
    job = None
    try:
        node_a = cluster.add_node(num_cpus=2, **LOCAL)
        # Ray would otherwise resolve 127.0.0.1 to this machine's outward address to find its node.
        env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        command = [sys.executable, "-m", "resnet_deploy", "infer", *common, "--ray", cluster.address,
                   "--output", f"{out}/", "--shard-size", "16", "--actors", "1", "--json"]  # fmt: skip
        job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while len(list(out.glob("part-*.jsonl"))) < 3 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.add_node(num_cpus=2, **LOCAL)
        done_before_kill = len(list(out.glob("part-*.jsonl")))
        cluster.remove_node(node_a, allow_graceful=False)  # kills its raylet, actor, tasks and objects
        stdout, stderr = job.communicate(timeout=300)
    finally:
        if job is not None and job.poll() is None:
            job.kill()
        cluster.shutdown()

    assert job.returncode == 0, stderr[-3000:]
    assert 3 <= done_before_kill < 30, "the node must die mid-job"
    summary = json.loads(stdout)
    assert (summary["images"], summary["ok"], summary["errors"]) == (480, 480, 0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["status"], manifest["rows"], len(manifest["shards"])) == ("complete", 480, 30)
    rows = list(iter_rows(str(out)))
    assert [row["path"] for row in rows] == [str(p) for p in paths]  # every input exactly once, in order
    assert rows == read_rows(tmp_path / "single.jsonl")  # and the same predictions as one process

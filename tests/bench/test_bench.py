"""`bench` on the CPU: schema, internal consistency, skips, CSV and plot. No timing assertions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_deploy.bench.peaks import peak_tflops
from resnet_deploy.cli.app import app

cli = CliRunner()
FAST = ["--arch", "resnet20", "--batch-sizes", "1,4", "--warmup-s", "0.05", "--duration-s", "0.2"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("bench")
    result = cli.invoke(app, ["bench", *FAST, "--backends", "torch,onnxruntime,tensorrt", "--precision", "fp32,fp16",
                              "--json", "--csv", str(folder / "b.csv"), "--plot", str(folder / "b.png")])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), folder


def test_schema(report) -> None:
    data, _ = report
    env = data["environment"]
    assert {"cpu", "cpu_cores", "gpu", "torch", "onnxruntime", "tensorrt", "tensorrt_rtx"} <= set(env)
    ok = [r for r in data["results"] if r["status"] == "ok"]
    assert {(r["backend"], r["batch"]) for r in ok} >= {
        ("torch", 1),
        ("torch", 4),
        ("onnxruntime", 1),
        ("onnxruntime", 4),
    }
    for row in ok:
        assert {"backend", "precision", "device", "batch", "iterations", "latency_ms", "throughput", "gflops"} <= set(
            row
        )
        assert set(row["latency_ms"]) == {"mean", "p50", "p90", "p95", "p99"}


def test_values_are_consistent(report) -> None:
    data, _ = report
    macs = 40_551_040  # resnet20 at 32x32
    for row in (r for r in data["results"] if r["status"] == "ok"):
        lat = row["latency_ms"]
        assert lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"]
        assert row["iterations"] >= 3
        assert row["throughput"] == pytest.approx(row["batch"] * 1000 / lat["mean"], rel=1e-3)
        assert row["gflops"] == pytest.approx(2 * macs * row["throughput"] / 1e9, rel=1e-2, abs=0.01)


def test_skips_are_reported_with_reasons(report) -> None:
    data, _ = report
    skipped = {(r["backend"], r["precision"]): r["reason"] for r in data["results"] if r["status"] == "skipped"}
    import torch

    if not torch.cuda.is_available():
        assert "no CUDA GPU" in skipped[("tensorrt", "fp32")]
        assert "fp16" in skipped[("torch", "fp16")] and "fp16" in skipped[("onnxruntime", "fp16")]


def test_csv_and_plot_written(report) -> None:
    data, folder = report
    rows = list(csv.DictReader((folder / "b.csv").read_text().splitlines()))
    assert len(rows) == len(data["results"])
    assert {r["status"] for r in rows} >= {"ok", "skipped"}
    png = (folder / "b.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_engine_artifact_and_bad_options(tmp_path: Path) -> None:
    from resnet_deploy.exporting.export import export_onnx

    model = export_onnx("resnet20", output=tmp_path / "m.onnx").path
    result = cli.invoke(app, ["bench", "--engine", str(model), "--batch-sizes", "2", "--warmup-s", "0", "--duration-s",
                              "0.1", "--json"])  # fmt: skip
    rows = json.loads(result.stdout)["results"]
    assert rows[0]["backend"] == "onnxruntime" and rows[0]["status"] == "ok" and rows[0]["arch"] == "resnet20"
    from resnet_deploy.demo import embedded_weights

    checkpoint = cli.invoke(app, ["bench", "--engine", str(embedded_weights()), "--batch-sizes", "2", "--warmup-s", "0",
                                  "--duration-s", "0.1", "--json"])  # fmt: skip
    row = json.loads(checkpoint.stdout)["results"][0]
    assert row["backend"] == "torch" and row["arch"] == "resnet20" and row["status"] == "ok"
    bad = cli.invoke(app, ["bench", "--backends", "tensorflow"])
    assert bad.exit_code == 1 and "is not one of" in bad.output
    bad = cli.invoke(app, ["bench", "--batch-sizes", "1,x"])
    assert bad.exit_code == 1 and "comma-separated list of int" in bad.output


def test_peak_table() -> None:
    assert peak_tflops("NVIDIA H100 80GB HBM3", "fp16") == 989.5
    assert peak_tflops("NVIDIA H200", "int8") == 1979.0
    assert peak_tflops("NVIDIA H100 PCIe", "fp16") == 756.0
    assert peak_tflops("Some Future GPU", "fp16") is None and peak_tflops(None, "fp32") is None


def test_out_of_memory_at_one_batch_size_does_not_end_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_deploy.bench import sweep
    from resnet_deploy.bench.targets import Target

    def prepare(batch: int):
        if batch == 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return lambda: None

    monkeypatch.setattr(sweep, "_make_target", lambda *args: Target("torch", "fp32", "cpu", "resnet20", 32, prepare))
    report = sweep.run_bench(arch="resnet20", backends=["torch"], batch_sizes=[1, 4, 8], warmup_s=0, duration_s=0.01)
    assert [(r["batch"], r["status"]) for r in report.results] == [(1, "ok"), (4, "oom"), (8, "ok")]
    assert report.results[1]["reason"] == "out of memory at batch 4"

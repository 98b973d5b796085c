"""Writing a benchmark report as CSV and as a PNG plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from resnet_deploy.atomic import atomic_write_text
from resnet_deploy.bench.sweep import BenchReport
from resnet_deploy.errors import ArtifactError
from resnet_deploy.plotting import pyplot, save_png

CSV_FIELDS = ("backend", "precision", "device", "arch", "batch", "status", "reason", "iterations", "mean_ms",
              "p50_ms", "p90_ms", "p95_ms", "p99_ms", "throughput", "gflops", "gpu_compute_ms", "h2d_ms",
              "peak_memory_mb", "peak_fraction")  # fmt: skip


def write_csv(report: BenchReport, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.results:
        flat = dict(row)
        for key, value in (row.get("latency_ms") or {}).items():
            flat[f"{key}_ms"] = value
        writer.writerow(flat)
    atomic_write_text(path, buffer.getvalue())


def require_pyplot():
    """matplotlib's pyplot, or a one-line error saying how to install it."""
    try:
        return pyplot()
    except ImportError:
        raise ArtifactError("--plot needs matplotlib: pip install 'resnet-deploy[plot]'") from None


def write_plot(report: BenchReport, path: Path) -> None:
    plt = require_pyplot()
    series: dict[str, list[dict]] = {}
    for row in report.results:
        if row["status"] == "ok":
            series.setdefault(f"{row['backend']} {row['precision']} ({row['device']})", []).append(row)
    if not series:
        raise ArtifactError("nothing was measured, so there is nothing to plot (every target was skipped)")
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, rows in series.items():
        rows = sorted(rows, key=lambda r: r["batch"])
        batches = [r["batch"] for r in rows]
        left.plot(batches, [r["throughput"] for r in rows], marker="o", label=label)
        p50 = [r["latency_ms"]["p50"] for r in rows]
        p99 = [r["latency_ms"]["p99"] for r in rows]
        line = right.plot(batches, p50, marker="o", label=f"{label} p50")[0]
        right.plot(batches, p99, marker="x", linestyle="--", color=line.get_color(), label=f"{label} p99")
    env = report.environment
    device = env["gpu"] or f"{env['cpu']} ({env['cpu_cores']} cores)"
    arch = next(r.get("arch") for rows in series.values() for r in rows)
    for axis, title, unit in ((left, "throughput", "images/s"), (right, "latency per batch", "ms")):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("batch size")
        axis.set_ylabel(unit)
        axis.set_title(f"{arch}: {title}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(device, fontsize=9)
    figure.tight_layout()
    save_png(figure, path, dpi=110)

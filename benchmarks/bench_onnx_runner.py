"""OnnxRuntimeRunner overhead against a bare onnxruntime session, and onnxruntime against torch
eager, on resnet50 at batch 1 and 32, side by side in one run (same process, same inputs).

Usage: .venv/bin/python benchmarks/bench_onnx_runner.py [--repeats N]
Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from resnet_deploy.backends import open_runner
from resnet_deploy.exporting.export import export_onnx


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx("resnet50", output=Path(tmp) / "resnet50.onnx").path
        runner = open_runner(path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        bare = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        torch_runner = open_runner("resnet50", device="cpu")
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {ort.__version__}")
        print(f"{'batch':>5} {'bare ORT ms':>12} {'runner ms':>10} {'overhead':>9} {'torch ms':>9} {'ORT/torch':>10}")
        for batch in (1, 32):
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
            # Interleave the three so drift in machine load hits them alike.
            t_bare, t_runner, t_torch = [], [], []
            for _ in range(3):
                t_bare.append(median_seconds(lambda x=x: bare.run(["logits"], {"input": x}), args.repeats // 3 or 1))
                t_runner.append(median_seconds(lambda x=x: runner.infer(x), args.repeats // 3 or 1))
                t_torch.append(median_seconds(lambda x=x: torch_runner.infer(x), args.repeats // 3 or 1))
            b, r, t = (statistics.median(v) * 1e3 for v in (t_bare, t_runner, t_torch))
            print(f"{batch:>5} {b:>12.2f} {r:>10.2f} {r / b - 1:>+9.1%} {t:>9.2f} {t / r:>9.2f}x")


if __name__ == "__main__":
    main()

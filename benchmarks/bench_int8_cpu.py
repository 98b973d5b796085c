"""onnxruntime INT8 (QDQ) against FP32 on this CPU, resnet50 at batch 1 and 32, side by side.

The QDQ model is built for TensorRT (Q/DQ on Conv/Gemm inputs and residual Adds). On a CPU
without VNNI, onnxruntime's int8 kernels may not beat float32; this measures by how much.
Calibration uses 32 CIFAR-10 JPEGs from ../shared (accuracy is not the point here).

Usage: .venv/bin/python benchmarks/bench_int8_cpu.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from resnet_deploy.backends import open_runner
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.quant.calibrate import calibrate_int8

SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train"


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx("resnet50", output=Path(tmp) / "resnet50.onnx").path
        int8 = calibrate_int8(fp32, SHARED_TRAIN, num_images=32, method="minmax", cache_dir=tmp).path
        runners = {"fp32": open_runner(fp32), "int8": open_runner(int8)}
        flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in Path("/proc/cpuinfo").read_text()]
        print(f"onnxruntime {ort.__version__}, CPU flags: {', '.join(flags)}")
        print(f"{'batch':>5} {'fp32 ms':>9} {'int8 ms':>9} {'int8 speed-up':>14}")
        for batch in (1, 32):
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
            fp32_ms, int8_ms = [], []
            for _ in range(3):  # interleaved rounds, so load drift hits both alike
                fp32_ms.append(median_ms(lambda x=x: runners["fp32"].infer(x), max(1, args.repeats // 3)))
                int8_ms.append(median_ms(lambda x=x: runners["int8"].infer(x), max(1, args.repeats // 3)))
            f, i = statistics.median(fp32_ms), statistics.median(int8_ms)
            print(f"{batch:>5} {f:>9.1f} {i:>9.1f} {f / i:>13.2f}x")


if __name__ == "__main__":
    main()

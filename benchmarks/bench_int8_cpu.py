"""onnxruntime INT8 against FP32 on this CPU, resnet50 at batch 1 and 32, side by side in one run.

Rows: FP32; the CPU INT8 flavour (`calibrate --target onnxruntime-cpu`: U8S8, per-channel weights,
Q/DQ around conv outputs so onnxruntime fuses QLinearConv); the TensorRT-layout INT8 (Q/DQ on conv
inputs only) for contrast. `--formats` adds the layouts the CPU flavour was chosen against: S8S8
(int8 activations) and per-tensor weights. Rounds are interleaved and medians taken, so load drift
from other processes hits every row alike. Calibration uses 32 CIFAR-10 JPEGs from ../shared
(random weights: accuracy is not the point here).

Usage: .venv/bin/python benchmarks/bench_int8_cpu.py [--rounds N] [--formats]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from resnet_deploy.backends import open_runner
from resnet_deploy.exporting.export import export_onnx
from resnet_deploy.machine import cpu_int8_flags
from resnet_deploy.quant.calibrate import calibrate_int8
from resnet_deploy.quant.layouts import layout_for, quantize_with_ranges

SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train"


def timed_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def cpu_variant(fp32: Path, ranges: Path, out: Path, **changes) -> Path:
    """The CPU layout with one format changed (same calibration ranges)."""
    layout = dataclasses.replace(layout_for("onnxruntime-cpu"), **changes)
    model, _ = quantize_with_ranges(fp32, ranges, "minmax", layout, out)
    onnx.save(model, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    parser.add_argument("--formats", action="store_true", help="also S8S8 and per-tensor CPU layouts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx("resnet50", output=Path(tmp) / "resnet50.onnx").path
        common = dict(num_images=32, method="minmax", cache_dir=tmp)
        cpu = calibrate_int8(fp32, SHARED_TRAIN, target="onnxruntime-cpu", **common)
        trt = calibrate_int8(fp32, SHARED_TRAIN, target="tensorrt", **common)
        paths = {"fp32": fp32, "int8 cpu (u8s8, per-channel)": cpu.path, "int8 tensorrt layout": trt.path}
        if args.formats:
            paths["int8 cpu s8s8"] = cpu_variant(fp32, cpu.cache, Path(tmp) / "s8s8.onnx", activation_type="int8")
            paths["int8 cpu per-tensor"] = cpu_variant(fp32, cpu.cache, Path(tmp) / "pt.onnx", per_channel=False)
        runners = {name: open_runner(path) for name, path in paths.items()}
        print(f"onnxruntime {ort.__version__}, CPU int8 flags: {', '.join(cpu_int8_flags()) or 'none'}")
        print(f"resnet50 224x224, medians of {args.rounds} interleaved rounds")
        print(f"{'batch':>5} {'model':<30} {'ms':>9} {'img/s':>8} {'vs fp32':>8}")
        for batch in (1, 32):
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
            repeats = 5 if batch == 1 else 1
            rounds: dict[str, list[float]] = {name: [] for name in runners}
            for runner in runners.values():
                runner.infer(x)  # warm-up
            for _ in range(args.rounds):
                for name, runner in runners.items():
                    rounds[name].append(timed_ms(lambda r=runner, x=x: r.infer(x), repeats))
            base = statistics.median(rounds["fp32"])
            for name, times in rounds.items():
                ms = statistics.median(times)
                print(f"{batch:>5} {name:<30} {ms:>9.1f} {batch * 1e3 / ms:>8.1f} {base / ms:>7.2f}x", flush=True)
        for runner in runners.values():
            runner.close()


if __name__ == "__main__":
    main()

"""Dense peak throughput per GPU and precision, in TFLOP/s (TOP/s for int8), from NVIDIA's
datasheets. fp32 is the non-tensor-core FP32 rate; fp16 and int8 are dense tensor-core rates
(the datasheets' headline numbers with sparsity are twice these). Unknown GPUs get no fraction.
"""

from __future__ import annotations

# name fragment (lower case) -> {precision: dense peak TFLOP/s}
GPU_PEAKS: dict[str, dict[str, float]] = {
    "h200": {"fp32": 67.0, "fp16": 989.5, "int8": 1979.0},
    "h100 80gb hbm3": {"fp32": 67.0, "fp16": 989.5, "int8": 1979.0},  # SXM
    "h100 sxm": {"fp32": 67.0, "fp16": 989.5, "int8": 1979.0},
    "h100 pcie": {"fp32": 51.0, "fp16": 756.0, "int8": 1513.0},
    "h100 nvl": {"fp32": 60.0, "fp16": 835.0, "int8": 1670.0},
    "a100": {"fp32": 19.5, "fp16": 312.0, "int8": 624.0},
    "l40s": {"fp32": 91.6, "fp16": 362.0, "int8": 733.0},
    "l4": {"fp32": 30.3, "fp16": 121.0, "int8": 242.5},
    "a10": {"fp32": 31.2, "fp16": 125.0, "int8": 250.0},
    "t4": {"fp32": 8.1, "fp16": 65.0, "int8": 130.0},
    "rtx 4090": {"fp32": 82.6, "fp16": 165.2, "int8": 660.6},
    "rtx 3090": {"fp32": 35.6, "fp16": 71.0, "int8": 284.0},
}


def peak_tflops(gpu_name: str | None, precision: str) -> float | None:
    if not gpu_name:
        return None
    name = gpu_name.lower()
    for fragment in sorted(GPU_PEAKS, key=len, reverse=True):  # most specific first
        if fragment in name:
            return GPU_PEAKS[fragment].get(precision)
    return None

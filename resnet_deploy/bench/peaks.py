"""Dense peak throughput per GPU and precision, in TFLOP/s (TOP/s for int8), from NVIDIA's
datasheets. fp32 is the non-tensor-core FP32 rate; tf32, fp16 and int8 are dense tensor-core
rates (the datasheets' headline numbers with sparsity are twice these). TensorRT and cuDNN run
float32 layers as TF32 unless told not to, so a `tf32` row is compared with the TF32 peak and a
strict `fp32` row with the FP32 one. Unknown GPUs get no fraction.
"""

from __future__ import annotations

import re

# GPU name, as torch.cuda.get_device_name spells it (lower case) -> {precision: dense peak}
GPU_PEAKS: dict[str, dict[str, float]] = {
    "h200": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.5, "int8": 1979.0},  # SXM
    "h200 nvl": {"fp32": 60.0, "tf32": 417.5, "fp16": 835.0, "int8": 1670.0},
    "h100 80gb hbm3": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.5, "int8": 1979.0},  # SXM
    "h100 sxm": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.5, "int8": 1979.0},
    "h100 pcie": {"fp32": 51.0, "tf32": 378.0, "fp16": 756.0, "int8": 1513.0},
    "h100 nvl": {"fp32": 60.0, "tf32": 417.5, "fp16": 835.0, "int8": 1670.0},
    "a100": {"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "int8": 624.0},
    "l40s": {"fp32": 91.6, "tf32": 183.0, "fp16": 362.0, "int8": 733.0},
    "l40": {"fp32": 90.5, "tf32": 90.5, "fp16": 181.0, "int8": 362.0},
    "l4": {"fp32": 30.3, "tf32": 60.0, "fp16": 121.0, "int8": 242.5},
    "a10": {"fp32": 31.2, "tf32": 62.5, "fp16": 125.0, "int8": 250.0},
    "t4": {"fp32": 8.1, "fp16": 65.0, "int8": 130.0},  # Turing: no TF32
    "rtx 4090": {"fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "int8": 660.6},
    "rtx 3090": {"fp32": 35.6, "tf32": 35.6, "fp16": 71.0, "int8": 284.0},
}


def gpu_entry(gpu_name: str | None) -> str | None:
    """The table entry for a GPU: whole words only ("l4" is not "L40S"), most specific first
    ("h200 nvl" before "h200")."""
    if not gpu_name:
        return None
    name = gpu_name.lower()
    for entry in sorted(GPU_PEAKS, key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9]){re.escape(entry)}(?![a-z0-9])", name):
            return entry
    return None


def peak_tflops(gpu_name: str | None, precision: str) -> float | None:
    entry = gpu_entry(gpu_name)
    return None if entry is None else GPU_PEAKS[entry].get(precision)

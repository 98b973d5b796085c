"""Timing: warm up for a set time, then time every batch over a measured window.

On CUDA, each iteration records events around the host-to-device copy and around the model,
so GPU compute time is reported apart from transfers, as trtexec does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Timings:
    latencies_ms: list[float] = field(default_factory=list)
    compute_ms: list[float] = field(default_factory=list)  # CUDA only
    h2d_ms: list[float] = field(default_factory=list)  # CUDA only

    def summary(self, batch: int) -> dict:
        lat = np.asarray(self.latencies_ms)
        mean = float(lat.mean())
        out = {
            "iterations": int(lat.size),
            "latency_ms": {
                "mean": round(mean, 4),
                **{f"p{q}": round(float(np.percentile(lat, q)), 4) for q in (50, 90, 95, 99)},
            },
            "throughput": round(batch * 1000.0 / mean, 2),
        }
        if self.compute_ms:
            out["gpu_compute_ms"] = round(float(np.mean(self.compute_ms)), 4)
            out["h2d_ms"] = round(float(np.mean(self.h2d_ms)), 4)
        return out


Step = Callable[[], "tuple[float, float] | None"]  # returns (h2d_ms, compute_ms) on CUDA


def measure(step: Step, warmup_s: float, duration_s: float, min_iterations: int = 3) -> Timings:
    """Run `step` for `warmup_s`, then time it for `duration_s` (and at least `min_iterations`)."""
    end = time.perf_counter() + warmup_s
    step()  # at least one warm-up run, whatever the time
    while time.perf_counter() < end:
        step()
    timings = Timings()
    end = time.perf_counter() + duration_s
    while time.perf_counter() < end or len(timings.latencies_ms) < min_iterations:
        start = time.perf_counter()
        gpu = step()
        timings.latencies_ms.append((time.perf_counter() - start) * 1e3)
        if gpu is not None:
            timings.h2d_ms.append(gpu[0])
            timings.compute_ms.append(gpu[1])
    return timings

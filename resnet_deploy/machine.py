"""Facts about this machine that several commands need: its CUDA GPUs and package versions."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path


def package_version(dist: str) -> str | None:
    """The installed version of a distribution, without importing it; None if absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cuda_gpus() -> list[dict[str, str]]:
    """Name and compute capability ("9.0") of every GPU PyTorch can use; [] without one."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [
        {
            "name": torch.cuda.get_device_name(i),
            "compute_capability": "{}.{}".format(*torch.cuda.get_device_capability(i)),
        }
        for i in range(torch.cuda.device_count())
    ]


def cuda_gpu() -> tuple[str, str] | None:
    """(name, compute capability) of the current GPU, or None."""
    gpus = cuda_gpus()
    if not gpus:
        return None
    import torch

    current = gpus[torch.cuda.current_device()]
    return current["name"], current["compute_capability"]


INT8_ISA_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp")


def cpu_int8_flags() -> list[str]:
    """The CPU's instruction-set flags that onnxruntime's int8 kernels use (Linux /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    return [flag for flag in INT8_ISA_FLAGS if flag in flags]


def has_int8_dot_product() -> bool:
    """VNNI on x86 or dot-product on ARM: u8 x s8 products accumulate without 16-bit saturation."""
    return bool({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"} & set(cpu_int8_flags()))


_CGROUPS = (  # the container's memory cgroup: (limit, usage, stat, reclaimable page cache in stat); v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
     "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file"),
)  # fmt: skip


def _read_numbers(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, /proc/meminfo) as a dict; values in the file's own unit."""
    with open(path) as handle:
        return {fields[0].rstrip(":"): int(fields[1]) for fields in map(str.split, handle) if len(fields) >= 2}


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping: the kernel's MemAvailable, lowered by
    a container's memory limit (cgroup v2 or v1; page cache it can reclaim counts as free, as the
    kubelet's working set does). None where neither can be read."""
    found = []
    try:
        found.append(_read_numbers("/proc/meminfo")["MemAvailable"] * 1024)
    except (OSError, KeyError, ValueError):
        pass
    for limit_file, usage_file, stat_file, reclaimable in _CGROUPS:
        try:
            with open(limit_file) as limit, open(usage_file) as usage:
                limit_text, used = limit.read().strip(), int(usage.read())
            if limit_text == "max" or int(limit_text) >= 1 << 60:  # no limit (v1 says so with a huge number)
                continue
            used -= _read_numbers(stat_file).get(reclaimable, 0)
            found.append(max(0, int(limit_text) - used))
        except (OSError, ValueError):
            continue
    return min(found) if found else None

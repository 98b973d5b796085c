"""Everything that differs between TensorRT families and versions, decided in one place.

Pure decisions over (family, version), testable without the library:

- Network creation: strongly typed on TensorRT >= 10.12 (where the weak-typing API is
  deprecated; removed in 11) and always on TensorRT-RTX, which only builds strongly typed
  networks. Precision then comes from the ONNX: fp16 tensors or Q/DQ nodes.
  Older 10.x builds weakly typed networks with the legacy FP16/INT8 builder flags.
- Timing cache: TensorRT only; TensorRT-RTX keeps the API as a deprecated no-op and caches
  JIT-compiled kernels in a runtime cache instead.
- Targets: TensorRT builds for the GPU it runs on (optionally hardware-compatible, Ampere+);
  TensorRT-RTX builds ahead of time, without a GPU, for a list of compute capabilities.

Sources: TensorRT 10.12 release notes (weak typing deprecated); TensorRT 10.x -> 11.x Python
API migration guide (BuilderFlag.FP16/INT8 removed); TensorRT-RTX "CPU-only AOT engines" and
"timing cache migration" pages; NVIDIA/TensorRT-RTX samples/apiUsage/python/api_usage.py.
"""

from __future__ import annotations

from dataclasses import dataclass

RTX_DEFAULT_TARGETS = ("SM80", "SM86", "SM89", "SM120")  # an empty target list means these "and later"
FAMILIES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}  # --runtime value -> module


@dataclass(frozen=True)
class TrtFamily:
    """A TensorRT flavour: `module` is `tensorrt` or `tensorrt_rtx`, `version` its `__version__`."""

    module: str
    version: str

    @property
    def is_rtx(self) -> bool:
        return self.module == "tensorrt_rtx"

    @property
    def name(self) -> str:
        return "TensorRT-RTX" if self.is_rtx else "TensorRT"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split(".")[:3] if p.isdigit())

    @property
    def strongly_typed(self) -> bool:
        return self.is_rtx or self.version_tuple >= (10, 12)

    @property
    def has_timing_cache(self) -> bool:
        return not self.is_rtx

    @property
    def builds_without_gpu(self) -> bool:
        return self.is_rtx

    def legacy_precision_flags(self, precision: str) -> list[str]:
        """BuilderFlag names a weakly typed (TensorRT < 10.12) build needs for `precision`."""
        if self.strongly_typed:
            return []
        # Explicit Q/DQ in a weakly typed network needs INT8 enabled; FP16 lets the layers
        # that stay unquantized (and the fp16 graph) run in half precision.
        return {"fp32": [], "fp16": ["FP16"], "int8": ["INT8", "FP16"]}[precision]

    def describe(self) -> str:
        return f"{self.name} {self.version}"


# Run-time decisions, over the engine objects of either family (tested on the CPU with fakes of
# each family's API surface: tests/trt/fake_tensorrt.py says what was read from which wheel).


def runtime_config_for(engine):
    """The IRuntimeConfig to create a context with, or None where the engine has none (< 10.11).

    Full TensorRT has `ICudaEngine.create_runtime_config` from 10.11 on, but its IRuntimeConfig
    only sets the allocation strategy; the runtime cache (`create_runtime_cache`) is TensorRT-RTX's
    own. So the cache is decided by what the config offers, not by the engine's methods.
    """
    create = getattr(engine, "create_runtime_config", None)
    return create() if create is not None else None


def supports_runtime_cache(config) -> bool:
    """Whether JIT-compiled kernels can be kept across runs (TensorRT-RTX's IRuntimeCache)."""
    return config is not None and hasattr(config, "create_runtime_cache") and hasattr(config, "set_runtime_cache")


@dataclass(frozen=True)
class Chunk:
    """Rows [start, stop) of a batch, run as `run_rows` rows (zero-padded up to the profile's min)."""

    start: int
    stop: int
    run_rows: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def plan_chunks(count: int, low: int, high: int) -> list[Chunk]:
    """Split `count` rows into chunks the optimization profile [low, high] accepts: at most `high`
    rows each, and a chunk below `low` (a short last batch) padded up to `low`."""
    if count < 1 or not 1 <= low <= high:
        raise ValueError(f"cannot run {count} rows on a profile of {low}..{high}")
    return [Chunk(start, min(start + high, count), max(min(start + high, count) - start, low))
            for start in range(0, count, high)]  # fmt: skip


# TensorRT DataType names -> torch dtype names (both families spell them alike).
_TORCH_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "UINT8": "uint8",
                 "INT32": "int32", "INT64": "int64", "BOOL": "bool"}  # fmt: skip


def torch_dtype_name(trt_dtype) -> str | None:
    """The torch dtype name for a TensorRT tensor dtype, or None (FP8, INT4, FP4: no I/O here)."""
    return _TORCH_DTYPES.get(getattr(trt_dtype, "name", str(trt_dtype).split(".")[-1]))

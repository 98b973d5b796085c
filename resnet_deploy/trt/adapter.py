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

"""Where the Q/DQ nodes go, per target: TensorRT's explicit-quantization rules or onnxruntime's CPU kernels.

- `tensorrt` (also TensorRT-RTX): symmetric signed int8 with zero point 0, per-channel weights, no
  int32 bias Q/DQ (TensorRT's parser rejects it), Q/DQ on the inputs of Conv/Gemm and on the
  residual input of each Add, never on conv outputs: TensorRT fuses conv + add + ReLU in int8.
- `onnxruntime-cpu`: Q/DQ around the inputs *and* outputs of every op onnxruntime can run in int8
  (Conv, Gemm, Add, MaxPool, GlobalAveragePool, ...), so its QDQ transformer fuses the graph to
  QLinearConv / QLinearAdd / QGemm and activations stay uint8 from conv to conv. Formats, measured
  on resnet50 here (AVX-512 VNNI, onnxruntime 1.32, batch 32; see benchmarks/bench_int8_cpu.py):
  U8S8 (uint8 asymmetric activations, int8 symmetric per-channel weights) fuses every conv and
  ran 3.3x FP32; per-tensor weights were no faster; S8S8 leaves 20 of 53 convs unfused (1.1x), and
  S8S8 in QOperator form ran at 0.2-0.3x, as onnxruntime's quantization guide warns. Bias stays int32
  (QLinearConv's own). `reduce_range` (7-bit weights) only where the CPU lacks VNNI / dot-product
  instructions, as the guide advises against U8S8 saturation. The docs recommend `quant_pre_process`;
  our export already folds BN and runs onnxslim with shape inference, and the pre-processor leaves
  its graph unchanged (checked on ResNet-20), so it is not run.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import ModelMetadata
from resnet_deploy.quant.graph import keep_qdq_on_residual_inputs_only

TARGETS = ("tensorrt", "onnxruntime-cpu")
DEFAULT_TARGET = "tensorrt"
TRT_QDQ_OPTIONS = {
    "ActivationSymmetric": True,  # zero point 0
    "WeightSymmetric": True,
    "QuantizeBias": False,  # int32 bias Q/DQ is rejected by TensorRT's ONNX parser
    "OpTypesToExcludeOutputQuantization": ["Conv", "Gemm", "MatMul", "Add"],  # Q/DQ on inputs only
}
CPU_QDQ_OPTIONS = {
    "ActivationSymmetric": False,  # uint8 with a zero point: a ReLU output uses all 256 levels
    "WeightSymmetric": True,
    "OpTypesToExcludeOutputQuantization": ["Gemm"],  # float logits: QGemm writes them directly
}


@dataclass(frozen=True)
class QuantLayout:
    target: str
    activation_type: str  # "int8" / "uint8"
    weight_type: str
    per_channel: bool
    reduce_range: bool
    op_types: tuple[str, ...] | None  # None: every op onnxruntime can quantize
    options: dict

    @property
    def unsigned_activations(self) -> bool:
        return self.activation_type == "uint8"

    def describe(self) -> dict[str, str]:
        """What the metadata records about the layout."""
        return {
            "quantization_target": self.target,
            "activation_type": self.activation_type,
            "weight_type": self.weight_type,
            "per_channel": str(self.per_channel).lower(),
            "reduce_range": str(self.reduce_range).lower(),
        }


def layout_for(target: str) -> QuantLayout:
    from resnet_deploy.machine import has_int8_dot_product

    if target == "tensorrt":
        return QuantLayout(target, "int8", "int8", True, False, ("Conv", "Gemm", "Add"), TRT_QDQ_OPTIONS)
    return QuantLayout(target, "uint8", "int8", True, not has_int8_dot_product(), None, CPU_QDQ_OPTIONS)


@contextlib.contextmanager
def quiet_onnxruntime() -> Iterator[None]:
    """onnxruntime.quantization prints progress to stdout and warns on the root logger; keep
    stdout clean for --json and the console for our own messages."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def save_ranges(path: Path, ranges: dict[str, tuple[float, float]], method: str) -> None:
    """Ranges in onnxruntime's calibration-cache format, which `quantize_static` reads."""
    from onnxruntime.quantization import save_tensors_data
    from onnxruntime.quantization.calibrate import TensorData, TensorsData

    data = {name: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for name, (lo, hi) in ranges.items()}
    save_tensors_data(TensorsData(ort_method(method), data), str(path))


def ort_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    return {"entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile,
            "minmax": CalibrationMethod.MinMax}[method]  # fmt: skip


def quantize_with_ranges(
    model_path: Path, ranges_cache: Path, method: str, layout: QuantLayout, output: Path, keep_float: Sequence[str] = ()
) -> tuple[onnx.ModelProto, int]:
    """The QDQ model of `model_path` for `layout`, its ONNX nodes `keep_float` left in float, and
    how many conv-branch Q/DQ pairs of residual Adds were removed (TensorRT layout)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    types = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
    with quiet_onnxruntime():
        quantize_static(
            model_path,
            output,
            None,
            calibration_cache_path=ranges_cache,
            quant_format=QuantFormat.QDQ,
            activation_type=types[layout.activation_type],
            weight_type=types[layout.weight_type],
            per_channel=layout.per_channel,
            reduce_range=layout.reduce_range,
            calibrate_method=ort_method(method),
            op_types_to_quantize=list(layout.op_types) if layout.op_types else None,
            nodes_to_exclude=list(keep_float),
            extra_options=layout.options,
        )
    quantized = onnx.load(str(output))
    removed = keep_qdq_on_residual_inputs_only(quantized) if layout.target == "tensorrt" else 0
    return quantized, removed


def require_tensorrt_layout(metadata: ModelMetadata, onnx_path: Path) -> None:
    """TensorRT builds only the TensorRT layout: a CPU-flavoured INT8 ONNX is refused with the reason."""
    target = metadata.extra.get("quantization_target", DEFAULT_TARGET)
    if target != "tensorrt":
        raise ArtifactError(
            f"{onnx_path} is INT8 laid out for {target} (Q/DQ around conv outputs, uint8 activations), which "
            "TensorRT does not build; calibrate the float32 export with --target tensorrt"
        )

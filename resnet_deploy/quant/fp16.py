"""FP16 ONNX with float32 inputs and outputs, for strongly typed TensorRT builds.

Strongly typed TensorRT (10.12+, 11, and TensorRT-RTX) takes precision from the graph, so FP16
must be in the ONNX. onnxruntime's built-in converter (a copy of onnxconverter-common's) does
it without another dependency; `keep_io_types` adds Casts so callers still pass float32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import onnx

from resnet_deploy.atomic import atomic_write
from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import read_metadata, write_metadata
from resnet_deploy.exporting.onnx_file import load_onnx
from resnet_deploy.models.weights import file_sha256
from resnet_deploy.quant.graph import has_fp16_weights, is_quantized, topological_sort


@dataclass(frozen=True)
class Fp16Result:
    path: Path
    fp16_initializers: int
    seconds: float

    def to_dict(self) -> dict:
        return {"path": str(self.path), "fp16_initializers": self.fp16_initializers, "seconds": round(self.seconds, 2)}


def convert_fp16(model_path: str | Path, output: str | Path | None = None) -> Fp16Result:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    start = time.perf_counter()
    model_path = Path(model_path)
    model = load_onnx(model_path)
    if is_quantized(model):
        raise ArtifactError(f"{model_path} is an INT8 QDQ model; convert the float32 export to FP16 instead")
    if has_fp16_weights(model):
        raise ArtifactError(f"{model_path} is already FP16")
    metadata = read_metadata(model, str(model_path))
    output = Path(output) if output else model_path.with_name(f"{model_path.stem}_fp16.onnx")

    half = convert_float_to_float16(model, keep_io_types=True)
    topological_sort(half.graph)  # the converter appends its input Casts at the end of the graph
    extra = {**metadata.extra, "source_onnx_sha256": file_sha256(model_path)}
    write_metadata(half, metadata.with_changes(precision="fp16", extra=extra))
    onnx.checker.check_model(half)
    atomic_write(output, lambda tmp: onnx.save(half, str(tmp)))
    count = sum(1 for init in half.graph.initializer if init.data_type == onnx.TensorProto.FLOAT16)
    return Fp16Result(output, count, time.perf_counter() - start)

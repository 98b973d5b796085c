"""INT8 post-training quantization to a QDQ ONNX that strongly typed TensorRT builds.

Tool: onnxruntime.quantization (already a dependency, runs on the CPU, ships a calibration
cache). The graph follows TensorRT's explicit-quantization rules: symmetric signed int8 with
zero point 0, per-channel weights, no int32 bias Q/DQ (TensorRT's parser rejects it), Q/DQ on
the inputs of Conv/Gemm and on the residual input of each Add, never on outputs.

Images are read with the model's own preprocessing from its metadata. Calibration statistics
are cached under `calib/`, keyed by model hash, preprocessing, image-set fingerprint and method,
so a rerun quantizes without touching the images.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from resnet_deploy.atomic import atomic_write
from resnet_deploy.data.decode import ImageDecodeError, decode_image
from resnet_deploy.data.folders import list_images, spread_evenly
from resnet_deploy.errors import ArtifactError, ImageDataError
from resnet_deploy.exporting.metadata import ModelMetadata, read_metadata, write_metadata
from resnet_deploy.exporting.onnx_file import load_onnx
from resnet_deploy.models.weights import file_sha256
from resnet_deploy.quant.graph import has_fp16_weights, is_quantized, keep_qdq_on_residual_inputs_only

METHODS = ("entropy", "percentile", "minmax")
DEFAULT_METHOD = "percentile"
CALIBRATION_BATCH = 32
TRT_QDQ_OPTIONS = {
    "ActivationSymmetric": True,  # zero point 0
    "WeightSymmetric": True,
    "QuantizeBias": False,  # int32 bias Q/DQ is rejected by TensorRT's ONNX parser
    "OpTypesToExcludeOutputQuantization": ["Conv", "Gemm", "MatMul", "Add"],  # Q/DQ on inputs only
}


@dataclass
class CalibrationImages:
    """The images a calibration used, and what happened to the rest."""

    arrays: list[np.ndarray]
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    resized: int = 0  # not at the model's input size; resized by the model's preprocessing
    converted: Counter = field(default_factory=Counter)  # original mode -> count, converted to RGB


@dataclass(frozen=True)
class CalibrationResult:
    path: Path
    metadata: ModelMetadata
    method: str
    images: int
    corrupt: int
    resized: int
    converted: dict[str, int]
    fingerprint: str
    cache: Path
    cache_hit: bool
    removed_branch_qdq: int
    seconds: float

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "method": self.method,
            "images": self.images,
            "corrupt": self.corrupt,
            "resized": self.resized,
            "converted": self.converted,
            "fingerprint": self.fingerprint,
            "cache": str(self.cache),
            "cache_hit": self.cache_hit,
            "seconds": round(self.seconds, 2),
        }


def calibration_order(folder: str | Path, count: int) -> list[Path]:
    """Every image of the folder: first `count` spread evenly over the sorted list (so each class
    is represented), then the rest, which stand in for images that fail to decode."""
    paths = list_images(folder)
    chosen = spread_evenly(paths, count)
    picked = set(chosen)
    return chosen + [p for p in paths if p not in picked]


def fingerprint_images(paths: list[Path], count: int) -> str:
    """Identity of the image set from path, size and mtime: cheap, so a cache hit reads no pixels."""
    digest = hashlib.sha256(f"{count}\n".encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def load_calibration_images(paths: list[Path], metadata: ModelMetadata, count: int) -> CalibrationImages:
    """Decode in order until `count` images are usable; corrupt ones are skipped and counted."""
    spec = metadata.preprocess
    result = CalibrationImages(arrays=[])
    for path in paths:
        if len(result.arrays) == count:
            break
        try:
            decoded = decode_image(path)
        except ImageDecodeError as exc:
            result.corrupt.append((str(path), str(exc)))
            continue
        if decoded.original_mode not in ("RGB",):
            result.converted[decoded.original_mode] += 1
        if decoded.original_size != (spec.input_size, spec.input_size):
            result.resized += 1
        result.arrays.append(spec(decoded.image))
    return result


class _BatchReader:
    """onnxruntime's CalibrationDataReader protocol over preprocessed arrays."""

    def __init__(self, input_name: str, arrays: list[np.ndarray]) -> None:
        # Equal batches: onnxruntime's symmetric percentile collector stacks them (a ragged last
        # batch fails), so take the largest divisor of the image count up to CALIBRATION_BATCH.
        size = max(d for d in range(1, CALIBRATION_BATCH + 1) if len(arrays) % d == 0)
        starts = range(0, len(arrays), size)
        self._batches = iter([{input_name: np.stack(arrays[i : i + size])} for i in starts])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _cache_key(model_sha: str, metadata: ModelMetadata, fingerprint: str, method: str, percentile: float) -> str:
    parts = [model_sha, metadata.preprocess.to_json(), fingerprint, method]
    if method == "percentile":
        parts.append(repr(percentile))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


@contextlib.contextmanager
def _quiet_onnxruntime() -> Iterator[None]:
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


def _ort_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    return {"entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile,
            "minmax": CalibrationMethod.MinMax}[method]  # fmt: skip


def _collect_ranges(model_path: Path, arrays: list[np.ndarray], input_name: str, method: str, percentile: float,
                    cache: Path) -> None:  # fmt: skip
    """Calibrate every float tensor (not only today's op types) and save the ranges to `cache`."""
    from onnxruntime.quantization import create_calibrator, save_tensors_data

    # TensorRT's calibrators histogram |x| into 2048 bins; entropy then searches thresholds over
    # 128 quantized bins. onnxruntime's entropy default (128 bins of 128) can only return min/max.
    options = {
        "entropy": {"symmetric": True, "num_bins": 2048, "num_quantized_bins": 128},
        "percentile": {"symmetric": True, "num_bins": 2048, "percentile": percentile},
        "minmax": {"symmetric": True},
    }[method]
    with tempfile.TemporaryDirectory() as tmp:
        calibrator = create_calibrator(
            model_path, None, Path(tmp) / "augmented.onnx", _ort_method(method), extra_options=options
        )
        calibrator.collect_data(_BatchReader(input_name, arrays))
        ranges = calibrator.compute_data()
        atomic_write(cache, lambda path: save_tensors_data(ranges, str(path)))


def calibrate_int8(
    model_path: str | Path,
    images: str | Path,
    *,
    num_images: int = 512,
    method: str = DEFAULT_METHOD,
    percentile: float = 99.99,
    output: str | Path | None = None,
    cache_dir: str | Path = "calib",
) -> CalibrationResult:
    """Write a TensorRT-ready QDQ INT8 ONNX of `model_path`, calibrated on real `images`."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    start = time.perf_counter()
    model_path = Path(model_path)
    if method not in METHODS:
        raise ArtifactError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    if not 90.0 <= percentile < 100.0:
        raise ArtifactError(f"--percentile {percentile} must be in [90, 100)")
    if num_images < 1:
        raise ArtifactError(f"--num-images must be at least 1, got {num_images}")
    model = load_onnx(model_path)
    if is_quantized(model):
        raise ArtifactError(f"{model_path} is already quantized (it has Q/DQ nodes); calibrate the float32 export")
    if has_fp16_weights(model):
        raise ArtifactError(f"{model_path} is an FP16 model; calibrate the float32 export instead")
    metadata = read_metadata(model, str(model_path))
    input_name = model.graph.input[0].name

    paths = calibration_order(images, num_images)
    fingerprint = fingerprint_images(paths, num_images)
    model_sha = file_sha256(model_path)
    key = _cache_key(model_sha, metadata, fingerprint, method, percentile)
    cache = Path(cache_dir) / f"{metadata.arch}-{method}-{key}.json"
    cache_hit = cache.is_file()
    loaded = CalibrationImages(arrays=[])
    images_used = num_images  # on a cache hit: the count the cached statistics were made from
    if not cache_hit:
        loaded = load_calibration_images(paths, metadata, num_images)
        if len(loaded.arrays) < num_images:
            raise ImageDataError(
                f"calibration needs {num_images} images but {images} has {len(loaded.arrays)} usable "
                f"({len(loaded.corrupt)} corrupt of {len(paths)} found); add images or pass --num-images "
                f"{len(loaded.arrays)}"
            )
        images_used = len(loaded.arrays)
        with _quiet_onnxruntime():
            _collect_ranges(model_path, loaded.arrays, input_name, method, percentile, cache)

    output = Path(output) if output else model_path.with_name(f"{model_path.stem}_int8.onnx")
    extra = {
        "calibration_method": method,
        "calibration_images": str(images_used),
        "calibration_fingerprint": fingerprint,
        "source_onnx_sha256": model_sha,
    }
    if method == "percentile":
        extra["calibration_percentile"] = str(percentile)
    removed = 0

    def write(tmp: Path) -> None:
        nonlocal removed
        with _quiet_onnxruntime():
            quantize_static(
                model_path,
                tmp,
                None,
                calibration_cache_path=cache,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                calibrate_method=_ort_method(method),
                op_types_to_quantize=["Conv", "Gemm", "Add"],
                extra_options=TRT_QDQ_OPTIONS,
            )
        quantized = onnx.load(str(tmp))
        removed = keep_qdq_on_residual_inputs_only(quantized)
        write_metadata(quantized, metadata.with_changes(precision="int8", extra={**metadata.extra, **extra}))
        onnx.checker.check_model(quantized)
        onnx.save(quantized, str(tmp))

    atomic_write(output, write)
    return CalibrationResult(
        path=output,
        metadata=metadata,
        method=method,
        images=images_used,
        corrupt=len(loaded.corrupt),
        resized=loaded.resized,
        converted=dict(loaded.converted),
        fingerprint=fingerprint,
        cache=cache,
        cache_hit=cache_hit,
        removed_branch_qdq=removed,
        seconds=time.perf_counter() - start,
    )

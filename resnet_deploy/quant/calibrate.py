"""INT8 post-training quantization to a QDQ ONNX, calibrated on real images.

Tool: onnxruntime.quantization (already a dependency, runs on the CPU). Two layouts
(`quant/layouts.py`): `tensorrt` (the default; what strongly typed TensorRT builds) and
`onnxruntime-cpu` (what onnxruntime's CPU kernels fuse to int8 convolutions).

Images are read with the model's own preprocessing from its metadata. Statistics are cached under
`calib/`: the activation histograms (keyed by model hash, preprocessing and image-set fingerprint)
serve every method and target, and each method's ranges are cached beside them, so a rerun, or
another method, quantizes without touching the images.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
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
from resnet_deploy.quant.graph import has_fp16_weights, is_quantized, module_path
from resnet_deploy.quant.histograms import (
    TensorHistogram,
    collect_histograms,
    load_histograms,
    save_histograms,
    tensor_range,
)
from resnet_deploy.quant.layouts import (
    DEFAULT_TARGET,
    TARGETS,
    TRT_QDQ_OPTIONS,  # noqa: F401 - re-exported: the TensorRT layout's quantize_static options
    QuantLayout,
    layout_for,
    quantize_with_ranges,
    quiet_onnxruntime,
    save_ranges,
)

METHODS = ("entropy", "percentile", "minmax")
DEFAULT_METHOD = "percentile"
CALIBRATION_BATCH = 32
HISTOGRAM_FORMAT = "abs-2048-per-batch-v1"  # part of the cache key: a new collection scheme misses old files


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
    target: str = DEFAULT_TARGET
    keep_float: tuple[str, ...] = ()
    histograms: Path | None = None

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
            "histograms": str(self.histograms) if self.histograms else None,
            "target": self.target,
            "keep_float": list(self.keep_float),
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


def _batch_feeds(input_name: str, arrays: list[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    # A batch's activations of every tensor are held at once: fewer images per batch for big inputs.
    size = CALIBRATION_BATCH if arrays[0].shape[-1] <= 64 else 8
    for start in range(0, len(arrays), size):
        yield {input_name: np.stack(arrays[start : start + size])}


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _ranges(histograms: dict[str, TensorHistogram], method: str, percentile: float, layout: QuantLayout) -> dict:
    unsigned = layout.unsigned_activations
    return {name: tensor_range(h, method, percentile=percentile, unsigned_levels=unsigned)
            for name, h in histograms.items()}  # fmt: skip


def _check_options(method: str, percentile: float, num_images: int, target: str) -> None:
    if method not in METHODS:
        raise ArtifactError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    if target not in TARGETS:
        raise ArtifactError(f"--target {target!r} is not one of {', '.join(TARGETS)}")
    if not 90.0 <= percentile < 100.0:
        raise ArtifactError(f"--percentile {percentile} must be in [90, 100)")
    if num_images < 1:
        raise ArtifactError(f"--num-images must be at least 1, got {num_images}")


def check_float_model(model: onnx.ModelProto, model_path: Path) -> None:
    """Calibration starts from the float32 export, never from a quantized or FP16 model."""
    if is_quantized(model):
        raise ArtifactError(f"{model_path} is already quantized (it has Q/DQ nodes); calibrate the float32 export")
    if has_fp16_weights(model):
        raise ArtifactError(f"{model_path} is an FP16 model; calibrate the float32 export instead")


def calibrate_int8(
    model_path: str | Path,
    images: str | Path,
    *,
    num_images: int = 512,
    method: str = DEFAULT_METHOD,
    percentile: float = 99.99,
    output: str | Path | None = None,
    cache_dir: str | Path = "calib",
    target: str = DEFAULT_TARGET,
    keep_float: Sequence[str] = (),
) -> CalibrationResult:
    """Write a QDQ INT8 ONNX of `model_path` for `target`, calibrated on real `images`.

    `keep_float`: ONNX node names (Conv/Gemm) left in float.
    """
    start = time.perf_counter()
    model_path = Path(model_path)
    _check_options(method, percentile, num_images, target)
    model = load_onnx(model_path)
    check_float_model(model, model_path)
    unknown = sorted(set(keep_float) - {node.name for node in model.graph.node})
    if unknown:
        raise ArtifactError(f"nodes to keep in float {unknown[:3]} are not in {model_path}")
    metadata = read_metadata(model, str(model_path))
    layout = layout_for(target)

    paths = calibration_order(images, num_images)
    fingerprint = fingerprint_images(paths, num_images)
    model_sha = file_sha256(model_path)
    hist_key = _key(model_sha, metadata.preprocess.to_json(), fingerprint, HISTOGRAM_FORMAT)
    histogram_file = Path(cache_dir) / f"{metadata.arch}-histograms-{hist_key}.npz"
    variant = [method, repr(percentile) if method == "percentile" else ""]
    variant.append(str(layout.unsigned_activations) if method == "entropy" else "")  # entropy's level count
    cache = Path(cache_dir) / f"{metadata.arch}-{method}-{_key(hist_key, *variant)}.json"
    loaded = CalibrationImages(arrays=[])
    images_used = num_images  # on a cache hit: the count the cached statistics were made from
    if not cache.is_file():
        histograms = load_histograms(histogram_file)
        if histograms is None:
            loaded = load_calibration_images(paths, metadata, num_images)
            if len(loaded.arrays) < num_images:
                raise ImageDataError(
                    f"calibration needs {num_images} images but {images} has {len(loaded.arrays)} usable "
                    f"({len(loaded.corrupt)} corrupt of {len(paths)} found); add images or pass --num-images "
                    f"{len(loaded.arrays)}"
                )
            images_used = len(loaded.arrays)
            with quiet_onnxruntime():
                histograms = collect_histograms(model_path, _batch_feeds(model.graph.input[0].name, loaded.arrays))
            save_histograms(histogram_file, histograms)
        ranges = _ranges(histograms, method, percentile, layout)
        atomic_write(cache, lambda path: save_ranges(path, ranges, method))
    cache_hit = not loaded.arrays

    suffix = "_int8.onnx" if target == "tensorrt" else "_int8_cpu.onnx"
    output = Path(output) if output else model_path.with_name(f"{model_path.stem}{suffix}")
    extra = {
        **metadata.extra,
        "calibration_method": method,
        "calibration_images": str(images_used),
        "calibration_fingerprint": fingerprint,
        "source_onnx_sha256": model_sha,
        **layout.describe(),
    }
    if method == "percentile":
        extra["calibration_percentile"] = str(percentile)
    if keep_float:
        extra["float_layers"] = json.dumps([module_path(node) or node for node in keep_float])
    removed = 0

    def write(tmp: Path) -> None:
        nonlocal removed
        quantized, removed = quantize_with_ranges(model_path, cache, method, layout, tmp, keep_float)
        write_metadata(quantized, metadata.with_changes(precision="int8", extra=extra))
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
        target=target,
        keep_float=tuple(keep_float),
        histograms=histogram_file,
    )

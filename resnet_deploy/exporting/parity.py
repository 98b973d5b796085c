"""Parity: onnxruntime (or a TensorRT plan) against the PyTorch reference, rebuilt from the
artifact's own metadata.

Compares logits on real images (or seeded random inputs, reported as such) and judges them
against per-precision tolerances: max |diff| <= atol + rtol * max |reference logit|,
minimum cosine similarity and top-1 agreement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from resnet_deploy.errors import ArtifactError
from resnet_deploy.models.pretrained import DownloadProgress, resolve_weights


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    min_cosine: float
    min_top1_agreement: float


# fp32 is strict float32 arithmetic on both sides. tf32 is a TensorRT plan built with TF32 on (its
# default): float32 layers with 10-bit mantissas moved ResNet-20's logits by up to 0.015 in emulation.
TOLERANCES = {
    "fp32": Tolerance(atol=1e-3, rtol=1e-4, min_cosine=0.99999, min_top1_agreement=0.999),
    "tf32": Tolerance(atol=3e-2, rtol=1e-3, min_cosine=0.9999, min_top1_agreement=0.99),
    "fp16": Tolerance(atol=5e-2, rtol=1e-2, min_cosine=0.999, min_top1_agreement=0.98),
    "int8": Tolerance(atol=1.0, rtol=0.1, min_cosine=0.98, min_top1_agreement=0.9),
}


@dataclass(frozen=True)
class LogitComparison:
    max_abs_diff: float
    mean_abs_diff: float
    min_cosine: float
    top1_agreement: float
    reference_max_abs: float

    @classmethod
    def of(cls, reference: np.ndarray, candidate: np.ndarray) -> LogitComparison:
        ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
        diff = np.abs(ref - cand)
        norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
        cosine = np.sum(ref * cand, axis=1) / np.maximum(norms, 1e-30)
        return cls(
            max_abs_diff=float(diff.max()),
            mean_abs_diff=float(diff.mean()),
            min_cosine=float(cosine.min()),
            top1_agreement=float(np.mean(ref.argmax(1) == cand.argmax(1))),
            reference_max_abs=float(np.abs(ref).max()),
        )

    def passes(self, tol: Tolerance) -> bool:
        return (
            self.max_abs_diff <= tol.atol + tol.rtol * self.reference_max_abs
            and self.min_cosine >= tol.min_cosine
            and self.top1_agreement >= tol.min_top1_agreement
        )


@dataclass(frozen=True)
class ParityReport:
    comparison: LogitComparison
    images: int
    inputs: str  # "images" or "random"
    precision: str
    tolerance: Tolerance
    passed: bool
    onnx: str
    decode_errors: int = 0
    backend: str = "onnxruntime"
    random_init: bool = False  # the artifact (and so the reference) has seeded random weights

    def to_dict(self) -> dict:
        return {
            **asdict(self.comparison),
            "images": self.images,
            "inputs": self.inputs,
            "precision": self.precision,
            "tolerance": asdict(self.tolerance),
            "passed": self.passed,
            "onnx": self.onnx,
            "decode_errors": self.decode_errors,
            "backend": self.backend,
            "random_init": self.random_init,
        }


def check_parity(
    onnx_path: str | Path,  # an .onnx, or a .plan with its sidecar
    *,
    weights: str | Path | None = None,
    images: str | Path | None = None,
    num_images: int = 256,
    batch_size: int = 64,
    tolerance: Tolerance | None = None,
    progress: DownloadProgress | None = None,
) -> ParityReport:
    """`weights`: the reference's checkpoint, a weight set of the artifact's arch, or `random`;
    None means what the artifact records (its published set, or seeded random init)."""
    from resnet_deploy.backends import open_runner
    from resnet_deploy.backends.base import run_padded
    from resnet_deploy.backends.torch_runner import TorchRunner
    from resnet_deploy.data.folders import list_images, spread_evenly
    from resnet_deploy.data.loader import Batch, iter_batches
    from resnet_deploy.exporting.metadata import RANDOM_INIT

    if num_images < 1:
        raise ArtifactError(f"--num-images must be at least 1, got {num_images}")
    if batch_size < 1:
        raise ArtifactError(f"--batch-size must be at least 1, got {batch_size}")
    candidate = open_runner(onnx_path)  # onnxruntime for .onnx, the engine runner for .plan
    meta = candidate.metadata
    if meta is None:
        raise ArtifactError(f"{onnx_path} has no resnet-deploy metadata, so its PyTorch reference is unknown")
    if weights is None and meta.weight_set.get("name"):
        weights = meta.weight_set["name"]
    if weights is not None:
        weights = resolve_weights(meta.arch, weights, progress=progress)
    if meta.weights_sha256 != RANDOM_INIT and weights is None:
        raise ArtifactError(
            f"{onnx_path} was exported from weights with sha256 {meta.weights_sha256[:12]}...; "
            "pass the same file with --weights"
        )
    reference = TorchRunner.from_arch(
        meta.arch,
        weights,
        num_classes=meta.num_classes,
        input_size=meta.input_size,
        options=meta.options,
        device="cpu",
    )
    if weights is not None and reference.metadata.weights_sha256 != meta.weights_sha256:
        raise ArtifactError(
            f"--weights {weights} (sha256 {reference.metadata.weights_sha256[:12]}...) is not the file "
            f"{onnx_path} was exported from (sha256 {meta.weights_sha256[:12]}...)"
        )
    ref_logits, cand_logits, errors = [], [], 0
    with candidate, reference:
        if images is not None:
            paths = spread_evenly(list_images(images), num_images)
            batches = iter_batches(paths, meta.preprocess, batch_size)
            source = "images"
        else:
            rng = np.random.default_rng(0)
            size = meta.input_size
            data = rng.standard_normal((num_images, 3, size, size), dtype=np.float32)
            batches = (
                Batch(data[i : i + batch_size], list(range(i, min(i + batch_size, num_images))))
                for i in range(0, num_images, batch_size)
            )
            source = "random"
        for batch in batches:
            errors += len(batch.errors)
            if len(batch.inputs):
                ref_logits.append(reference.infer(batch.inputs))
                cand_logits.append(run_padded(candidate, batch.inputs))
    if not ref_logits:
        raise ArtifactError(f"none of the images in {images} could be decoded ({errors} errors)")
    comparison = LogitComparison.of(np.concatenate(ref_logits), np.concatenate(cand_logits))
    precision = meta.precision
    sidecar = getattr(candidate, "sidecar", None)  # a TensorRT plan says whether it allowed TF32
    if precision == "fp32" and sidecar is not None and sidecar.tf32:
        precision = "tf32"
    tol = tolerance or TOLERANCES.get(precision, TOLERANCES["fp32"])
    return ParityReport(
        comparison=comparison,
        images=sum(len(r) for r in ref_logits),
        inputs=source,
        precision=precision,
        tolerance=tol,
        passed=comparison.passes(tol),
        onnx=str(onnx_path),
        decode_errors=errors,
        backend=candidate.backend,
        random_init=meta.random_init,
    )

"""`optimize`: the fastest artifact within a top-1 budget, found on the user's own images.

Candidates: float32; FP16 (TensorRT targets); INT8 with each calibration method; INT8 with the k
most sensitive layers kept in float, k = 1, 2, 4, ... until one is within the budget. Every
candidate is scored on the --eval images with the model's own preprocessing, by onnxruntime on
this CPU (for TensorRT targets it runs the same QDQ graph TensorRT would build). Calibration
statistics come from `calib/` and are collected once for every method and candidate.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from resnet_deploy.atomic import atomic_write
from resnet_deploy.backends import open_runner
from resnet_deploy.backends.batching import default_batch_size
from resnet_deploy.data.folders import list_images
from resnet_deploy.errors import ArtifactError, ImageDataError
from resnet_deploy.exporting.metadata import read_metadata
from resnet_deploy.exporting.onnx_file import load_onnx
from resnet_deploy.optimize.candidates import SPEED_TIE, Candidate, choose, score_against, speeds_decide
from resnet_deploy.optimize.evalset import EvalImages
from resnet_deploy.optimize.report import markdown, plot_png, write_json
from resnet_deploy.optimize.sensitivity import measure_sensitivity, quantizable_layers
from resnet_deploy.optimize.speed import MEASURE_S, onnxruntime_speed, tensorrt_speed
from resnet_deploy.quant.calibrate import METHODS, calibrate_int8, check_float_model

TARGETS = ("onnxruntime-cpu", "tensorrt", "tensorrt-rtx")
Progress = Callable[[str, int, int], None]  # what is running, steps done, steps in all


def _check(budget: float, target: str, sensitivity_images: int, speed_seconds: float) -> None:
    if not math.isfinite(budget) or budget < 0:
        raise ArtifactError(f"--budget {budget} must be 0 or more: the top-1 points you accept to lose")
    if target not in TARGETS:
        raise ArtifactError(f"--target {target!r} is not one of {', '.join(TARGETS)}")
    if sensitivity_images < 0:
        raise ArtifactError(f"--sensitivity-images must be 0 (all) or more, got {sensitivity_images}")
    if not speed_seconds > 0:
        raise ArtifactError(f"--speed-seconds must be positive, got {speed_seconds}")


def optimize(
    model_path: str | Path,
    calib: str | Path,
    eval_dir: str | Path,
    *,
    budget: float,
    target: str,
    output_dir: str | Path | None = None,
    num_images: int = 512,
    sensitivity_images: int = 2000,
    cache_dir: str | Path = "calib",
    speed_seconds: float = MEASURE_S,
    progress: Progress | None = None,
) -> dict:
    """Search, write the chosen artifact and the report into `output_dir`; return the report."""
    start = time.perf_counter()
    _check(budget, target, sensitivity_images, speed_seconds)
    model_path = Path(model_path)
    model = load_onnx(model_path)
    check_float_model(model, model_path)
    found = len(list_images(calib))
    if found < num_images:
        raise ImageDataError(
            f"calibration needs {num_images} images but {calib} has {found}; add images or pass --num-images {found}"
        )
    output_dir = Path(output_dir) if output_dir else Path("export") / f"{model_path.stem}_optimize"
    with tempfile.TemporaryDirectory() as tmp:
        search = _Search(model_path, model, calib, eval_dir, Path(tmp), target=target, num_images=num_images,
                         cache_dir=cache_dir, speed_seconds=speed_seconds)  # fmt: skip
        candidates, sensitivity = search.run(budget, sensitivity_images, progress)
        chosen = choose(candidates)
        artifact = output_dir / f"{model_path.stem}_optimized.onnx"
        atomic_write(artifact, lambda tmp_path: shutil.copyfile(chosen.path, tmp_path))
    report = search.report(budget, candidates, chosen, sensitivity, artifact, time.perf_counter() - start)
    plot = output_dir / "accuracy_vs_speed.png"
    title = f"{search.metadata.arch} for {target}: top-1 on {chosen.images:,} images, budget {budget} points"
    if not plot_png(plot, candidates, chosen, budget, title):
        plot = None
        report["notes"].append("no plot: matplotlib is not installed (pip install 'resnet-deploy[plot]')")
    report["files"] = {"artifact": str(artifact), "json": str(output_dir / "report.json"),
                       "markdown": str(output_dir / "report.md"), "plot": str(plot) if plot else None}  # fmt: skip
    write_json(output_dir / "report.json", report)
    atomic_write(output_dir / "report.md", lambda p: p.write_text(markdown(report, candidates, chosen, plot)))
    return report


class _Search:
    """The candidates of one model for one target, built in `work` and scored on the --eval images."""

    def __init__(self, model_path: Path, model, calib, eval_dir, work: Path, *, target: str, num_images: int,
                 cache_dir, speed_seconds: float) -> None:  # fmt: skip
        self.model_path, self.calib, self.eval_dir, self.work = model_path, calib, eval_dir, work
        self.target, self.num_images, self.cache_dir, self.speed_seconds = target, num_images, cache_dir, speed_seconds
        self.metadata = read_metadata(model, str(model_path))
        self.layers = quantizable_layers(model)
        with open_runner(model_path) as runner:
            batch_size = default_batch_size(runner)  # as `eval` batches, so the figures agree exactly
        self.images = EvalImages.from_folder(
            eval_dir, self.metadata.labels, self.metadata.preprocess, batch_size, self.metadata.label_ids
        )
        self.sample = self.images
        self.method = ""  # the calibration method the sensitivity and mixed candidates use

    def int8(self, method: str, keep: tuple[str, ...] = (), name: str | None = None) -> Path:
        out = self.work / f"{name or method}.onnx"
        quant_target = "onnxruntime-cpu" if self.target == "onnxruntime-cpu" else "tensorrt"
        calibrate_int8(self.model_path, self.calib, num_images=self.num_images, method=method, output=out,
                       cache_dir=self.cache_dir, target=quant_target, keep_float=keep)  # fmt: skip
        return out

    def measure(self, candidate: Candidate, reference: Candidate | None, budget: float) -> Candidate:
        """Top-1 on --eval, speed where the target runs, and the loss against `reference` (float32)."""
        batch = self.metadata.batch.opt
        with open_runner(candidate.path) as runner:
            outcome = self.images.run(runner)
            if self.target == "onnxruntime-cpu":
                speed = onnxruntime_speed(runner, batch, self.speed_seconds)
        if self.target != "onnxruntime-cpu":
            speed = tensorrt_speed(candidate.path, self.target, batch, self.work, self.speed_seconds)
        candidate.correct, candidate.images = outcome.correct, outcome.images
        candidate.images_per_s, candidate.speed_how = speed.images_per_s, speed.how
        score_against(candidate, reference or candidate, budget)
        return candidate

    def run(self, budget: float, sensitivity_images: int, progress: Progress | None):
        steps = _Steps(progress, 2 + (self.target != "onnxruntime-cpu") + len(METHODS) + len(self.layers)
                       + len(_doubling(len(self.layers))))  # fmt: skip
        steps("float32")
        fp32 = self.measure(Candidate("fp32", "fp32", self.model_path), None, budget)
        candidates = [fp32]
        if self.target != "onnxruntime-cpu":
            from resnet_deploy.quant.fp16 import convert_fp16

            steps("fp16")
            fp16 = convert_fp16(self.model_path, self.work / "fp16.onnx").path
            note = "accuracy on onnxruntime's CPU: fp16 weights, float32 arithmetic"
            candidates.append(self.measure(Candidate("fp16", "fp16", fp16, notes=[note]), fp32, budget))
        for method in METHODS:
            steps(f"int8 {method}")
            candidate = Candidate(f"int8 {method}", "int8", self.int8(method), method=method)
            candidates.append(self.measure(candidate, fp32, budget))

        best = max(candidates[1:], key=lambda c: (c.precision == "int8", c.correct, c.method == "percentile"))
        self.method, self.sample = best.method, self.images.subset(sensitivity_images)
        steps("sensitivity: float32 and int8 logits")
        with open_runner(self.model_path) as runner:
            reference = self.sample.run(runner, keep_logits=True)
        with open_runner(best.path) as runner:
            baseline = self.sample.run(runner, keep_logits=True)
        sensitivity = measure_sensitivity(
            self.layers,
            lambda keep: self.int8(best.method, keep, "sensitivity"),
            self.sample,
            reference,
            baseline,
            step=lambda module: steps(f"sensitivity {module}"),
        )
        by_node = {layer.node: layer for layer in self.layers}
        ranked = [by_node[s.node] for s in sensitivity]
        for k in _doubling(len(ranked)):
            steps(f"int8 {best.method}, {k} in float")
            keep = tuple(layer.node for layer in ranked[:k])
            mixed = Candidate(f"int8 {best.method}, {k} float", "int8", self.int8(best.method, keep, f"mixed{k}"),
                              method=best.method, float_layers=tuple(layer.module for layer in ranked[:k]))  # fmt: skip
            candidates.append(self.measure(mixed, fp32, budget))
            if mixed.within_budget:
                break
        steps.finish()
        return candidates, sensitivity

    def report(self, budget, candidates, chosen, sensitivity, artifact: Path, seconds: float) -> dict:
        measured = speeds_decide(candidates)
        if measured:
            rule = (f"the fastest within the budget; throughputs within {SPEED_TIE:.0%} of the fastest count as "
                    "equal, and the most accurate of them wins")  # fmt: skip
        else:
            rule = "speed is unmeasured here, so by precision: int8 < fp16 < fp32, fewest float layers, then accuracy"
        backend = "onnxruntime on this CPU"
        if self.target != "onnxruntime-cpu":
            backend += " running the same QDQ graph TensorRT builds (TensorRT's own kernels are not run here)"
        return {
            "model": str(self.model_path),
            "target": self.target,
            "budget": budget,
            "artifact": str(artifact),
            "chosen": chosen.to_dict(),
            "candidates": [c.to_dict() for c in candidates],
            "eval": {"folder": str(self.eval_dir), "images": chosen.images, "unreadable": len(self.images.errors)},
            "calibration": {"folder": str(self.calib), "images": self.num_images},
            "accuracy_backend": backend,
            "speed": next((c.speed_how for c in candidates if c.images_per_s), candidates[0].speed_how),
            "choice_rule": rule,
            "sensitivity": {
                "images": len(self.sample.paths),
                "method": self.method,
                "layers": [s.to_dict() for s in sensitivity],
            },
            "notes": [],
            "seconds": round(seconds, 1),
        }


def _doubling(count: int) -> list[int]:
    """1, 2, 4, ... below `count`, then `count` itself."""
    return [*(1 << i for i in range(count.bit_length()) if (1 << i) < count), count] if count else []


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, what: str) -> None:
        if self.progress:
            self.progress(what, self.done, self.total)
        self.done += 1

    def finish(self) -> None:
        if self.progress:
            self.progress("done", self.done, self.done)

"""The main job end to end on the embedded default model (our trained CIFAR-10 ResNet-20):
export -> check -> calibrate -> build (TensorRT-RTX) -> infer -> bench, with a short summary.

Its images: the user's folder; else the full shared CIFAR-10 JPEGs where a development checkout
has them beside it; else the small real sample packaged with resnet-deploy, so that a plain
`pip install` runs the whole job too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from resnet_deploy.errors import ArtifactError

DEFAULT_ARCH = "resnet20"
# Only our own working copies have this folder (`../shared` beside the repository).
SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"


@dataclass(frozen=True)
class DemoImages:
    """Where the demo's images come from: what to classify and what to calibrate on."""

    source: str  # said to the user: which set this is
    test: Path
    calibration: Path


def _asset(name: str) -> Path:
    return Path(str(resources.files("resnet_deploy.assets").joinpath(name)))


def embedded_weights() -> Path:
    path = _asset("resnet20_cifar10.pt")
    if not path.is_file():
        raise ArtifactError(f"the embedded default model {path} is missing; reinstall resnet-deploy")
    return path


def packaged_sample() -> DemoImages:
    """200 CIFAR-10 test JPEGs and a disjoint 200 from the training set, shipped with the package."""
    root = _asset("sample")
    test, calibration = root / "cifar10-test", root / "cifar10-calib"
    if not test.is_dir() or not calibration.is_dir():
        raise ArtifactError(f"the packaged image sample {root} is missing; reinstall resnet-deploy")
    return DemoImages("the packaged CIFAR-10 sample", test, calibration)


def default_images() -> DemoImages:
    """The full shared CIFAR-10 JPEGs where they exist, the packaged sample otherwise."""
    test, train = SHARED_IMAGES / "test", SHARED_IMAGES / "train"
    if test.is_dir() and train.is_dir():
        return DemoImages("the shared CIFAR-10 test JPEGs", test, train)
    return packaged_sample()


def run_demo(
    images: Path | None = None,
    *,
    workdir: Path = Path("demo"),
    calibration_images: Path | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> dict:
    """Run every step and return a summary dict; each step's figures are in it."""
    from resnet_deploy.backends import open_runner
    from resnet_deploy.bench.sweep import run_bench
    from resnet_deploy.data.folders import list_images
    from resnet_deploy.evaluate import evaluate
    from resnet_deploy.exporting.export import export_onnx
    from resnet_deploy.exporting.parity import check_parity
    from resnet_deploy.infer.pipeline import run_infer
    from resnet_deploy.infer.sources import expand_inputs
    from resnet_deploy.infer.writers import ResultWriter
    from resnet_deploy.quant.calibrate import calibrate_int8

    chosen = default_images() if images is None else DemoImages("your images", images, images)
    images, calibration_images = chosen.test, calibration_images or chosen.calibration
    weights = embedded_weights()
    count = len(expand_inputs([str(images)]))
    summary: dict = {"weights": str(weights), "images": {"source": chosen.source, "path": str(images), "count": count}}
    log(f"images: {chosen.source}, {count:,} images in {images}")
    start = time.perf_counter()

    log("export: embedded ResNet-20 -> ONNX")
    exported = export_onnx(DEFAULT_ARCH, weights=weights, output=workdir / "resnet20.onnx")
    summary["export"] = {"onnx": str(exported.path), "nodes": exported.nodes}

    log("check: onnxruntime against PyTorch on real images")
    parity = check_parity(exported.path, weights=weights, images=images, num_images=256)
    summary["check"] = {k: parity.to_dict()[k] for k in ("max_abs_diff", "min_cosine", "top1_agreement", "passed")}

    calibration_count = min(512, len(list_images(calibration_images)))  # the packaged sample has 200
    log(f"calibrate: INT8 QDQ on {calibration_count} images")
    int8 = calibrate_int8(exported.path, calibration_images, num_images=calibration_count, cache_dir=workdir / "calib")
    summary["calibrate"] = {"onnx": str(int8.path), "method": int8.method, "images": int8.images,
                            "cache_hit": int8.cache_hit}  # fmt: skip

    log("build: TensorRT engines (fp16, int8)")
    summary["build"] = _build_plans(exported.path, int8.path, workdir)

    log("infer: classify the images")
    labelled = _is_labelled(images, exported.metadata.labels)
    rows_path = workdir / "predictions.jsonl"
    rows_path.unlink(missing_ok=True)
    artifacts = {"onnx fp32": exported.path, "onnx int8": int8.path}
    with open_runner(exported.path) as runner:
        result = run_infer(runner, expand_inputs([str(images)]), ResultWriter(rows_path, "jsonl"))
    summary["infer"] = {"output": str(rows_path), **result.to_dict()}
    if labelled:
        summary["accuracy"] = {}
        for name, path in artifacts.items():
            with open_runner(path) as runner:
                report = evaluate(runner, images)
            summary["accuracy"][name] = {"top1": round(report.top1, 4), "images": report.images}

    log("bench: torch vs onnxruntime on this machine")
    bench = run_bench(arch=DEFAULT_ARCH, batch_sizes=[1, 64], warmup_s=0.5, duration_s=1.5)
    summary["bench"] = [
        {k: row.get(k) for k in ("backend", "precision", "batch", "throughput", "status")}
        | {"p50_ms": row.get("latency_ms", {}).get("p50")}
        for row in bench.results
    ]
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary


def _is_labelled(images: Path, labels: tuple[str, ...]) -> bool:
    """Whether `images` is an ImageFolder tree whose class folders are labels of the model."""
    from resnet_deploy.data.folders import image_folder
    from resnet_deploy.errors import ImageDataError

    try:
        return set(image_folder(images).classes) <= set(labels)
    except ImageDataError:
        return False


def _build_plans(fp32: Path, int8: Path, workdir: Path) -> dict:
    from resnet_deploy.trt.builder import build_engine

    plans = {}
    for precision, source in (("fp16", fp32), ("int8", int8)):
        try:
            result = build_engine(source, precision=precision, output=workdir / f"resnet20_{precision}.plan")
            sidecar = result.sidecar
            plans[precision] = {
                "plan": str(result.plan),
                "mb": round(sidecar.plan_bytes / 1e6, 2),
                "runtime": f"{sidecar.family_name} {sidecar.runtime_version}",
            }
        except ArtifactError as exc:
            plans[precision] = {"skipped": str(exc)}
    return plans

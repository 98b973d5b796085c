"""A Triton Inference Server model repository from our artifacts.

Each model gets `config.pbtxt` (built with Triton's own `model_config` protobuf, from
tritonclient), `1/model.onnx` or `1/model.plan`, and `labels.txt` for Triton's classification
extension. A README says what preprocessing clients must apply, how to load-test with
perf_analyzer, and which TensorRT a plan needs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from resnet_deploy.errors import ArtifactError
from resnet_deploy.exporting.metadata import ModelMetadata


@dataclass(frozen=True)
class RepoModel:
    name: str
    platform: str
    metadata: ModelMetadata
    max_batch: int
    source: Path
    tensorrt: str | None  # the TensorRT version a plan needs

    @property
    def filename(self) -> str:
        return "model.plan" if self.platform == "tensorrt_plan" else "model.onnx"


def _describe(artifact: Path) -> RepoModel:
    if not artifact.is_file():
        raise ArtifactError(f"{artifact} not found; pass .onnx files from `export`/`calibrate` or .plan files")
    suffix = artifact.suffix.lower()
    if suffix == ".onnx":
        from resnet_deploy.backends.ort_runner import load_onnx_metadata

        meta = load_onnx_metadata(artifact)
        if meta is None:
            raise ArtifactError(f"{artifact} has no resnet-deploy metadata; export it with `resnet-deploy export`")
        return RepoModel(artifact.stem, "onnxruntime_onnx", meta, meta.batch.max, artifact, None)
    if suffix in (".plan", ".engine"):
        from resnet_deploy.trt.runner import load_checked_plan

        _, sidecar = load_checked_plan(artifact, check_sidecar=False)  # verifies the hash
        if sidecar is None:
            raise ArtifactError(f"{artifact} has no sidecar; rebuild it with `resnet-deploy build`")
        if sidecar.runtime == "tensorrt_rtx":
            raise ArtifactError(
                f"{artifact} is a TensorRT-RTX plan; Triton's tensorrt_plan backend runs full TensorRT plans "
                "only. Build it with --runtime tensorrt on the serving GPU, or serve the ONNX"
            )
        needs = f"TensorRT {sidecar.runtime_version} on {sidecar.gpu_name} (sm {sidecar.compute_capability})"
        return RepoModel(artifact.stem, "tensorrt_plan", sidecar.metadata, sidecar.profile["max"][0], artifact, needs)
    raise ArtifactError(f"{artifact}: Triton repositories take .onnx or .plan files")


def model_config(model: RepoModel, *, max_batch: int | None, dynamic_batching: bool, instances: int):
    from tritonclient.grpc import model_config_pb2 as mc

    meta = model.metadata
    limit = model.max_batch if max_batch is None else max_batch
    if not 1 <= limit <= model.max_batch:
        raise ArtifactError(f"--max-batch {limit} must be between 1 and the model's batch maximum {model.max_batch}")
    config = mc.ModelConfig(name=model.name, platform=model.platform, max_batch_size=limit)
    size = meta.input_size
    config.input.add(name="input", data_type=mc.TYPE_FP32, dims=[3, size, size])
    config.output.add(name="logits", data_type=mc.TYPE_FP32, dims=[meta.num_classes], label_filename="labels.txt")
    if dynamic_batching:
        preferred = sorted({b for b in (meta.batch.opt, limit) if 1 <= b <= limit})
        config.dynamic_batching.preferred_batch_size.extend(preferred)
        config.dynamic_batching.max_queue_delay_microseconds = 100
    kind = mc.ModelInstanceGroup.KIND_GPU if model.platform == "tensorrt_plan" else mc.ModelInstanceGroup.KIND_AUTO
    config.instance_group.add(count=instances, kind=kind)
    return config


def write_triton_repo(
    artifacts: list[Path], output: Path, *, max_batch: int | None = None, dynamic_batching: bool = True,
    instances: int = 1,
) -> list[Path]:  # fmt: skip
    """Write (or replace) one model folder per artifact under `output`; returns their paths."""
    from google.protobuf import text_format

    if instances < 1:
        raise ArtifactError(f"--instances must be at least 1, got {instances}")
    models = [_describe(Path(a)) for a in artifacts]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ArtifactError(f"two artifacts would share a model name: {names}; rename one")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for model in models:
        config = model_config(model, max_batch=max_batch, dynamic_batching=dynamic_batching, instances=instances)
        with tempfile.TemporaryDirectory(dir=output, prefix=f".{model.name}.") as tmp:
            staging = Path(tmp) / model.name
            (staging / "1").mkdir(parents=True)
            shutil.copyfile(model.source, staging / "1" / model.filename)
            (staging / "config.pbtxt").write_text(text_format.MessageToString(config))
            (staging / "labels.txt").write_text("\n".join(model.metadata.labels) + "\n")
            final = output / model.name
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)  # the model folder appears complete, or not at all
        written.append(final)
    (output / "README.md").write_text(_readme(models, max_batch))
    return written


def _readme(models: list[RepoModel], max_batch: int | None) -> str:
    lines = ["# Triton model repository (written by resnet-deploy)", "",
             "Serve: `tritonserver --model-repository .`", ""]  # fmt: skip
    for model in models:
        meta, spec = model.metadata, model.metadata.preprocess
        limit = model.max_batch if max_batch is None else max_batch
        lines += [
            f"## {model.name}",
            "",
            f"- {meta.arch}, {meta.num_classes} classes, {meta.precision}, platform `{model.platform}`.",
            f"- Input `input`: float32 [N, 3, {spec.input_size}, {spec.input_size}], N <= {limit}. Output "
            "`logits` (float32); ask for `class_count` to get labels from `labels.txt`.",
            f"- Client preprocessing (apply exactly this): decode to RGB, resize the shorter side to {spec.resize} "
            f"({spec.interpolation}), centre-crop {spec.input_size}x{spec.input_size}, scale to [0, 1], subtract "
            f"mean {list(spec.mean)}, divide by std {list(spec.std)}, channel order {spec.channel_order}, NCHW.",
            f"- Preprocessing as data: `{json.dumps(json.loads(spec.to_json()))}`",
            f"- Load test: `perf_analyzer -m {model.name} --shape input:3,{spec.input_size},{spec.input_size} "
            f"-b {min(meta.batch.opt, limit)} --concurrency-range 1:8`",
        ]
        if model.tensorrt:
            lines.append(f"- This plan runs only on Triton with {model.tensorrt}; rebuild it for any other.")
        lines.append("")
    return "\n".join(lines)

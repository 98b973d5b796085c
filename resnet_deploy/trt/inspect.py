"""What a plan is: its sidecar summary and its layers.

Layers come from TensorRT's engine inspector where the plan can be deserialized (a supported
GPU), otherwise from what the build recorded in the sidecar.
"""

from __future__ import annotations

import json
from pathlib import Path

from resnet_deploy.errors import ArtifactError
from resnet_deploy.trt.runner import load_checked_plan


def inspect_plan(plan: str | Path) -> dict:
    plan = Path(plan)
    _, sidecar = load_checked_plan(plan, check_sidecar=False)  # verifies the hash; runs nothing
    if sidecar is None:
        raise ArtifactError(f"{plan} has no sidecar; only plans built by `resnet-deploy build` can be inspected")
    summary = {
        "plan": str(plan),
        "built_for": sidecar.built_for(),
        "runtime": sidecar.runtime,
        "runtime_version": sidecar.runtime_version,
        "cuda_major": sidecar.cuda_major,
        "precision": sidecar.precision,
        "strongly_typed": sidecar.strongly_typed,
        "profile": sidecar.profile,
        "inputs": sidecar.inputs,
        "outputs": sidecar.outputs,
        "arch": sidecar.metadata.arch,
        "num_classes": sidecar.metadata.num_classes,
        "preprocess": json.loads(sidecar.metadata.preprocess.to_json()),
        "onnx": sidecar.onnx_path,
        "onnx_sha256": sidecar.onnx_sha256,
        "plan_sha256": sidecar.plan_sha256,
        "plan_bytes": sidecar.plan_bytes,
        "built_at": sidecar.built_at,
    }
    try:
        summary["layers"], summary["layers_source"] = _inspector_layers(plan), "engine inspector"
    except ArtifactError as exc:
        summary["layers"], summary["layers_source"] = sidecar.layers, f"build record ({exc})"
    return summary


def _inspector_layers(plan: Path) -> list:
    from resnet_deploy.trt.runner import TensorRTRunner

    with TensorRTRunner(plan) as runner:
        trt = __import__(runner.sidecar.runtime)
        inspector = runner.engine.create_engine_inspector()
        inspector.execution_context = runner.context
        info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    return info.get("Layers", [])

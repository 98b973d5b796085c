"""Per-layer sensitivity to INT8, named by the PyTorch module each ONNX node came from.

A layer's sensitivity is what keeping it alone in float gives back, with every other layer in
INT8: the top-1 change and the drop in logit error against float32 on the sensitivity images.
The ranking uses the logit error, which moves smoothly; top-1 on a few thousand images moves in
steps of one image and ties between most layers.

Layers are named by PyTorch module path, read back from the ONNX node name (`quant.graph.module_path`);
a node whose name carries no module scopes (a dynamo export) is shown by its ONNX name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from resnet_deploy.backends import open_runner
from resnet_deploy.optimize.evalset import EvalImages, Outcome
from resnet_deploy.quant.graph import module_path

QUANTIZABLE_OPS = ("Conv", "Gemm", "MatMul")


@dataclass(frozen=True)
class Layer:
    node: str  # ONNX node name
    module: str  # PyTorch module path, or the node name when the export kept no scopes


def quantizable_layers(model: onnx.ModelProto) -> list[Layer]:
    return [
        Layer(node.name, module_path(node.name) or node.name)
        for node in model.graph.node
        if node.op_type in QUANTIZABLE_OPS
    ]


@dataclass(frozen=True)
class LayerSensitivity:
    module: str
    node: str
    top1_change: float  # points, when this layer alone stays float
    error_reduction: float  # drop in relative logit error against float32

    def to_dict(self) -> dict:
        return {
            "module": self.module,
            "node": self.node,
            "top1_change": round(self.top1_change, 3),
            "error_reduction": round(self.error_reduction, 6),
        }


def logit_error(logits: np.ndarray, reference: np.ndarray) -> float:
    """Mean squared difference from the float32 logits, relative to their mean square."""
    return float(np.mean((logits - reference) ** 2) / max(np.mean(reference**2), 1e-12))


def measure_sensitivity(
    layers: Sequence[Layer],
    quantize_keeping: Callable[[tuple[str, ...]], Path],
    images: EvalImages,
    reference: Outcome,
    baseline: Outcome,
    step: Callable[[str], None] = lambda _name: None,
) -> list[LayerSensitivity]:
    """Each layer alone kept in float (`quantize_keeping((node,))`), scored on `images`; the most
    sensitive first. `reference`: float32 logits; `baseline`: all-INT8 outcome, both on `images`."""
    base_error = logit_error(baseline.logits, reference.logits)
    results = []
    for layer in layers:
        step(layer.module)
        with open_runner(quantize_keeping((layer.node,))) as runner:
            outcome = images.run(runner, keep_logits=True)
        results.append(
            LayerSensitivity(
                module=layer.module,
                node=layer.node,
                top1_change=100.0 * (outcome.correct - baseline.correct) / outcome.images,
                error_reduction=base_error - logit_error(outcome.logits, reference.logits),
            )
        )
    return sorted(results, key=lambda s: (-s.error_reduction, -s.top1_change))

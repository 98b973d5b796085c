"""What an ONNX file carries about itself, in `metadata_props`.

Every later step (check, eval, calibrate, build, infer) reads the model's labels, preprocessing
and batch range from here, so an artifact can be used correctly on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from resnet_deploy.data.preprocess import PreprocessSpec
from resnet_deploy.errors import ArtifactError

RANDOM_INIT = "random-init"
PREFIX = "resnet_deploy."


@dataclass(frozen=True)
class BatchRange:
    """An optimization profile's batch sizes: MIN <= OPT <= MAX."""

    min: int
    opt: int
    max: int

    @classmethod
    def parse(cls, text: str) -> BatchRange:
        """'1:32:256', or a single number 'N' for a fixed batch."""
        try:
            parts = [int(p) for p in text.split(":")]
        except ValueError:
            parts = []
        if len(parts) == 1:
            parts = parts * 3
        if len(parts) != 3:
            raise ArtifactError(f"--batch {text!r} is not MIN:OPT:MAX (for example 1:32:256) or a single size")
        low, opt, high = parts
        if not 1 <= low <= opt <= high:
            raise ArtifactError(f"--batch {text}: need 1 <= MIN <= OPT <= MAX, got MIN={low} OPT={opt} MAX={high}")
        return cls(low, opt, high)

    @property
    def fixed(self) -> bool:
        return self.min == self.max

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"


@dataclass(frozen=True)
class ModelMetadata:
    arch: str
    num_classes: int
    labels: tuple[str, ...]
    preprocess: PreprocessSpec
    batch: BatchRange
    weights_sha256: str  # or RANDOM_INIT
    tool_version: str
    precision: str = "fp32"
    options: dict[str, str] = field(default_factory=dict)  # shortcut / activation / variant overrides
    extra: dict[str, str] = field(default_factory=dict)  # e.g. calibration method and image count
    label_ids: tuple[str, ...] = ()  # WordNet IDs (ImageNet), in label order; empty otherwise
    weight_set: dict[str, str] = field(default_factory=dict)  # name, url, sha256 of a published set

    @property
    def input_size(self) -> int:
        return self.preprocess.input_size

    @property
    def random_init(self) -> bool:
        return self.weights_sha256 == RANDOM_INIT

    def to_props(self) -> dict[str, str]:
        props = {
            "arch": self.arch,
            "num_classes": str(self.num_classes),
            "labels": json.dumps(list(self.labels)),
            "preprocess": self.preprocess.to_json(),
            "batch": str(self.batch),
            "weights_sha256": self.weights_sha256,
            "tool_version": self.tool_version,
            "precision": self.precision,
            "options": json.dumps(self.options, sort_keys=True),
            "extra": json.dumps(self.extra, sort_keys=True),
            "label_ids": json.dumps(list(self.label_ids)),
            "weight_set": json.dumps(self.weight_set, sort_keys=True),
        }
        return {PREFIX + key: value for key, value in props.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "the model") -> ModelMetadata:
        values = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
        if "arch" not in values:
            raise ArtifactError(
                f"{source} has no resnet-deploy metadata; export it with `resnet-deploy export` "
                "so it carries its labels and preprocessing"
            )
        try:
            return cls(
                arch=values["arch"],
                num_classes=int(values["num_classes"]),
                labels=tuple(json.loads(values["labels"])),
                preprocess=PreprocessSpec.from_json(values["preprocess"]),
                batch=BatchRange.parse(values["batch"]),
                weights_sha256=values["weights_sha256"],
                tool_version=values["tool_version"],
                precision=values.get("precision", "fp32"),
                options=json.loads(values.get("options", "{}")),
                extra=json.loads(values.get("extra", "{}")),
                label_ids=tuple(json.loads(values.get("label_ids", "[]"))),
                weight_set=json.loads(values.get("weight_set", "{}")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(f"{source} has damaged resnet-deploy metadata ({exc}); export it again") from None

    def with_changes(self, **changes: Any) -> ModelMetadata:
        return replace(self, **changes)


def read_metadata(model: Any, source: str = "the model") -> ModelMetadata:
    """Metadata of an `onnx.ModelProto`."""
    return ModelMetadata.from_props({p.key: p.value for p in model.metadata_props}, source)


def write_metadata(model: Any, metadata: ModelMetadata) -> None:
    """Replace resnet-deploy's entries in an `onnx.ModelProto`'s metadata_props."""
    keep = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in [*keep, *metadata.to_props().items()]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value

"""Reading an ONNX file given by the user, with one clear message when it is missing or not ONNX."""

from __future__ import annotations

from pathlib import Path

import onnx

from resnet_deploy.errors import ArtifactError


def load_onnx(path: str | Path, *, with_weights: bool = True) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"ONNX file {path} not found; create it with `resnet-deploy export`")
    try:
        return onnx.load(str(path), load_external_data=with_weights)
    except Exception as exc:  # protobuf raises its own DecodeError types
        raise ArtifactError(f"{path} is not an ONNX model ({type(exc).__name__}); pass a .onnx file") from None

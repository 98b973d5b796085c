"""One runner protocol for every backend: torch, onnxruntime, TensorRT.

Backends import their heavy library inside their own module, so a missing one never breaks
the others. `open_runner` picks the backend from the artifact's file type.
"""

from resnet_deploy.backends.base import InputSpec, Runner
from resnet_deploy.backends.factory import BACKENDS, open_runner

__all__ = ["BACKENDS", "InputSpec", "Runner", "open_runner"]

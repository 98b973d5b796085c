"""resnet-deploy: the ResNets of He et al. (2015, 2016) from PyTorch to verified GPU inference.

Importing this package is cheap: torch, onnxruntime and TensorRT load only inside the
modules that need them, so the CLI starts fast.
"""

__version__ = "0.1.0"

"""Parameter and multiply-add counts, as the papers count them: conv and fc layers only.

The forward pass runs on PyTorch's meta device, so even ResNet-1202 is counted instantly.
"""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int) -> int:
    """Multiply-adds of every Conv2d and Linear for one image of `input_size` x `input_size`."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total


def model_complexity(
    arch: str, *, input_size: int | None = None, num_classes: int | None = None, **options: str | None
) -> dict:
    """`{arch, params, macs, flops, input_size, num_classes}` for a registered model."""
    from resnet_deploy.models.registry import create_model, get_card

    card = get_card(arch, num_classes=num_classes, input_size=input_size)
    with torch.device("meta"):
        model = create_model(arch, num_classes=card.num_classes, **options)
    macs = count_macs(model, card.input_size)
    return {
        "arch": arch,
        "params": count_params(model),
        "macs": macs,
        "flops": 2 * macs,
        "input_size": card.input_size,
        "num_classes": card.num_classes,
    }

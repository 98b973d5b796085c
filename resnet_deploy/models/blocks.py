"""Residual units of both papers, with the 2016 paper's variants as plain options.

Notation: x is the unit's input, F(x) the residual branch, s(x) the shortcut.

Activation placement (2016, Fig. 4):
    original          ReLU(x + BN(conv(ReLU(BN(conv(x))))))
    bn_after_add      ReLU(BN(x + conv(ReLU(BN(conv(x))))))
    relu_before_add   x + ReLU(BN(conv(ReLU(BN(conv(x))))))
    relu_only_preact  x + BN(conv(ReLU(BN(conv(ReLU(x))))))
    full_preact       x + conv(ReLU(BN(conv(ReLU(BN(x))))))

Shortcut combination (2016, Fig. 2):
    identity               s(x) + F(x)
    constant_scaling       0.5 s(x) + 0.5 F(x)   (the variant that trains; 0.5 on s alone fails)
    exclusive_gating       (1 - g(x)) s(x) + g(x) F(x),  g = sigmoid(conv1x1(x))
    shortcut_only_gating   (1 - g(x)) s(x) + F(x)
    conv1x1                conv1x1(x) + F(x)
    dropout                dropout(s(x), 0.5) + F(x)

Every module here is a named class (no lambdas) so models pickle, script and export.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("original", "bn_after_add", "relu_before_add", "relu_only_preact", "full_preact")
SHORTCUT_VARIANTS = (
    "identity",
    "constant_scaling",
    "exclusive_gating",
    "shortcut_only_gating",
    "conv1x1",
    "dropout",
)
# The 2015 paper's Table 3: how a shortcut handles a change of shape.
#   A: zero-padding identity (parameter-free), B: projection only where the shape changes,
#   C: projection on every unit.
SHORTCUT_OPTIONS = ("A", "B", "C")


class ShortcutA(nn.Module):
    """Option A: subsample by `stride`, then zero-pad the new channels on both sides.

    Padding is split evenly, as in the reference CIFAR code, so its checkpoints load unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.pad_front, self.pad_back = extra // 2, extra - extra // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


def projection(in_channels: int, out_channels: int, stride: int, with_bn: bool = True) -> nn.Module:
    """Options B/C: a strided 1x1 conv (with BN, as in torchvision's `downsample`)."""
    conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if with_bn else nn.Sequential(conv)


class Gate(nn.Module):
    """g(x) = sigmoid(conv1x1(x)) of the gating shortcuts."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


class ResidualUnit(nn.Module):
    """A basic (two 3x3) or bottleneck (1x1, 3x3, 1x1) unit with any activation placement.

    Attribute names follow torchvision (`conv1`, `bn1`, ..., `downsample`) so its state_dicts,
    and the reference CIFAR checkpoints, load without renaming.
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        *,
        bottleneck: bool,
        stride: int = 1,
        stride_in_1x1: bool = False,
        shortcut: str = "B",
        activation: str = "original",
        variant: str = "identity",
        residual: bool = True,
        preact_shortcut: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"--activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if variant not in SHORTCUT_VARIANTS:
            raise ValueError(f"--variant {variant!r} is not one of {', '.join(SHORTCUT_VARIANTS)}")
        if shortcut not in SHORTCUT_OPTIONS:
            raise ValueError(f"--shortcut {shortcut!r} is not one of {', '.join(SHORTCUT_OPTIONS)}")
        out_channels = width * 4 if bottleneck else width
        if bottleneck:
            # (kernel, in, out, stride); the paper strides the first 1x1, torchvision the 3x3.
            layers = [
                (1, in_channels, width, stride if stride_in_1x1 else 1),
                (3, width, width, 1 if stride_in_1x1 else stride),
                (1, width, out_channels, 1),
            ]
        else:
            layers = [(3, in_channels, width, stride), (3, width, width, 1)]
        self.depth = len(layers)
        self.activation = activation
        self.variant = variant
        self.residual = residual
        # With pre-activation, a unit that changes shape feeds its shortcut the activated input.
        self.preact_shortcut = preact_shortcut and activation == "full_preact"
        for index, (kernel, cin, cout, s) in enumerate(layers, start=1):
            conv = nn.Conv2d(cin, cout, kernel, stride=s, padding=kernel // 2, bias=False)
            setattr(self, f"conv{index}", conv)
            setattr(self, f"bn{index}", nn.BatchNorm2d(cin if activation == "full_preact" else cout))
        self.relu = nn.ReLU(inplace=False)

        self.downsample: nn.Module | None = None
        if residual:
            changes_shape = stride != 1 or in_channels != out_channels
            if variant == "conv1x1":
                self.downsample = projection(in_channels, out_channels, stride, with_bn=False)
            elif shortcut == "C" or (shortcut == "B" and changes_shape):
                # Pre-activation nets project the already-normalised input: no BN of their own.
                self.downsample = projection(in_channels, out_channels, stride, with_bn=activation != "full_preact")
            elif changes_shape:
                self.downsample = ShortcutA(in_channels, out_channels, stride)
        self.gate = Gate(in_channels, out_channels, stride) if variant.endswith("gating") else None
        self.shortcut_dropout = nn.Dropout(0.5) if variant == "dropout" else None

    def _conv(self, index: int, h: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"conv{index}")(h)

    def _bn(self, index: int, h: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"bn{index}")(h)

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        h, last = x, self.depth
        for i in range(1, last + 1):
            if self.activation == "original":
                h = self._bn(i, self._conv(i, h))
                h = h if i == last else self.relu(h)
            elif self.activation == "bn_after_add":
                h = self._conv(i, h)
                h = h if i == last else self.relu(self._bn(i, h))
            elif self.activation == "relu_before_add":
                h = self.relu(self._bn(i, self._conv(i, h)))
            elif self.activation == "relu_only_preact":
                h = self._bn(i, self._conv(i, self.relu(h)))
            else:  # full_preact
                h = self._conv(i, self.relu(self._bn(i, h)))
        return h

    def _merge(self, x: torch.Tensor, shortcut_input: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        s = shortcut_input if self.downsample is None else self.downsample(shortcut_input)
        if self.variant == "constant_scaling":
            return 0.5 * s + 0.5 * branch
        if self.gate is not None:
            g = self.gate(shortcut_input)
            return (1 - g) * s + (g * branch if self.variant == "exclusive_gating" else branch)
        if self.shortcut_dropout is not None:
            s = self.shortcut_dropout(s)
        return s + branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preact_shortcut:
            # "both_preact": BN-ReLU once, feeding both paths, as in the 2016 reference code.
            x = self.relu(self.bn1(x))
            h = self.conv1(x)
            for i in range(2, self.depth + 1):
                h = self._conv(i, self.relu(self._bn(i, h)))
            branch = h
        else:
            branch = self._branch(x)
        if not self.residual:
            out = branch
        else:
            out = self._merge(x, x, branch)
        if self.activation == "bn_after_add":
            out = self._bn(self.depth, out)
        if self.activation in ("original", "bn_after_add"):
            out = self.relu(out)
        return out

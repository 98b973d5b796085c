"""One `ResNet` class for every network of both papers: ImageNet and CIFAR stems, basic and
bottleneck units, plain (no shortcut) nets, shortcut options A/B/C and the 2016 variants."""

from __future__ import annotations

import torch
from torch import nn

from resnet_deploy.models.blocks import ResidualUnit


class ResNet(nn.Module):
    """A stem, stages of residual units, global average pooling and a classifier `fc`.

    `stem="imagenet"`: 7x7/2 conv, BN, ReLU, 3x3/2 max pool (torchvision's names).
    `stem="cifar"`: 3x3 conv, BN, ReLU (only the conv for full pre-activation nets, whose
    first unit activates its input; they end with BN and ReLU before pooling instead).
    """

    def __init__(
        self,
        *,
        stage_units: list[int],
        stage_widths: list[int],
        bottleneck: bool,
        stem: str,
        num_classes: int,
        shortcut: str = "B",
        activation: str = "original",
        variant: str = "identity",
        residual: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        preact = activation == "full_preact"
        stem_width = 64 if stem == "imagenet" else 16
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, stem_width, 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        elif stem == "cifar":
            self.conv1 = nn.Conv2d(3, stem_width, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            raise ValueError(f"unknown stem {stem!r}")
        self.bn1: nn.Module = nn.Identity() if preact else nn.BatchNorm2d(stem_width)
        self.relu: nn.Module = nn.Identity() if preact else nn.ReLU(inplace=False)

        channels = stem_width
        for stage, (units, width) in enumerate(zip(stage_units, stage_widths, strict=True), start=1):
            layer = []
            for unit in range(units):
                stride = 2 if unit == 0 and stage > 1 else 1
                block = ResidualUnit(
                    channels,
                    width,
                    bottleneck=bottleneck,
                    stride=stride,
                    stride_in_1x1=stride_in_1x1,
                    shortcut=shortcut,
                    activation=activation,
                    variant=variant,
                    residual=residual,
                    preact_shortcut=unit == 0,
                )
                layer.append(block)
                channels = width * 4 if bottleneck else width
            setattr(self, f"layer{stage}", nn.Sequential(*layer))
        self.num_stages = len(stage_units)
        self.final_act: nn.Module = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU()) if preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # any input size exports: no shape-derived kernel
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        x = self.avgpool(self.final_act(x))
        return self.fc(torch.flatten(x, 1))

"""`PreprocessSpec`: the one description of how an image becomes a model input.

The same spec is used by eval, calibration, infer and training-time evaluation, and it travels
inside ONNX metadata and engine sidecars as JSON, so serving can never drift from calibration.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


@dataclass(frozen=True)
class PreprocessSpec:
    """Resize the shorter side to `resize`, centre-crop `input_size`, scale to [0, 1], normalise.

    This matches torchvision's `Resize(resize) + CenterCrop(input_size) + ToTensor + Normalize`.
    """

    input_size: int
    resize: int
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    channel_order: str = "RGB"

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"unknown channel order {self.channel_order!r}")
        if self.resize < self.input_size:
            raise ValueError(f"resize {self.resize} is smaller than the crop {self.input_size}")

    @classmethod
    def imagenet(cls, input_size: int = 224) -> PreprocessSpec:
        """The standard ImageNet evaluation transform (crop ratio 0.875: 256 -> 224)."""
        return cls(input_size=input_size, resize=round(input_size / 0.875))

    @classmethod
    def cifar(cls, input_size: int = 32) -> PreprocessSpec:
        """CIFAR nets see the whole image: no crop margin, only a resize for other sizes."""
        return cls(input_size=input_size, resize=input_size)

    def at_size(self, input_size: int) -> PreprocessSpec:
        """The same transform for another crop size, keeping the resize-to-crop ratio (256/224, 232/224)."""
        if input_size == self.input_size:
            return self
        return replace(self, input_size=input_size, resize=round(input_size * self.resize / self.input_size))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PreprocessSpec:
        data = json.loads(text)
        data["mean"] = tuple(data["mean"])
        data["std"] = tuple(data["std"])
        return cls(**data)

    def __call__(self, image: Image.Image) -> np.ndarray:
        """An RGB PIL image -> a float32 CHW array."""
        return self.normalize(np.asarray(self.resize_crop(image)))

    def resize_crop(self, image: Image.Image) -> Image.Image:
        """The geometric half: resize the shorter side, then centre-crop to `input_size`."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        if short != self.resize:
            new_long = int(self.resize * long / short)
            size = (self.resize, new_long) if width <= height else (new_long, self.resize)
            image = image.resize(size, _INTERPOLATIONS[self.interpolation])
        width, height = image.size
        top = int(round((height - self.input_size) / 2.0))
        left = int(round((width - self.input_size) / 2.0))
        return image.crop((left, top, left + self.input_size, top + self.input_size))

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """The photometric half: uint8 HWC (or NHWC) RGB -> float32 CHW (or NCHW), normalised."""
        array = pixels.astype(np.float32) / 255.0
        array = (array - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.channel_order == "BGR":  # mean and std are given in RGB order
            array = array[..., ::-1]
        return np.ascontiguousarray(np.moveaxis(array, -1, -3))

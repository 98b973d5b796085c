"""Safe image decoding: every file becomes an RGB image or an `ImageDecodeError` with a reason."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_deploy.errors import ImageDataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageDecodeError(ImageDataError):
    """One image that cannot be decoded; the message is the reason recorded for it."""


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit) grayscale: scale to 8 bits instead of clipping at 255.
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        array = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")  # a 2-D uint8 array is mode "L"
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels carry arbitrary colour; composite onto white as viewers show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image and what the file held before conversion (for reporting, e.g. 'CMYK')."""

    image: Image.Image
    original_mode: str
    original_size: tuple[int, int]


def load_rgb(path: str | Path) -> Image.Image:
    """Decode `path` fully into an RGB image, applying EXIF orientation.

    Raises `ImageDecodeError` for anything that is not a readable, complete, sane image.
    """
    return decode_image(path).image


def decode_image(path: str | Path) -> DecodedImage:
    """`load_rgb`, also reporting the file's original mode and size."""
    path = Path(path)
    with _file_errors(path):
        if path.stat().st_size == 0:
            raise ImageDecodeError("empty file (0 bytes)")
        return _decode(path)  # Pillow reads lazily: a large non-image costs only its header


def decode_bytes(data: bytes) -> DecodedImage:
    """`decode_image` for an image held in memory (e.g. an object read from S3)."""
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    return _decode(io.BytesIO(data))


def read_image_file(path: str | Path, limit: int) -> bytes:
    """A file's bytes for `decode_bytes`; files over `limit` bytes are refused, not read."""
    path = Path(path)
    with _file_errors(path):
        size = path.stat().st_size
        if size > limit:
            raise ImageDecodeError(f"too large for an image ({size / 2**20:.0f} MiB)")
        return path.read_bytes()


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """File-system errors as the reasons recorded for an image."""
    try:
        yield
    except FileNotFoundError:
        reason = "broken symlink" if path.is_symlink() else "file not found"
        raise ImageDecodeError(reason) from None
    except PermissionError:
        raise ImageDecodeError("permission denied") from None
    except IsADirectoryError:
        raise ImageDecodeError("is a directory") from None


def _decode(source: Path | io.BytesIO) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; treat both as bombs.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image.load()
                mode, size = image.mode, image.size
                image = ImageOps.exif_transpose(image)
                return DecodedImage(_to_rgb(image), mode, size)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # the caller's `_file_errors` names these
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated and corrupt data as OSError/SyntaxError.
        raise ImageDecodeError(f"corrupt image: {exc}") from None

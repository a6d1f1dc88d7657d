"""Open image files and bring every pixel format to 8-bit RGB.

The rules: grayscale/bilevel/CMYK/YCbCr → RGB by PIL's conversion; 16- and 32-bit integer grayscale
(``I;16*``, ``I``) are rescaled from the 16-bit range (``v / 257``), not clipped; float images (``F``) are
taken to lie in [0, 1]; anything with transparency (RGBA, LA, palette with a transparent colour) is
composited onto white. Unreadable or truncated files raise :class:`kit.errors.DataError` naming the file.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np
from PIL import Image

from kit.errors import DataError
from kit.io import content_hash, file_sha256

ImageLike = Union[str, os.PathLike, Image.Image]


def _gray_to_rgb(a: np.ndarray) -> Image.Image:
    a8 = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(a8[..., None], 3, axis=2), mode="RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of ``img`` (see the module docstring for the conversion rules)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I"):  # I;16, I;16B, I;16L, I (16-bit PNG/TIFF grayscale)
        return _gray_to_rgb(np.asarray(img, dtype=np.float64) / 257.0)
    if mode == "F":
        return _gray_to_rgb(np.asarray(img, dtype=np.float64) * 255.0)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    elif mode in ("L", "1") and "transparency" in img.info:
        img = img.convert("LA")
        mode = "LA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def open_image(item: ImageLike) -> Image.Image:
    """Decode a path (or take a PIL image) and return it as 8-bit RGB; errors name the file."""
    if isinstance(item, Image.Image):
        try:
            return to_rgb(item)
        except (OSError, ValueError) as e:
            raise DataError(f"in-memory image (mode {item.mode!r}, size {item.size}) "
                            f"cannot be converted to RGB: {e}") from None
    path = os.fspath(item)
    try:
        with Image.open(path) as img:
            img.load()  # decodes fully: a truncated file fails here, not later
            return to_rgb(img).copy()
    except FileNotFoundError:
        raise DataError(f"image file {path!r} does not exist") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"image file {path!r} is unreadable or truncated: {e}") from None


def _file_digest(path: str) -> bytes:
    """SHA-256 of a file's bytes (:func:`kit.io.file_sha256`, cached per process); a DataError names the file."""
    try:
        return bytes.fromhex(file_sha256(path))
    except OSError as e:
        raise DataError(f"image file {path!r} cannot be read: {e}") from None


def image_list_hash(images: Sequence[ImageLike]) -> str:
    """:func:`kit.io.content_hash` of the images' SHA-256 digests in order (of the file's bytes, or of a PIL
    image's mode, size and pixels).

    The names of the files do not enter: the same pictures in another folder give the same hash. A file is
    read once per process while its size and modification time stay the same.
    """
    return content_hash(*(_image_digest(item) for item in images))


def _image_digest(item: ImageLike) -> bytes:
    """The 32 bytes of one image's SHA-256: of its file, or of a PIL image's mode, size and pixels."""
    if isinstance(item, Image.Image):
        return bytes.fromhex(content_hash(f"{item.mode}{item.size}", item.tobytes()))
    return _file_digest(os.fspath(item))

"""Images made on the server for people: blurred greyscale thumbnails, and reveals.

The browser never receives a file's own bytes. The review queue gets a small, heavily blurred,
greyscale JPEG (shapes and layout only, enough to group and navigate); a reveal gets a re-encoded
JPEG, greyscale unless colour was asked for, with no metadata carried over.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

THUMB_EDGE = 192
REVEAL_EDGE = 1024
# The thumbnail is rebuilt from a 16-pixel-wide copy, then blurred again: no detail survives.
_COARSE_EDGE = 16
_BLUR_RADIUS = 6


class NotAnImageError(ValueError):
    """Content that cannot be shown as an image (an unsupported type, a damaged file)."""


def _video_frame(data: bytes) -> Image.Image:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            for frame in container.decode(video=0):
                image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
                return image
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise NotAnImageError(f"no frame could be decoded ({exc})") from None
    raise NotAnImageError("the video has no frames")


def decode(data: bytes, kind: str) -> Image.Image:
    """The content as an upright image (the first frame of a video)."""
    if kind == "video":
        return _video_frame(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise NotAnImageError(f"not a displayable image ({exc})") from None
    upright = ImageOps.exif_transpose(image)
    return upright if upright is not None else image


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def blurred_thumbnail(image: Image.Image) -> bytes:
    grey = image.convert("L")
    grey.thumbnail((THUMB_EDGE, THUMB_EDGE))
    width, height = grey.size
    scale = _COARSE_EDGE / max(width, height)
    coarse = grey.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX
    )
    smooth = coarse.resize((width, height), Image.Resampling.BILINEAR)
    return _jpeg(smooth.filter(ImageFilter.GaussianBlur(_BLUR_RADIUS)), 70)


def revealed(image: Image.Image, *, colour: bool) -> bytes:
    shown = image.convert("RGB" if colour else "L")
    shown.thumbnail((REVEAL_EDGE, REVEAL_EDGE))
    return _jpeg(shown, 85)

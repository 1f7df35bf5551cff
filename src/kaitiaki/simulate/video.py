"""A short generated video for the demo sample, and a re-encoded copy of it (PyAV / FFmpeg).

The clip pans across an enlarged package photo with a disc moving over it: PDQ gives flat or
smooth frames a low quality (< 50, so vPDQ would not use them), and a texture in motion keeps
every frame well above that. The copy is smaller, made by another codec at a lower bit rate:
its bytes (and so its MD5) differ entirely, while its vPDQ frames stay within matching distance.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream
from numpy.typing import NDArray
from PIL import Image

from kaitiaki.simulate.images import package_photo

# The texture under the pan; kept out of the still images so a frame never matches a photo.
TEXTURE_PHOTO = "ihc.png"
SECONDS = 6
FPS = 30
SIZE = (320, 240)
COPY_SIZE = (240, 180)
COPY_BIT_RATE = 120_000


def _texture() -> NDArray[np.uint8]:
    photo = package_photo(TEXTURE_PHOTO).convert("RGB")
    enlarged = photo.resize((photo.width * 2, photo.height * 2), Image.Resampling.BICUBIC)
    return np.asarray(enlarged, dtype=np.uint8)


def frames(seed: int) -> list[NDArray[np.uint8]]:
    """The clip's frames as RGB arrays: a diagonal pan plus a bouncing disc, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    texture = _texture()
    width, height = SIZE
    count = SECONDS * FPS
    x0 = int(rng.integers(0, texture.shape[1] - width - count * 3))
    y0 = int(rng.integers(0, texture.shape[0] - height - count))
    colour = rng.integers(0, 256, 3).astype(np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    out = []
    for i in range(count):
        frame = texture[y0 + i : y0 + i + height, x0 + 3 * i : x0 + 3 * i + width].copy()
        # The disc bounces across the frame; its path is a triangle wave, so no jump cuts.
        cx = abs((i * 4) % (2 * width) - width)
        cy = height // 2 + int(height / 3 * np.sin(i / 15))
        frame[(xs - cx) ** 2 + (ys - cy) ** 2 < 30**2] = colour
        out.append(frame)
    return out


def _encode(
    path: Path,
    images: list[NDArray[np.uint8]],
    codec: str,
    size: tuple[int, int],
    options: dict[str, str],
    bit_rate: int | None = None,
) -> None:
    with av.open(str(path), mode="w", format="mp4") as container:
        # "threads" also as an open option: libavcodec applies its options when the encoder
        # opens, after anything set on the context, and a frame-threaded x264 under a loaded
        # machine gave a different file for the same seed.
        stream = container.add_stream(codec, rate=FPS, options={**options, "threads": "1"})
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        # One thread: x264's output then depends only on its input, so a seed gives one file.
        stream.codec_context.thread_count = 1
        for image in images:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if (frame.width, frame.height) != size:
                frame = frame.reformat(width=size[0], height=size[1])
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_clip(path: Path, seed: int) -> None:
    """The original: H.264 at 320x240, 30 fps, 6 s."""
    _encode(path, frames(seed), "libx264", SIZE, {"crf": "20", "preset": "fast"})


def write_copy(original: Path, path: Path) -> None:
    """The re-encoded copy: the original decoded, scaled to 240x180, MPEG-4 Part 2, 120 kb/s."""
    with av.open(str(original)) as container:
        images = [
            np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8)
            for f in container.decode(video=0)
        ]
    _encode(path, images, "mpeg4", COPY_SIZE, {}, bit_rate=COPY_BIT_RATE)

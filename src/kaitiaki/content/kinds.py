"""The kinds of content kaitiaki tells apart, and detection by magic bytes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import filetype

from kaitiaki.content.diskmagic import disk_image_mime
from kaitiaki.content.tarreader import is_old_tar_header

# filetype looks at the first 261 bytes; MP4/MOV boxes and TAR's "ustar" at 257 need that much.
# ISO 9660 and UDF volume descriptors start at 32 KiB (sector 16 of 2048 bytes): 48 KiB covers
# the primary, Joliet and boot descriptors and a UDF bridge's "BEA01"/"NSR0x" after them.
HEADER_SIZE = 48 * 1024


class ContentKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    ARCHIVE = "archive"
    DISK_IMAGE = "disk_image"
    OTHER = "other"
    EMPTY = "empty"


# Compressed single-stream formats are archives to us only when they wrap a tar; the reader decides.
_ARCHIVE_MIMES = {
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    # Recognised so that its members are reported as not read (no RAR reader), not ignored.
    "application/x-rar-compressed",
}
# Types Pillow can decode into pixels for PDQ.
_IMAGE_MIMES = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/x-icon",
    "image/vnd.adobe.photoshop",
}


@dataclass(frozen=True, slots=True)
class Detected:
    kind: ContentKind
    mime: str


def detect(header: bytes) -> Detected:
    """Classify content from its first bytes (at least ``HEADER_SIZE`` when the blob has them)."""
    if not header:
        return Detected(ContentKind.EMPTY, "application/x-empty")
    guess = filetype.guess(header)
    if guess is None:
        if len(header) > 262 and header[257:262] == b"ustar":
            return Detected(ContentKind.ARCHIVE, "application/x-tar")
        if is_old_tar_header(header):  # pre-POSIX tar: no magic, only a header checksum
            return Detected(ContentKind.ARCHIVE, "application/x-tar")
        # Disk images only where nothing more specific matched: a boot sector's 0x55AA is short.
        disk = disk_image_mime(header)
        if disk is not None:
            return Detected(ContentKind.DISK_IMAGE, disk)
        return Detected(ContentKind.OTHER, "application/octet-stream")
    mime: str = guess.mime
    if mime in _IMAGE_MIMES:
        return Detected(ContentKind.IMAGE, mime)
    if mime.startswith("video/"):
        return Detected(ContentKind.VIDEO, mime)
    if mime in _ARCHIVE_MIMES:
        return Detected(ContentKind.ARCHIVE, mime)
    return Detected(ContentKind.OTHER, mime)

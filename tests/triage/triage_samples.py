"""A small benign "seized device" for the triage tests: generated images and package photos,
camera EXIF written with Pillow, and a VICS set with series (plain helpers; fixtures in
conftest)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from kaitiaki.hashsets import import_hash_set
from kaitiaki.scan.runner import ScanResult, run_scan
from kaitiaki.signals.pdq import hash_image_bytes
from kaitiaki.simulate.images import VARIANTS, package_photo
from kaitiaki.store import Store

CAMERA = ("Canon", "EOS 5D Mark IV", "SN-TRIAGE-0001")
AUCKLAND = (-36.841806, 174.75)  # 36°50'30.5" S, 174°45'0" E
LONDON = (51.5, -0.1275)  # 51°30'0" N, 0°7'39" W
EVIDENCE = "phone-01"
SERIES_UNIDENTIFIED = "Triage-Unidentified"
SERIES_IDENTIFIED = "Triage-Identified"
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def texture(seed: int, size: int = 160) -> Image.Image:
    """A distinct textured image per seed (smoothed noise: high PDQ quality, random hash)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    # Whole hundredths of a second of arc first, so rounding never writes 60 seconds (1.9
    # degrees is 1 deg 53.99999... min: naive rounding gives 1 deg 53 min 60.00 s).
    hundredths = round(abs(value) * 360_000)
    degrees, rest = divmod(hundredths, 360_000)
    minutes, seconds = divmod(rest, 6_000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 100)


def jpeg(
    image: Image.Image,
    *,
    camera: tuple[str, str, str] | None = None,
    taken: datetime | None = None,
    gps: tuple[float, float] | None = None,
) -> bytes:
    """JPEG bytes with the camera EXIF a phone or camera writes (Pillow's Exif)."""
    exif = Image.Exif()
    if camera is not None:
        exif[0x010F], exif[0x0110] = camera[0], camera[1]
        exif.get_ifd(0x8769)[0xA431] = camera[2]
    if taken is not None:
        stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif[0x0132] = stamp
        exif.get_ifd(0x8769)[0x9003] = stamp
    if gps is not None:
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "N" if gps[0] >= 0 else "S"
        ifd[2] = _dms(gps[0])
        ifd[3] = "E" if gps[1] >= 0 else "W"
        ifd[4] = _dms(gps[1])
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


@dataclass
class Device:
    root: Path
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, data: bytes) -> str:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.files[path] = data
        return hashlib.sha256(data).hexdigest()

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()


def build_device(root: Path) -> Device:
    """DCIM: 12 camera originals (one camera, two with GPS, one listed in the set); Pictures:
    a package photo and four edits of it (one near-duplicate group); Downloads: unrelated
    photos, two listed in the set (one twice: a duplicate); a note."""
    device = Device(root)
    for i in range(12):
        gps = AUCKLAND if i == 0 else LONDON if i == 1 else None
        device.add(
            f"DCIM/100CANON/IMG_{i:04d}.JPG",
            jpeg(texture(100 + i), camera=CAMERA, taken=datetime(2021, 3, 4 + i, 10, 0), gps=gps),
        )
    photo = package_photo("motorcycle_left.png")
    device.add("Pictures/bike.jpg", jpeg(photo))
    for suffix, transform in VARIANTS[:4]:
        device.add(f"Pictures/bike-{suffix}.jpg", jpeg(transform(photo)))
    for name in ("rocket.jpg", "coins.png", "astronaut.png", "coffee.png"):
        device.add(f"Downloads/{name.split('.')[0]}.jpg", jpeg(package_photo(name)))
    device.add("Downloads/copy/astronaut.jpg", device.files["Downloads/astronaut.jpg"])
    device.add("Documents/note.txt", b"shopping list\n")
    return device


def media(
    media_id: int, data: bytes, category: int, series: str, identified: bool
) -> dict[str, Any]:
    return {
        "MediaID": media_id,
        "MD5": hashlib.md5(data).hexdigest().upper(),
        "Category": category,
        "Series": series,
        "VictimIdentified": "true" if identified else "false",
        "OffenderIdentified": "false",
        "PDQ": hash_image_bytes(data).hex,
    }


def write_set(path: Path, device: Device) -> Path:
    """A VICS 2.0 set listing three files of the device with series."""
    records = [
        media(1, device.files["Downloads/astronaut.jpg"], 1, SERIES_UNIDENTIFIED, False),
        media(2, device.files["Downloads/coffee.jpg"], 2, SERIES_IDENTIFIED, True),
        media(3, device.files["DCIM/100CANON/IMG_0005.JPG"], 1, SERIES_UNIDENTIFIED, False),
    ]
    path.write_text(json.dumps({"@odata.context": VICS_CONTEXT, "value": records}))
    return path


def scan_device(store: Store, tmp_path: Path) -> tuple[Device, ScanResult]:
    device = build_device(tmp_path / "device")
    import_hash_set(store, write_set(tmp_path / "set.json", device), "vid-set", actor="cli:tester")
    result = run_scan(
        store,
        [device.root],
        EVIDENCE,
        workers=1,
        acquired_by="DC Example",
        description="phone",
        actor="test:setup",
    )
    return device, result

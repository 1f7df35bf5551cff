"""Reading the EXIF summary a scan stored for a file: camera, capture time, GPS position.

The scan keeps EXIF as text (``kaitiaki.signals.pdq.exif_summary``): make, model, serial,
``datetime`` / ``datetime_original`` as the camera wrote them ("YYYY:MM:DD HH:MM:SS", the
camera's own clock, no zone) and the GPS IFD as ``{tag number: str(value)}``, where degrees,
minutes and seconds are a tuple's text such as ``"(36.0, 50.0, 30.5)"``. Nothing here trusts
that text: a value that does not parse, or a position off the globe, is treated as absent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# GPS IFD tags (EXIF 2.3, table 15).
_LAT_REF, _LAT, _LON_REF, _LON = "1", "2", "3", "4"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True, order=True)
class Camera:
    """A camera as EXIF names it; ``serial`` is empty when the camera does not record one."""

    make: str
    model: str
    serial: str = ""

    def __str__(self) -> str:
        name = " ".join(p for p in (self.make, self.model) if p) or "unknown camera"
        return f"{name} (serial {self.serial})" if self.serial else name


def _text(exif: dict[str, Any], key: str) -> str:
    value = exif.get(key)
    return " ".join(str(value).split()) if value is not None else ""


def camera(exif: dict[str, Any] | None) -> Camera | None:
    """The camera a file names, or None without a make or a model."""
    if not exif:
        return None
    make, model = _text(exif, "make"), _text(exif, "model")
    if not make and not model:
        return None
    return Camera(make, model, _text(exif, "serial"))


def capture_time(exif: dict[str, Any] | None) -> datetime | None:
    """DateTimeOriginal (when the shutter fired) as a naive camera-local time, or None."""
    if not exif:
        return None
    found = _EXIF_TIME.fullmatch(_text(exif, "datetime_original"))
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00" is what cameras write for "not set"
        return None


def intact(exif: dict[str, Any] | None) -> bool:
    """Camera EXIF as a camera writes it: a make or model and a capture time.

    Sharing platforms and most messengers strip this block, so a file that still carries it
    has probably not passed through them: it may be an original, straight from the camera.
    """
    return camera(exif) is not None and capture_time(exif) is not None


def _degrees(text: str) -> float | None:
    numbers = [float(n) for n in _NUMBER.findall(text)]
    if not numbers or len(numbers) > 3 or any(math.isnan(n) or n < 0 for n in numbers):
        return None
    degrees, minutes, seconds = [*numbers, 0.0, 0.0][:3]
    if minutes >= 60 or seconds >= 60:
        return None
    return degrees + minutes / 60 + seconds / 3600


def gps_position(exif: dict[str, Any] | None) -> tuple[float, float] | None:
    """(latitude, longitude) in decimal degrees, south and west negative; None when absent,
    incomplete or impossible. (0, 0) is refused too: it is what a GPS without a fix writes."""
    gps = (exif or {}).get("gps")
    if not isinstance(gps, dict):
        return None
    lat_ref = str(gps.get(_LAT_REF, "")).strip().upper()[:1]
    lon_ref = str(gps.get(_LON_REF, "")).strip().upper()[:1]
    if lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    lat, lon = _degrees(str(gps.get(_LAT, ""))), _degrees(str(gps.get(_LON, "")))
    if lat is None or lon is None or lat > 90 or lon > 180 or (lat == 0 and lon == 0):
        return None
    return (-lat if lat_ref == "S" else lat), (-lon if lon_ref == "W" else lon)

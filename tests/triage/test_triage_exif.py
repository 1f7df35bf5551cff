"""Reading the stored EXIF summary: GPS to decimal degrees, capture times, cameras."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from triage_samples import CAMERA, jpeg, texture

from kaitiaki.signals.pdq import exif_summary
from kaitiaki.triage.exif import Camera, camera, capture_time, gps_position, intact


def _summary(data: bytes) -> dict[str, object] | None:
    return exif_summary(Image.open(io.BytesIO(data)))


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-89.99, 89.99, allow_nan=False),
    st.floats(-179.99, 179.99, allow_nan=False),
)
def test_gps_written_by_pillow_reads_back_as_decimal_degrees(lat: float, lon: float) -> None:
    if abs(lat) < 1e-3 and abs(lon) < 1e-3:
        return  # (0, 0) is refused on purpose: a GPS without a fix writes it
    data = jpeg(texture(1, 32), gps=(lat, lon))
    found = gps_position(_summary(data))
    assert found == (pytest.approx(lat, abs=1e-5), pytest.approx(lon, abs=1e-5))


def test_camera_and_capture_time_from_a_real_jpeg() -> None:
    data = jpeg(texture(2, 32), camera=CAMERA, taken=datetime(2022, 1, 2, 3, 4, 5))
    summary = _summary(data)
    assert camera(summary) == Camera(*CAMERA)
    assert str(camera(summary)) == "Canon EOS 5D Mark IV (serial SN-TRIAGE-0001)"
    assert capture_time(summary) == datetime(2022, 1, 2, 3, 4, 5)
    assert intact(summary)
    stripped = _summary(jpeg(texture(2, 32)))
    assert camera(stripped) is None and not intact(stripped)


@pytest.mark.parametrize(
    "gps",
    [
        {},
        {"1": "N", "2": "(91.0, 0.0, 0.0)", "3": "E", "4": "(10.0, 0.0, 0.0)"},
        {"1": "N", "2": "(10.0, 61.0, 0.0)", "3": "E", "4": "(10.0, 0.0, 0.0)"},
        {"1": "N", "2": "(nan, nan, nan)", "3": "E", "4": "(10.0, 0.0, 0.0)"},
        {"1": "X", "2": "(10.0, 0.0, 0.0)", "3": "E", "4": "(10.0, 0.0, 0.0)"},
        {"1": "N", "2": "(0.0, 0.0, 0.0)", "3": "E", "4": "(0.0, 0.0, 0.0)"},
        {"1": "N", "2": "garbage", "3": "E", "4": "(10.0, 0.0, 0.0)"},
    ],
)
def test_impossible_or_partial_positions_are_absent(gps: dict[str, str]) -> None:
    assert gps_position({"gps": gps}) is None


def test_unset_capture_times_are_absent() -> None:
    assert capture_time({"datetime_original": "0000:00:00 00:00:00"}) is None
    assert capture_time({"datetime_original": "yesterday"}) is None
    assert capture_time(None) is None
    position = {"1": "N", "2": "(10.0, 30.0, 0.0)", "3": "W", "4": "(1.0, 0.0, 36.0)"}
    assert gps_position({"gps": position}) == (10.5, -1.01)

"""Fixtures for the scan tests."""

from __future__ import annotations

import pytest
from scan_samples import jpeg
from skimage import data


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """Photos that scikit-image ships, as JPEG bytes."""
    return {
        "astronaut": jpeg(data.astronaut()),
        "coffee": jpeg(data.coffee()),
        "chelsea": jpeg(data.chelsea()),
        "rocket": jpeg(data.rocket()),
    }

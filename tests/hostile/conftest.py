"""The corpus runs its files through the fuzz suite's sandbox (``tests/fuzz``), so that folder's
plain helpers must be importable by bare name here too, as ``tests/`` itself is."""

from __future__ import annotations

import sys
from pathlib import Path

FUZZ = str(Path(__file__).resolve().parents[1] / "fuzz")
if FUZZ not in sys.path:
    sys.path.insert(0, FUZZ)

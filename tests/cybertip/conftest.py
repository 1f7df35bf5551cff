"""The provider-report tests share the analysed simulated operations of the referral tests
(tests/refer/cybertip_samples.py, which the deconfliction tests use too): importable by bare
name here as well, as tests/web does with tests/receive."""

from __future__ import annotations

import sys
from pathlib import Path

REFER = str(Path(__file__).resolve().parents[1] / "refer")
if REFER not in sys.path:
    sys.path.append(REFER)

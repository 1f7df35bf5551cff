"""Signal types: the hashes kaitiaki computes. One module per hash; register it in ``SIGNALS``.

Cryptographic digests are not a plug-in: every file gets them, in the same single read that
feeds the perceptual signals (see ``crypto``).
"""

from kaitiaki.signals.base import SignalType
from kaitiaki.signals.pdq import PdqSignal
from kaitiaki.signals.vpdq import VpdqSignal

SIGNALS: tuple[SignalType, ...] = (PdqSignal(), VpdqSignal())

__all__ = ["SIGNALS", "PdqSignal", "SignalType", "VpdqSignal"]

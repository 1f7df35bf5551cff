"""Signal types: the hashes kaitiaki computes and matches on, one module per type.

``SIGNALS`` are computed from content by the scan; the digests are not a plug-in: every file
gets them, in the same single read that feeds the perceptual signals (see ``crypto``). Every
other stage finds a type by its name with ``signal_type``.
"""

from kaitiaki.signals.base import SignalError, SignalType
from kaitiaki.signals.crypto import Md5Signal, Sha1Signal, Sha256Signal
from kaitiaki.signals.pdq import PdqSignal
from kaitiaki.signals.robust import RobustSignal
from kaitiaki.signals.vpdq import VpdqSignal

PDQ = PdqSignal()
VPDQ = VpdqSignal()
ROBUST = RobustSignal()
MD5 = Md5Signal()
SHA1 = Sha1Signal()
SHA256 = Sha256Signal()

SIGNALS: tuple[SignalType, ...] = (PDQ, ROBUST, VPDQ)
DIGESTS: tuple[SignalType, ...] = (SHA256, SHA1, MD5)
_BY_NAME: dict[str, SignalType] = {s.name: s for s in (*DIGESTS, *SIGNALS)}


def signal_type(name: str) -> SignalType:
    """The signal type called ``name``; ``SignalError`` naming the known ones otherwise."""
    found = _BY_NAME.get(name)
    if found is None:
        raise SignalError(f"unknown signal type {name!r} (known: {', '.join(sorted(_BY_NAME))})")
    return found


__all__ = [
    "DIGESTS",
    "MD5",
    "PDQ",
    "ROBUST",
    "SHA1",
    "SHA256",
    "SIGNALS",
    "VPDQ",
    "PdqSignal",
    "RobustSignal",
    "SignalError",
    "SignalType",
    "VpdqSignal",
    "signal_type",
]

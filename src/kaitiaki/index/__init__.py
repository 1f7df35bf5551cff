"""Exact range search over PDQ hashes (see ``pdq``), alone or per hash set (``bank``)."""

from kaitiaki.index.bank import HashSetIndex, PdqBank
from kaitiaki.index.pdq import PdqIndex, RangeResult, brute_force, bytes_to_hex, hex_to_bytes

__all__ = [
    "HashSetIndex",
    "PdqBank",
    "PdqIndex",
    "RangeResult",
    "brute_force",
    "bytes_to_hex",
    "hex_to_bytes",
]

"""Stand-in hash sets in Project VIC's VICS 2.0 JSON, written directly (no importer involved).

Two fields are not in the VICS data model: ``PDQ`` (the 64-hex PDQ of an image) and ``VPDQ``
(a video's frames as ``[frame, quality, pdq_hex, seconds]``). Importers that know them match
variants perceptually; others ignore them and still match the exact digests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaitiaki.signals.pdq import hash_image_bytes

VICS_CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


@dataclass(frozen=True, slots=True)
class Listing:
    """How the stand-in set lists a file (Project VIC US categories: 0 is non-pertinent)."""

    category: int
    series: str
    victim_identified: bool

    @property
    def label(self) -> str:
        """What a scan should call a file that matches this entry."""
        return "ignorable" if self.category == 0 else "known"


@dataclass(frozen=True, slots=True)
class Listed:
    """A file of the sample that the stand-in set lists; ``vpdq`` only for a video."""

    path: str
    data: bytes
    listing: Listing
    vpdq: list[list[Any]] | None = None


def media_record(media_id: int, listed: Listed) -> dict[str, Any]:
    data, listing = listed.data, listed.listing
    record: dict[str, Any] = {
        "MediaID": media_id,
        "Category": listing.category,
        # Distributed sets carry uppercase hex digests.
        "MD5": hashlib.md5(data, usedforsecurity=False).hexdigest().upper(),
        "SHA1": hashlib.sha1(data, usedforsecurity=False).hexdigest().upper(),
        "MediaSize": len(data),
        "Series": listing.series,
        # Booleans as the strings many VICS exports use.
        "VictimIdentified": "true" if listing.victim_identified else "false",
        "OffenderIdentified": "false",
        "IsPrecategorized": "true",
        "Comments": "stand-in entry for the kaitiaki demo: benign generated or package media",
        "RelativeFilePath": listed.path,
    }
    if listed.vpdq is not None:
        record["VPDQ"] = listed.vpdq
    else:
        record["PDQ"] = hash_image_bytes(data).hex
    return record


def write_vics(path: Path, listed: Sequence[Listed], first_id: int) -> None:
    doc = {
        "@odata.context": VICS_CONTEXT,
        "value": [media_record(first_id + i, item) for i, item in enumerate(listed)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")

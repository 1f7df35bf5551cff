"""One hashed file's record, below both the scan that makes it and the matcher that reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class FileRecord:
    """One file instance with the hashes of its content; ``error`` says why hashes are missing."""

    path: str
    source: str
    depth: int = 0
    kind: str | None = None
    mime: str | None = None
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_dihedral: list[str] | None = None
    # The image with an added border taken off (``signals.views``): each view's name, kept box
    # and 8 dihedral PDQ hashes, queried beside the original's.
    pdq_views: list[dict[str, Any]] | None = None
    # The robust signal's signature (``signals.robust``), for sets that carry signatures.
    robust: bytes | None = None
    vpdq: list[list[Any]] | None = None
    exif: dict[str, Any] | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    # Set for files read out of a disk image's file system (UTC; None where it keeps none).
    deleted: bool = False
    # The file system's own file ($MFT, exFAT's $UPCASE_TABLE): hashed, not analysed.
    fs_metadata: bool = False
    modified_at: datetime | None = None
    accessed_at: datetime | None = None
    changed_at: datetime | None = None
    created_on_fs_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``kaitiaki hash`` view: ``type`` for the kind, empty signals left out."""
        out = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in asdict(self).items()
            if v not in (None, [])
            and k != "robust"  # binary; its size is shown instead
            and not (k in ("deleted", "fs_metadata") and v is False)
        }
        if self.robust is not None:
            out["robust_bytes"] = len(self.robust)
        if "kind" in out:
            out["type"] = out.pop("kind")
        if self.vpdq is not None:
            out["vpdq"] = [
                dict(zip(("frame", "quality", "hex", "seconds"), f, strict=True)) for f in self.vpdq
            ]
        return out

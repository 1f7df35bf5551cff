"""The PDQ a file carries when it leaves kaitiaki: HMA's own hash, never the scanner's fast path.

Partners compare what kaitiaki exports with hashes from HMA and other ThreatExchange tools, so
every PDQ written for them must be threatexchange's (``signals.reference``: ``pdqhash`` on the
full image). The scanner stores its reduced-scale fast path (``signals.pdq``), which drifts
from it on large photos. Where a scanned file's PDQ leaves:

- an evidence item's CSV / JSON Lines and VICS exports (``scan.export``, ``scan.vics_export``);
- the series VICS export (``triage.series_vics``), for the files linked to a series.

Not here, because no kaitiaki-computed PDQ is in them: referral packages and NCMEC reports
carry the provider catalog's own PDQ; series update files carry no hash; hash-set exports carry
entries that came from outside or from the HMA API, which already hashes with the reference;
vPDQ frames are hashed with the reference PDQ on full frames at scan time (``signals.vpdq``).

The choice, measured (one core of this machine, scikit-image photos re-encoded as 4000x3000
JPEGs): the fast path takes 14-24 ms and drifts 4-16 bits from the reference here (up to 20 on
other photos); the reference takes 450-770 ms. Hashing every image with the reference at scan
time would make the scan of a phone full of photos some 30 times slower, for the share of files
that is ever exported. So the scan keeps the fast path (matching uses its dihedral hashes), and
an export reads each image back from its evidence, verified against its SHA-256
(``content.readback``, as the review pages do), and hashes it with the reference, once per
content per export: a series or VICS export of flagged files costs seconds; a CSV of a whole
evidence item of large photos costs about half a second an image. Keeping the reference hash in
the store once computed (a ``files`` column) would make later exports free; there is none yet.
When the content cannot be read back here (evidence gone, a file inside a disk image, a source
over ``readback``'s 512 MiB) the PDQ is left out rather than written from the fast path (MD5,
SHA-1 and SHA-256 still identify the file); ``unavailable`` counts them, and ``scan.export``
logs how many. Those are the files a stored reference hash, computed by the scan where it
cannot be re-read later, would serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from kaitiaki.content.readback import ContentUnavailableError, read_instance
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.reference import reference_pdq
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance


@dataclass(frozen=True, slots=True)
class OutgoingHash:
    pdq: str | None
    quality: int | None


@dataclass
class OutgoingPdq:
    """The reference PDQ of scanned files, read back from their evidence, one hash a content."""

    store: Store
    unavailable: int = 0
    _seen: dict[str, OutgoingHash] = field(default_factory=dict)

    def __call__(self, sha256: str, stored: str | None) -> OutgoingHash:
        """The PDQ to export for the content ``sha256`` whose scanner PDQ is ``stored``."""
        if stored is None:
            return OutgoingHash(None, None)  # not an image, or one that could not be decoded
        known = self._seen.get(sha256)
        if known is None:
            known = self._seen[sha256] = self._compute(sha256)
            if known.pdq is None:
                self.unavailable += 1
        return known

    def _compute(self, sha256: str) -> OutgoingHash:
        with self.store.session() as session:
            paths = list(
                session.scalars(
                    select(FileInstance.path)
                    .where(FileInstance.sha256 == sha256)
                    .order_by(FileInstance.id)
                )
            )
        for path in paths:
            try:
                data = read_instance(path, sha256)
            except ContentUnavailableError:
                continue  # another instance of the same content may still be readable
            try:
                hex_hash, quality = reference_pdq(data)
            except SignalError:
                break  # the content is there but the reference cannot decode it
            return OutgoingHash(hex_hash, quality)
        return OutgoingHash(None, None)

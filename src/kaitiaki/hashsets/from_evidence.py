"""A hash set made from the pictures and videos of an evidence item kaitiaki scanned.

An operation's own collection, a seized device's confirmed material: kaitiaki holds the images,
so its set can carry more than hashes. Each entry keeps the file's digests, PDQ, vPDQ and the
robust signal's signature (``signals.robust``), so a scan against the set finds cropped,
rotated and overlaid copies that no hash finds. What leaves kaitiaki in an export is still
hashes only: the signature is for matching here.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.hashsets.derived import write_hash_set
from kaitiaki.hashsets.entry import MAX_SERIES, Entry, EntryError, HashSetError
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, File, FileInstance, HashSet

FORMAT = "evidence"
_PAGE = 2_000


def create_from_evidence(
    store: Store,
    name: str,
    evidence: str,
    *,
    profile: str = "none",
    category: str | None = None,
    series: str | None = None,
    actor: str,
) -> HashSet:
    """The set ``name`` made from every picture and video of ``evidence`` that was decoded;
    ``category`` and ``series`` apply to every entry. Audited as ``actor``; the new set's
    entries are then matched against what is already stored (retroactive matching)."""
    try:
        checked = get_profile(profile).validate(category)
    except EntryError as exc:  # a category the profile does not define: the user's mistake
        raise HashSetError(str(exc)) from None
    if series is not None and len(series) > MAX_SERIES:
        raise HashSetError(f"series is longer than {MAX_SERIES} characters")
    with store.session() as session:
        item = session.scalar(select(Evidence).where(Evidence.name == evidence))
        if item is None:
            raise HashSetError(
                f"no evidence item named {evidence!r} (see 'kaitiaki evidence list')"
            )
        entries = list(_entries(session, item.id, checked, series))
        if not entries:
            raise HashSetError(
                f"evidence {evidence!r} holds no decoded picture or video to make a set of"
            )
        row = write_hash_set(
            session,
            name,
            entries,
            profile=profile,
            source=f"evidence {evidence}",
            source_format=FORMAT,
            source_sha256=item.manifest_sha256,
            actor=actor,
        )
        session.flush()
        session.refresh(row)  # the entry count was written as an expression (versions.touch)
        session.expunge(row)
    return row


def _entries(
    session: Session, evidence_id: int, category: str | None, series: str | None
) -> Iterator[Entry]:
    files = (
        select(File)
        .where(
            File.sha256.in_(
                select(FileInstance.sha256).where(FileInstance.evidence_id == evidence_id)
            ),
            File.kind.in_(("image", "video")),
            File.error.is_(None),
        )
        .order_by(File.sha256)
    )
    for file in session.scalars(files.execution_options(yield_per=_PAGE)):
        if file.pdq is None and file.vpdq is None:
            continue
        yield Entry(
            md5=file.md5,
            sha1=file.sha1,
            sha256=file.sha256,
            pdq=file.pdq,
            vpdq=file.vpdq,
            robust=file.robust,
            category=category,
            series=series,
        )

"""Showing a file to a person: blurred thumbnails for the queue, audited reveals.

The legal-basis rule: evidence that records the provider's ``fileViewedByEsp`` (a provider
export: some instance has ``viewed_by_provider`` set) may hold files nobody at the provider
looked at. Such a file (no instance viewed, unknown counting as not viewed) is shown only when
the evidence has a recorded legal basis or the reveal states one, which is then audited.
``viewed_by_provider`` is set by the scan from the provider's own list
(``kaitiaki scan --viewed-by-provider``, ``kaitiaki.scan.provider_views``).

Reasons and stated legal bases must hold real words (``kaitiaki.audit.reasons``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.audit.reasons import require_reason
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, File, FileInstance
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.evidence_reader import ContentUnavailableError, read_instance
from kaitiaki.web.thumb_cache import ThumbnailCache
from kaitiaki.web.thumbs import NotAnImageError, blurred_thumbnail, decode, revealed


class RevealRefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Shown:
    sha256: str
    kind: str
    paths: list[str]
    evidence_basis: str | None
    needs_basis: bool


NEEDS_BASIS = "the provider never viewed this file and the evidence has no recorded legal basis"


def needing_basis(store: Store, evidence_id: int, sha256s: Iterable[str]) -> set[str]:
    """Which of ``sha256s`` in this evidence item a reveal needs a stated legal basis for
    (the same rule as ``reveal``, for a whole page of the review queue at once)."""
    wanted = sorted(set(sha256s))
    with store.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None or not wanted or (evidence.legal_basis or "").strip():
            return set()
        if not _provider_export(session, evidence_id):
            return set()
        viewed: set[str] = set()
        for start in range(0, len(wanted), 500):
            viewed.update(
                s
                for s in session.scalars(
                    select(FileInstance.sha256).where(
                        FileInstance.evidence_id == evidence_id,
                        FileInstance.sha256.in_(wanted[start : start + 500]),
                        FileInstance.viewed_by_provider.is_(True),
                    )
                )
                if s is not None
            )
    return set(wanted) - viewed


def _provider_export(session: Session, evidence_id: int) -> bool:
    """Whether the evidence says per file if the provider viewed it (some instance does)."""
    found = session.scalar(
        select(FileInstance.id)
        .where(
            FileInstance.evidence_id == evidence_id,
            FileInstance.viewed_by_provider.is_not(None),
        )
        .limit(1)
    )
    return found is not None


def _shown(store: Store, sha256: str, evidence_id: int) -> Shown:
    with store.session() as session:
        file = session.get(File, sha256)
        evidence = session.get(Evidence, evidence_id)
        if file is None or evidence is None:
            raise RevealRefusedError(404, "no such file in that evidence item")
        instances = list(
            session.scalars(
                select(FileInstance).where(
                    FileInstance.evidence_id == evidence_id, FileInstance.sha256 == sha256
                )
            )
        )
        if not instances:
            raise RevealRefusedError(404, "no such file in that evidence item")
        provider_export = _provider_export(session, evidence_id)
    viewed = any(i.viewed_by_provider is True for i in instances)
    basis = (evidence.legal_basis or "").strip() or None
    return Shown(
        sha256=sha256,
        kind=file.kind,
        paths=[i.path for i in instances],
        evidence_basis=basis,
        needs_basis=provider_export and not viewed and basis is None,
    )


def _image(shown: Shown) -> object:
    problems = []
    for path in shown.paths:
        try:
            return decode(read_instance(path, shown.sha256), shown.kind)
        except ContentUnavailableError as exc:
            problems.append(exc)
        except NotAnImageError as exc:
            raise RevealRefusedError(409, f"{path}: {exc}") from None
    first = problems[0]
    raise RevealRefusedError(first.status, str(first))


def thumbnail(
    store: Store, sha256: str, evidence_id: int, cache: ThumbnailCache | None = None
) -> bytes:
    """The blurred greyscale thumbnail; refused like a reveal when the legal basis is missing.
    The checks run every time; with ``cache`` the image is made once per content."""
    shown = _shown(store, sha256, evidence_id)
    if shown.needs_basis:
        raise RevealRefusedError(409, NEEDS_BASIS)
    kept = cache.get(sha256) if cache is not None else None
    if kept is not None:
        return kept
    made = blurred_thumbnail(_image(shown))  # type: ignore[arg-type]
    if cache is not None:
        cache.put(sha256, made)
    return made


def reveal(
    store: Store,
    user: CurrentUser,
    sha256: str,
    evidence_id: int,
    *,
    reason: str,
    legal_basis: str | None,
    colour: bool,
) -> bytes:
    """The unblurred image, after writing the audit entry that says who saw it and why.

    ``ReasonError`` when the reason (or a stated legal basis) holds no real words;
    ``RevealRefusedError`` 409 when the file needs a legal basis and none is recorded or stated.
    """
    why = require_reason(reason)
    stated = (
        require_reason(legal_basis, what="legal basis") if (legal_basis or "").strip() else None
    )
    shown = _shown(store, sha256, evidence_id)
    if shown.needs_basis and stated is None:
        raise RevealRefusedError(
            409, f"{NEEDS_BASIS}: state the legal basis for opening it (e.g. a warrant reference)"
        )
    image = revealed(_image(shown), colour=colour)  # type: ignore[arg-type]
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action="reveal",
            target_type="file",
            target_id=sha256,
            reason=why,
            details={
                "evidence_id": evidence_id,
                "colour": colour,
                "legal_basis": stated or shown.evidence_basis,
                "legal_basis_source": "stated"
                if stated
                else "evidence"
                if shown.evidence_basis
                else None,
                "viewed_by_provider_rule": shown.needs_basis,
            },
        )
    return image

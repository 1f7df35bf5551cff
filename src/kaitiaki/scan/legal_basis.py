"""An evidence item's legal basis: the authority (a warrant, the provider's terms) under which
its content may be examined.

The web's reveal rule (``web/reveal.py``) opens a file the provider did not view only when a
basis is recorded, so setting one is a change a court may ask about: it must hold real words
(``require_reason``) and is written to the audit log with the acting user and the value it
replaced. The CLI (``kaitiaki evidence legal-basis``) and the web
(``POST /api/evidence/{id}/legal-basis``) both call ``set_legal_basis``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaitiaki.audit import record
from kaitiaki.audit.reasons import require_reason
from kaitiaki.scan.summary import EvidenceNotFoundError
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence

__all__ = ["EvidenceNotFoundError", "LegalBasisChange", "set_legal_basis"]


@dataclass(frozen=True, slots=True)
class LegalBasisChange:
    evidence_id: int
    evidence: str
    legal_basis: str
    previous: str | None


def set_legal_basis(store: Store, evidence_id: int, basis: str, *, actor: str) -> LegalBasisChange:
    """Record ``basis`` for the evidence item, audited as ``actor`` with the previous value.

    Raises ``ReasonError`` for a basis without real words (checked before the store is touched)
    and ``EvidenceNotFoundError`` for an unknown item."""
    if not actor.strip():
        raise ValueError("setting a legal basis needs the acting user")
    cleaned = require_reason(basis, what="legal basis")
    with store.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise EvidenceNotFoundError(f"no evidence item {evidence_id}")
        previous = evidence.legal_basis
        evidence.legal_basis = cleaned
        record(
            session,
            actor=actor,
            action="evidence.legal_basis",
            target_type="evidence",
            target_id=str(evidence_id),
            reason=cleaned,
            details={"previous": previous},
        )
        return LegalBasisChange(evidence.id, evidence.name, cleaned, previous)

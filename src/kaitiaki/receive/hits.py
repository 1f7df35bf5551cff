"""Deconfliction at import: does a received subject share an identifier with one of ours?

The same pointers as between agencies (``refer.deconflict``): identifiers normalised the same
way (emails, E.164 phones, account ids, device ids) and HMAC'd, here under a key drawn afresh
for each import, since both sides of the comparison are on this installation and nothing is
kept but the hits. A received subject is compared with our own subjects (their accounts, and
their identifiers when our records workspace is given) and with the subjects of every other
received case (two partners, or two operations, about one person). A hit is stored on both
sides, so it shows on the received case and on our subject or the other case.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.refer.deconflict import pointers_of, subject_pointers
from kaitiaki.store import Store
from kaitiaki.store.models import CaseHit, ReceivedCase, ReceivedSubject

_KINDS = {"emails": "email", "phones": "phone", "device_ids": "device"}


def received_values(doc: dict[str, Any]) -> dict[str, set[str]]:
    """A received subject's identifier values by pointer kind."""
    values: dict[str, set[str]] = defaultdict(set)
    for account in doc.get("accounts", []):
        if isinstance(account.get("account_id"), str):
            values["account"].add(account["account_id"])
        for field, kind in _KINDS.items():
            values[kind] |= {v for v in account.get(field, []) if isinstance(v, str)}
    return values


def own_pointers(store: Store, workspace: Path | None, key: bytes) -> dict[str, set[str]]:
    """Our subjects' pointers -> subject ids (read before the import's transaction opens)."""
    return {
        pointer: {subject for subject, _, _ in origins}
        for pointer, origins in subject_pointers(store, workspace, key).items()
    }


def new_key() -> bytes:
    return os.urandom(32)


def find_hits(
    session: Session, case: ReceivedCase, *, ours: dict[str, set[str]], key: bytes
) -> int:
    """Store the hits of ``case``'s subjects against ``ours`` and other received cases;
    returns how many new hits were stored (on this case's side)."""
    # The hits already stored on this case's side, and on other cases' side about this case.
    held = {
        (h.case_id, h.subject_id, h.other_type, h.other_id, h.kind)
        for h in session.scalars(
            select(CaseHit).where(
                (CaseHit.case_id == case.id) | CaseHit.other_id.startswith(f"{case.id}:")
            )
        )
    }
    found: set[tuple[int, str, str, str, str]] = set()
    others: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for row in session.scalars(select(ReceivedSubject).where(ReceivedSubject.case_id != case.id)):
        region = (row.doc.get("attribution") or {}).get("country")
        for pointer in pointers_of(key, region, received_values(row.doc)):
            others[pointer].add((row.case_id, row.subject_id))
    for row in session.scalars(select(ReceivedSubject).where(ReceivedSubject.case_id == case.id)):
        region = (row.doc.get("attribution") or {}).get("country")
        for pointer, kind in pointers_of(key, region, received_values(row.doc)).items():
            for subject in ours.get(pointer, ()):
                found.add((case.id, row.subject_id, "subject", subject, kind))
            for other_case, other_subject in others.get(pointer, ()):
                found.add(
                    (case.id, row.subject_id, "received", f"{other_case}:{other_subject}", kind)
                )
                found.add(
                    (other_case, other_subject, "received", f"{case.id}:{row.subject_id}", kind)
                )
    new = sorted(found - held)
    session.add_all(
        CaseHit(case_id=c, subject_id=s, other_type=t, other_id=o, kind=k) for c, s, t, o, k in new
    )
    return sum(1 for n in new if n[0] == case.id)

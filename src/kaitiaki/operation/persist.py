"""Writing an analysis into the store: flagged accounts, subjects and the links that joined them.

Re-running an analysis replaces its accounts and subjects; an investigator's rejected links are
kept, because they are decisions, not results. So are accounts and subjects under a standing
legal hold (``kaitiaki.legal.coverage``) that the new results no longer produce, with the links
touching those accounts: a re-run must not delete what the law requires preserved. A held
record the new results do produce is replaced by its new row, like any other. Saving is one
act: one audit entry, as who ran the analysis, in the transaction that replaces the results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import pyarrow as pa
from sqlalchemy import delete

from kaitiaki.accounts import Attribution, Resolution, Subject
from kaitiaki.audit import record
from kaitiaki.legal.coverage import lock_holds, protected
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AccountLink
from kaitiaki.store.models import Subject as SubjectRow


def _time(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def save_results(
    store: Store,
    flagged: pa.Table,
    subjects: Sequence[Subject],
    attributions: Mapping[str, Attribution],
    resolution: Resolution,
    members: set[str],
    agency_of: Callable[[str | None], str],
    *,
    actor: str,
    out: str,
) -> None:
    if not actor.strip():
        raise ValueError("actor: saving an analysis needs the name of who ran it")
    subject_of = {a: s.subject_id for s in subjects for a in s.account_ids}
    rows = flagged.to_pylist()
    with store.session() as session:
        # Under the holds lock, so no hold placed meanwhile is missed (see legal.coverage).
        lock_holds(session)
        held = protected(session)
        keep_accounts = held.ids("account") - {row["account_id"] for row in rows}
        keep_subjects = held.ids("subject") - {s.subject_id for s in subjects}
        session.execute(delete(Account).where(Account.account_id.not_in(keep_accounts)))
        session.execute(delete(SubjectRow).where(SubjectRow.id.not_in(keep_subjects)))
        session.execute(
            delete(AccountLink).where(
                AccountLink.rejected.is_(False),
                AccountLink.account_a.not_in(keep_accounts),
                AccountLink.account_b.not_in(keep_accounts),
            )
        )
        # Rejected links and those kept with held accounts: not written again.
        rejected = {
            (link.account_a, link.account_b, link.reason) for link in session.query(AccountLink)
        }
        session.add_all(
            Account(
                account_id=row["account_id"],
                flagged_files=row["flagged_files"],
                uploads=row["uploads"],
                downloads=row["downloads"],
                views=row["views"],
                shares=row["shares"],
                first_seen=_time(row["first_seen"]),
                last_seen=_time(row["last_seen"]),
                ips=row["ips"],
                countries=row["countries"],
                categories=row["categories"],
                subject_id=subject_of.get(row["account_id"]),
            )
            for row in rows
        )
        for subject in subjects:
            a = attributions[subject.subject_id]
            session.add(
                SubjectRow(
                    id=subject.subject_id,
                    country=a.country,
                    confidence=a.confidence,
                    agency=agency_of(a.country),
                    vpn_or_hosting=a.vpn_or_hosting,
                    multi_country=a.multi_country,
                    countries=dict(a.countries),
                    reason=a.reason,
                    evidence=[
                        [
                            e.ip,
                            e.country,
                            e.events,
                            e.first.isoformat() if e.first else None,
                            e.last.isoformat() if e.last else None,
                        ]
                        for e in a.evidence
                    ],
                )
            )
        links = [
            AccountLink(account_a=link.account_a, account_b=link.account_b, reason=link.reason)
            for link in resolution.links
            if link.account_a in members
            and (link.account_a, link.account_b, link.reason) not in rejected
        ]
        session.add_all(links)
        record(
            session,
            actor=actor,
            action="operation.analysed",
            target_type="analysis",
            target_id=out,
            details={
                "flagged_accounts": flagged.num_rows,
                "subjects": len(subjects),
                "links": len(links),
                **({"kept_held_accounts": len(keep_accounts)} if keep_accounts else {}),
                **({"kept_held_subjects": len(keep_subjects)} if keep_subjects else {}),
            },
        )

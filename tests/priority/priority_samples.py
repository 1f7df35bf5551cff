"""Hand-built subjects for the priority tests: synthetic accounts, no records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kaitiaki.store import Store
from kaitiaki.store.models import Account, Subject


def add_subject(
    store: Store,
    subject_id: str,
    *,
    country: str | None = "NZ",
    uploads: int = 0,
    shares: int = 0,
    downloads: int = 0,
    views: int = 0,
    flagged_files: int = 1,
    categories: str | None = "1",
    days: int = 1,
) -> None:
    first = datetime(2020, 1, 1, tzinfo=UTC)
    with store.session() as session:
        session.add(Subject(id=subject_id, country=country, reason="synthetic"))
        session.add(
            Account(
                account_id=f"acct-{subject_id}",
                subject_id=subject_id,
                uploads=uploads,
                shares=shares,
                downloads=downloads,
                views=views,
                flagged_files=flagged_files,
                categories=categories,
                first_seen=first,
                last_seen=first + timedelta(days=days - 1),
            )
        )

"""The accounts domain's changes, each with its audit entry: what the CLI and the web call.

Identity resolution joins accounts into subjects automatically; a person can only undo a link
(an investigator who knows two accounts are different people). That decision must survive the
next analysis (``operation.analyse`` reads rejected links) and be attributable, so it lives here
once rather than in each front-end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.audit.reasons import require_reason
from kaitiaki.store import Store
from kaitiaki.store.models import AccountLink

MAX_ACCOUNT = 200


class LinkDecisionError(ValueError):
    """A link decision that cannot be made; the message says why."""


@dataclass(frozen=True)
class RejectedLink:
    account_a: str
    account_b: str
    reasons: list[str]


def _account(value: str, which: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise LinkDecisionError(f"{which} is empty")
    if len(cleaned) > MAX_ACCOUNT:
        raise LinkDecisionError(f"{which} is longer than {MAX_ACCOUNT} characters")
    return cleaned


def reject_link(
    store: Store,
    account_a: str,
    account_b: str,
    *,
    reason: str,
    actor: str,
    decided_by: str | None = None,
) -> RejectedLink:
    """Mark every link between two accounts as wrong, so the next analysis keeps them apart.

    A pair with no stored link gets a ``manual`` one, rejected: the decision still holds when a
    later analysis would find a link. ``decided_by`` names the person who decided when someone
    else records it (a supervisor's call entered by an analyst); the audit actor is always who
    made the change."""
    a, b = sorted((_account(account_a, "first account"), _account(account_b, "second account")))
    if a == b:
        raise LinkDecisionError("an account cannot be unlinked from itself")
    why = require_reason(reason)
    decider = (decided_by or "").strip() or actor
    with store.session() as session:
        links = list(
            session.scalars(
                select(AccountLink).where(AccountLink.account_a == a, AccountLink.account_b == b)
            )
        )
        if not links:
            links = [AccountLink(account_a=a, account_b=b, reason="manual")]
            session.add_all(links)
        now = datetime.now(UTC)
        for link in links:
            link.rejected, link.decided_by, link.decision_reason = True, decider, why
            link.decided_at = now
        reasons = sorted(link.reason for link in links)
        record(
            session,
            actor=actor,
            action="link.rejected",
            target_type="account_link",
            target_id=f"{a}|{b}",
            reason=why,
            details={"decided_by": decider, "reasons": reasons},
        )
    return RejectedLink(a, b, reasons)

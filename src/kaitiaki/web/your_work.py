"""The home page's reads: "Your work" (what waits on the signed-in person) and the operation's
figures beneath it.

Every count goes through the function its own list page uses, with the same scope, so the
home page never shows a number the list behind its link would not (a liaison's cases and
referrals only of its jurisdictions). Each item appears only to a role that may open its list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from kaitiaki.jobs.view import QUEUED, RUNNING
from kaitiaki.store import Store
from kaitiaki.store.models import Job
from kaitiaki.users.roles import Permission
from kaitiaki.web.authz import CurrentUser

# A received case nobody has worked yet: the import's own step is its only one.
UNTOUCHED = "received"
# Statuses after which a case or referral needs nothing more from anyone.
CLOSED = frozenset({"convicted", "no further action"})
HOLD_WARNING_DAYS = 30


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One line of "Your work": ``key`` names it for tests, ``href`` opens the list behind
    the count, and ``idle`` says what to do next when the count is zero."""

    key: str
    label: str
    count: int
    href: str
    idle: str


def _review(store: Store, user: CurrentUser) -> list[WorkItem]:
    from kaitiaki.web.api import evidence, review

    waiting = 0
    for item in evidence.list_evidence(store):
        if item.labels.get("new"):
            # The queue itself (limit 0: counts only), so the number is the page's number.
            found = review.queue(store, user, item.id, offset=0, limit=0)
            waiting += found.total_new - found.decided
    return [
        WorkItem(
            "review",
            "files awaiting review",
            waiting,
            "/review",
            "Nothing to review: new files appear here after a scan (Evidence → New scan).",
        )
    ]


def _received(store: Store, user: CurrentUser) -> list[WorkItem]:
    from kaitiaki.web.api import received

    cases = received.list_received(store, user)
    untouched = sum(1 for c in cases if c.status == UNTOUCHED)
    mine = sum(1 for c in cases if c.assigned_to == user.name and c.status not in CLOSED)
    items = [
        WorkItem(
            "received",
            "received cases awaiting action",
            untouched,
            f"/received?status={UNTOUCHED}",
            "No new case: import a referral package on Received cases.",
        )
    ]
    if user.can(Permission.UPDATE_REFERRAL):
        items.append(
            WorkItem(
                "assigned",
                "open cases assigned to you",
                mine,
                "/received?" + urlencode({"assigned": user.name}),
                "No case is assigned to you.",
            )
        )
    return items


def _referrals(store: Store, user: CurrentUser) -> list[WorkItem]:
    from kaitiaki.web.api import referrals

    rows = referrals.list_referrals(store, user)
    if user.scope.bounded:
        # The receiving agency's officer: referrals sent to it that it has not acknowledged.
        sent = sum(1 for r in rows if r.status == "sent")
        return [
            WorkItem(
                "referrals-sent",
                "referrals awaiting your acknowledgement",
                sent,
                "/referrals?status=sent",
                "No referral waits on your agency.",
            )
        ]
    if not user.can(Permission.UPDATE_REFERRAL):
        return []
    drafts = sum(1 for r in rows if r.status == "draft")
    return [
        WorkItem(
            "referrals-draft",
            "referrals in draft, not yet sent",
            drafts,
            "/referrals?status=draft",
            "No draft: build referral packages from an analysis on Referrals.",
        )
    ]


def running_jobs(store: Store, actor: str) -> int:
    """Jobs ``actor`` queued that are waiting or running."""
    with store.session() as session:
        count = session.scalar(
            select(func.count()).where(Job.created_by == actor, Job.status.in_((QUEUED, RUNNING)))
        )
    return int(count or 0)


def _jobs(store: Store, user: CurrentUser) -> list[WorkItem]:
    return [
        WorkItem(
            "jobs",
            "your jobs queued or running",
            running_jobs(store, user.actor),
            # The jobs list's text filter matches who queued a job, among other columns.
            "/jobs?" + urlencode({"q": user.actor}),
            "None running: scans, analyses and referral builds you start appear on Jobs.",
        )
    ]


def _desk(store: Store) -> list[WorkItem]:
    from kaitiaki.cybertip.reports import list_reports
    from kaitiaki.legal.holds import expiring_holds

    def reports(state: str) -> int:
        return len(list_reports(store, state=state))

    return [
        WorkItem(
            "holds",
            f"holds expiring within {HOLD_WARNING_DAYS} days",
            len(expiring_holds(store)),
            "/holds",
            "No hold expires soon.",
        ),
        WorkItem(
            "reports-draft",
            "CyberTipline reports in draft",
            reports("draft"),
            "/reports?state=draft",
            "No draft: draft a report from a subject's page.",
        ),
        WorkItem(
            "reports-failed",
            "CyberTipline reports that failed",
            reports("failed"),
            "/reports?state=failed",
            "No report failed.",
        ),
    ]


def your_work(store: Store, user: CurrentUser) -> list[WorkItem]:
    """What waits on ``user``, by what the role may open; the order is the order of work."""
    items: list[WorkItem] = []
    if user.can(Permission.REVIEW):
        items += _review(store, user)
    if user.can(Permission.VIEW_REFERRALS):
        items += _received(store, user)
        items += _referrals(store, user)
    if user.can(Permission.VIEW_STATISTICS):
        items += _jobs(store, user)
    if user.can(Permission.VIEW_REPORTS):
        items += _desk(store)
    return items


def dashboard(store: Store, user: CurrentUser) -> dict[str, Any]:
    """The operation's figures for the home page; empty for a role without statistics."""
    if not user.can(Permission.VIEW_STATISTICS):
        return {"figures": None, "desk": False, "expiring": [], "report_states": {}}
    from kaitiaki.legal.holds import expiring_holds
    from kaitiaki.web.api import cybertip, holds, stats

    # The provider's desk only for those who may read it: a hold names what it preserves.
    desk = user.can(Permission.VIEW_REPORTS)
    return {
        "figures": stats.dashboard(store, user.scope),
        "desk": desk,
        "expiring": [
            holds.HoldOut.model_validate(h, from_attributes=True) for h in expiring_holds(store)
        ]
        if desk
        else [],
        "report_states": cybertip.counts_by_state(store) if desk else {},
    }

"""The operation's figures, and charts of them (PNG for reports, SVG for the web).

Figures are counted within the caller's ``Scope``: for a liaison, only the referrals of its
jurisdictions, their subjects and outcomes (no accounts or activity: those belong to no one
jurisdiction until referred).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from kaitiaki.store import Store
from kaitiaki.store.models import Account, Outcome, Priority, Referral, ReferralSubject, Subject
from kaitiaki.users.scope import Scope

TIER_ORDER = ("very high", "high", "medium", "low")
UNKNOWN = "??"  # subjects with no attributable country


@dataclass
class CountryFigures:
    subjects: int = 0
    referrals: int = 0
    # Subjects in those referrals: one package per agency, so the referral count per country is
    # almost always 1 and says little on its own.
    referred: int = 0
    arrests: int = 0
    children_safeguarded: int = 0
    no_further_action: int = 0  # partners' decisions to take a case no further


@dataclass
class Stats:
    accounts: int = 0
    subjects: int = 0
    countries: int = 0
    referrals: int = 0
    referrals_by_status: dict[str, int] = field(default_factory=dict)
    arrests: int = 0
    children_safeguarded: int = 0
    by_country: dict[str, CountryFigures] = field(default_factory=dict)
    # "YYYY-MM" -> count: flagged accounts first seen, referrals made, arrests reported.
    activity_by_month: dict[str, int] = field(default_factory=dict)
    referrals_by_month: dict[str, int] = field(default_factory=dict)
    arrests_by_month: dict[str, int] = field(default_factory=dict)
    priority_tiers: dict[str, int] = field(default_factory=dict)
    # What came back from partners beyond arrests (signed outcome files, or recorded by hand).
    no_further_action: int = 0
    devices_seized: int = 0
    children_safeguarded_by_month: dict[str, int] = field(default_factory=dict)
    no_further_action_by_month: dict[str, int] = field(default_factory=dict)


def _month(value: datetime | None) -> str | None:
    return None if value is None else f"{value:%Y-%m}"


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


def operation_stats(store: Store, *, scope: Scope) -> Stats:
    stats = Stats()
    with store.session() as session:
        referrals = [
            r for r in session.scalars(select(Referral)) if scope.covers(r.country, r.agency)
        ]
        referral_country: dict[str, str | None] = {r.id: r.country for r in referrals}
        members: dict[str, str] = {
            subject: referral
            for subject, referral in session.execute(
                select(ReferralSubject.subject_id, ReferralSubject.referral_id)
            )
            if referral in referral_country
        }
        country_of: dict[str, str] = {}
        for subject_id, country in session.execute(select(Subject.id, Subject.country)):
            if not scope.bounded or subject_id in members:
                country_of[subject_id] = country or UNKNOWN
        if not scope.bounded:
            stats.accounts = session.scalar(select(func.count()).select_from(Account)) or 0
        stats.subjects = len(country_of)
        stats.countries = len(set(country_of.values()) - {UNKNOWN})
        by_country: dict[str, CountryFigures] = {}

        def figures(country: str | None) -> CountryFigures:
            return by_country.setdefault(country or UNKNOWN, CountryFigures())

        for country in country_of.values():
            figures(country).subjects += 1
        statuses: Counter[str] = Counter()
        referral_months: Counter[str] = Counter()
        for referral in referrals:
            statuses[referral.status] += 1
            figures(referral.country).referrals += 1
            referral_months[f"{referral.created_at:%Y-%m}"] += 1
        stats.referrals = sum(statuses.values())
        stats.referrals_by_status = dict(statuses.most_common())
        stats.referrals_by_month = _sorted(referral_months)
        for referred_in in members.values():
            figures(referral_country.get(referred_in)).referred += 1
        arrest_months: Counter[str] = Counter()
        safeguarded_months: Counter[str] = Counter()
        nfa_months: Counter[str] = Counter()
        for outcome in session.scalars(select(Outcome)):
            # The referral's country is where the outcome happened; else the subject's.
            referral_id = outcome.referral_id or members.get(outcome.subject_id or "")
            if scope.bounded and referral_id not in referral_country:
                continue
            country = referral_country.get(referral_id or "") or country_of.get(
                outcome.subject_id or ""
            )
            if outcome.kind == "arrested":
                stats.arrests += outcome.count
                figures(country).arrests += outcome.count
                month = _month(outcome.date)
                if month:
                    arrest_months[month] += outcome.count
            elif outcome.kind == "children_safeguarded":
                stats.children_safeguarded += outcome.count
                figures(country).children_safeguarded += outcome.count
                if month := _month(outcome.date):
                    safeguarded_months[month] += outcome.count
            elif outcome.kind == "no_further_action":
                stats.no_further_action += outcome.count
                figures(country).no_further_action += outcome.count
                if month := _month(outcome.date):
                    nfa_months[month] += outcome.count
            elif outcome.kind == "devices_seized":
                stats.devices_seized += outcome.count
        stats.arrests_by_month = _sorted(arrest_months)
        stats.children_safeguarded_by_month = _sorted(safeguarded_months)
        stats.no_further_action_by_month = _sorted(nfa_months)
        if not scope.bounded:
            activity: Counter[str] = Counter(
                f"{seen:%Y-%m}"
                for seen in session.scalars(select(Account.first_seen))
                if seen is not None
            )
            stats.activity_by_month = _sorted(activity)
        tiers: Counter[str] = Counter(
            override or tier
            for subject_id, tier, override in session.execute(
                select(Priority.subject_id, Priority.tier, Priority.override_tier)
            )
            if subject_id in country_of
        )
        stats.priority_tiers = {t: tiers[t] for t in TIER_ORDER if tiers[t]}
    stats.by_country = dict(
        sorted(
            by_country.items(),
            key=lambda item: (-item[1].referred, -item[1].referrals, -item[1].subjects, item[0]),
        )
    )
    return stats


def write_charts(stats: Stats, out_dir: Path) -> list[Path]:
    """Write the three charts as PNG and SVG; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")  # no display: charts are files for reports
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    top = list(stats.by_country.items())[:25]
    charts = {
        "referrals_by_country": (
            "Subjects referred, by country (top 25)",
            [c for c, _ in top],
            [f.referred for _, f in top],
            "subjects referred",
        ),
        "activity_over_time": (
            "Flagged accounts by month first seen",
            list(stats.activity_by_month),
            list(stats.activity_by_month.values()),
            "accounts",
        ),
        "priority_tiers": (
            "Subjects by priority tier",
            list(stats.priority_tiers),
            list(stats.priority_tiers.values()),
            "subjects",
        ),
    }
    written = []
    for name, (title, labels, values, ylabel) in charts.items():
        fig, ax = plt.subplots(figsize=(10, 5))
        try:
            if name == "activity_over_time":
                ax.plot(labels, values, marker="o")
            else:
                ax.bar(labels, values)
            if not labels:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title)
            ax.set_ylabel(ylabel)
            ax.tick_params(axis="x", labelrotation=45)
            fig.tight_layout()
            for suffix in ("png", "svg"):
                path = out_dir / f"{name}.{suffix}"
                fig.savefig(path, format=suffix)
                written.append(path)
        finally:
            plt.close(fig)
    return written

"""``/api/stats``: the operation's figures for the dashboard (charts and the world map)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from kaitiaki.refer import service
from kaitiaki.store import Store
from kaitiaki.store.models import Classification, Evidence, File, FileInstance
from kaitiaki.users.scope import Scope
from kaitiaki.web.api.common import errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api", tags=["stats"])


class CountryRow(BaseModel):
    country: str
    subjects: int
    referred: int
    referrals: int
    arrests: int
    children_safeguarded: int
    no_further_action: int


class MonthRow(BaseModel):
    month: str
    accounts_first_seen: int
    referrals: int
    arrests: int
    children_safeguarded: int
    no_further_action: int


class Dashboard(BaseModel):
    evidence_items: int
    file_instances: int
    unique_files: int
    files_by_label: dict[str, int]
    accounts: int
    subjects: int
    countries: int
    referrals: int
    referrals_by_status: dict[str, int]
    priority_tiers: dict[str, int]
    arrests: int
    children_safeguarded: int
    by_country: list[CountryRow]
    by_month: list[MonthRow]
    # What partners reported back beyond arrests and children safeguarded.
    no_further_action: int
    devices_seized: int


def _material(store: Store) -> tuple[int, int, int, dict[str, int]]:
    with store.session() as session:
        evidence = session.scalar(select(func.count()).select_from(Evidence)) or 0
        instances = session.scalar(select(func.count()).select_from(FileInstance)) or 0
        unique = session.scalar(select(func.count()).select_from(File)) or 0
        labels = {
            str(label): int(count)
            for label, count in session.execute(
                select(Classification.label, func.count()).group_by(Classification.label)
            )
        }
    return evidence, instances, unique, labels


def dashboard(store: Store, scope: Scope) -> Dashboard:
    """The figures within ``scope``: a caller bounded to jurisdictions (a liaison, should it
    ever be given statistics) gets its referrals' figures and nothing about the evidence."""
    figures = service.figures(store, scope=scope)
    evidence, instances, unique, labels = (0, 0, 0, {}) if scope.bounded else _material(store)
    months = sorted(
        set(figures.activity_by_month)
        | set(figures.referrals_by_month)
        | set(figures.arrests_by_month)
        | set(figures.children_safeguarded_by_month)
        | set(figures.no_further_action_by_month)
    )
    return Dashboard(
        evidence_items=evidence,
        file_instances=instances,
        unique_files=unique,
        files_by_label=labels,
        accounts=figures.accounts,
        subjects=figures.subjects,
        countries=figures.countries,
        referrals=figures.referrals,
        referrals_by_status=figures.referrals_by_status,
        priority_tiers=figures.priority_tiers,
        arrests=figures.arrests,
        children_safeguarded=figures.children_safeguarded,
        by_country=[
            CountryRow(
                country=country,
                subjects=row.subjects,
                referred=row.referred,
                referrals=row.referrals,
                arrests=row.arrests,
                children_safeguarded=row.children_safeguarded,
                no_further_action=row.no_further_action,
            )
            for country, row in figures.by_country.items()
        ],
        by_month=[
            MonthRow(
                month=month,
                accounts_first_seen=figures.activity_by_month.get(month, 0),
                referrals=figures.referrals_by_month.get(month, 0),
                arrests=figures.arrests_by_month.get(month, 0),
                children_safeguarded=figures.children_safeguarded_by_month.get(month, 0),
                no_further_action=figures.no_further_action_by_month.get(month, 0),
            )
            for month in months
        ],
        no_further_action=figures.no_further_action,
        devices_seized=figures.devices_seized,
    )


@router.get("/stats", response_model=Dashboard, responses=errors())
def stats(request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> Dashboard:
    return dashboard(store_of(request), user.scope)

"""Every list page pages, sorts and filters on the server, and exports the same rows as CSV.

Each list in ``LISTS`` is seeded with ``ROWS`` rows of its own (one holding a formula as text),
read over real HTTP page by page, in both orders, filtered, exported, and attacked with bad
parameters; the lists scoped to jurisdictions are read by a liaison, whose pages and exports
must never hold another jurisdiction's row.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from conftest import Login
from kaitiaki.exports import csvcells
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    AuditEvent,
    Classification,
    CyberTipReport,
    Evidence,
    Exchange,
    File,
    HashSet,
    Job,
    LegalHold,
    ReceivedCase,
    Referral,
    Subject,
    User,
    UserJurisdiction,
)
from kaitiaki.users import Role

ROWS = 30  # two pages of 25
HOSTILE = '=HYPERLINK("http://x","y")'
NCB = "INTERPOL National Central Bureau"
# The liaison's jurisdiction; the seed adds as many rows of another (same agency name, Fiji).
OWN = "TO:" + NCB
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    path: str
    role: Role
    jurisdiction: str | None
    seed: Callable[[Store], None]
    # The sort key whose order the test checks, and the CSV column of the row's id.
    sort: str
    id_column: str
    # A filter and the CSV column and value every row it keeps must have.
    filter: dict[str, str]
    filter_column: str
    # An id of another jurisdiction, which must never appear.
    foreign: str | None = None
    # Parameters every request of the test carries (to leave out rows the fixtures add).
    base: tuple[tuple[str, str], ...] = ()


def _referrals(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            for country in ("TO", "FJ"):
                session.add(
                    Referral(
                        id=f"KAI-{country}-{i:03d}",
                        agency=NCB,
                        country=country,
                        status="sent" if i % 3 else "draft",
                        created_at=START + timedelta(hours=i),
                        created_by=HOSTILE if i == 7 else f"analyst-{i % 4}",
                    )
                )


def _received(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            for country in ("TO", "FJ"):
                session.add(
                    ReceivedCase(
                        reference=f"REF-{country}-{i:03d}",
                        sender=HOSTILE if i == 7 else "Partner agency",
                        sender_fingerprint="0" * 64,
                        country=country,
                        agency=NCB,
                        schema_version="1",
                        manifest_sha256="0" * 64,
                        received_at=START + timedelta(hours=i),
                        received_by="test:setup",
                        status="received" if i % 2 else "accepted",
                        priority_tier=("low", "medium", "high", "very_high")[i % 4],
                        priority_score=float(i),
                        document={},
                    )
                )


def _subjects(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Subject(
                    id=f"S-{i:03d}",
                    country="NZ" if i % 3 else "AU",
                    agency=HOSTILE if i == 7 else "New Zealand Police",
                    confidence=i / ROWS,
                )
            )


def _accounts(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Account(
                    platform="provider",
                    account_id=f"acct-{i:03d}",
                    subject_id="S-A" if i % 3 else "S-B",
                    flagged_files=i,
                    countries=HOSTILE if i == 7 else "NZ",
                )
            )


def _users(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            role = (Role.REVIEWER, Role.AUDITOR, Role.LIAISON)[i % 3]
            # A name as a formula: the list's only free-text column (jurisdictions start "TO:").
            name = f"{HOSTILE if i == 7 else ''}seeded-{i:03d}"
            person = User(name=name, role=role.value, password_hash="!")
            session.add(person)
            if role == Role.LIAISON:
                session.flush()
                session.add(UserJurisdiction(user_id=person.id, country="TO", agency=NCB))


def _reports(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                CyberTipReport(
                    subject_id=f"S-{i:03d}",
                    state="draft" if i % 3 else "failed",
                    document="<report/>",
                    document_sha256="0" * 64,
                    created_by=HOSTILE if i == 7 else "web:investigator-user",
                )
            )


def _holds(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                LegalHold(
                    target_type="account",
                    target_id=f"acct-{i:03d}",
                    basis="court_order" if i % 4 == 0 else "other",
                    basis_text=HOSTILE if i == 7 else "benign test hold",
                    created_by="test:setup",
                    expires_at=None if i % 2 else START + timedelta(days=3650 + i),
                )
            )
        # Released: not on the standing list.
        session.add(
            LegalHold(
                target_type="account",
                target_id="acct-released",
                basis="other",
                basis_text="done",
                created_by="test:setup",
                released_at=START,
            )
        )


def _evidence(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Evidence(
                    name=f"ev-{i:03d}",
                    description="special" if i % 4 == 0 else "plain",
                    acquired_by=HOSTILE if i == 7 else "test:setup",
                )
            )


def _hash_sets(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                HashSet(
                    name=f"set-{i:03d}",
                    source=HOSTILE if i == 7 else "benign test set",
                    profile="ncmec" if i % 5 == 0 else "none",
                    source_format="list",
                    enabled=bool(i % 2),
                )
            )


def _jobs(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Job(
                    kind=f"k{i:03d}",
                    params={},
                    status="failed" if i % 6 == 0 else "done",
                    message=HOSTILE if i == 7 else "finished",
                    created_by="test:setup",
                )
            )


def _files(store: Store) -> None:
    with store.session() as session:
        first, second = Evidence(name="ev-a"), Evidence(name="ev-b")
        session.add_all([first, second])
        session.flush()
        for i in range(ROWS + 3):
            sha = f"{i:03d}".ljust(64, "a")
            session.add(
                File(
                    sha256=sha, md5="0" * 32, sha1="0" * 40, size=i, kind="image", mime="image/jpeg"
                )
            )
            session.flush()
            # Three rows of the other evidence item, left out by the base filter.
            where = second if i >= ROWS else first
            series = HOSTILE if i == 7 else None
            label = "known" if i % 3 == 0 else "new"
            session.add(
                Classification(evidence_id=where.id, sha256=sha, label=label, series=series)
            )


def _exchanges(store: Store) -> None:
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Exchange(
                    name=f"x-{i:03d}",
                    api="ncmec" if i % 5 == 0 else "file",
                    hash_set=f"set-{i:03d}",
                    enabled=True,
                    last_error=HOSTILE if i == 7 else None,
                    created_by="test:setup",
                )
            )


LISTS = {
    "referrals": Case(
        "/referrals",
        Role.LIAISON,
        OWN,
        _referrals,
        sort="created",
        id_column="id",
        filter={"status": "draft"},
        filter_column="status",
        foreign="KAI-FJ-",
    ),
    "received": Case(
        "/received",
        Role.LIAISON,
        OWN,
        _received,
        sort="received",
        id_column="reference",
        filter={"status": "accepted"},
        filter_column="status",
        foreign="REF-FJ-",
    ),
    "subjects": Case(
        "/subjects",
        Role.INVESTIGATOR,
        None,
        _subjects,
        sort="id",
        id_column="id",
        filter={"country": "AU"},
        filter_column="country",
    ),
    "accounts": Case(
        "/accounts",
        Role.INVESTIGATOR,
        None,
        _accounts,
        sort="account",
        id_column="account_id",
        filter={"subject_id": "S-B"},
        filter_column="subject_id",
    ),
    "users": Case(
        "/users",
        Role.ADMIN,
        None,
        _users,
        sort="name",
        id_column="name",
        filter={"role": "reviewer"},
        filter_column="role",
        base=(("q", "seeded-"),),
    ),
    "reports": Case(
        "/reports",
        Role.INVESTIGATOR,
        None,
        _reports,
        sort="subject",
        id_column="subject_id",
        filter={"state": "failed"},
        filter_column="state",
    ),
    "holds": Case(
        "/holds",
        Role.INVESTIGATOR,
        None,
        _holds,
        sort="target",
        id_column="target_id",
        filter={"basis": "court_order"},
        filter_column="basis",
    ),
    "evidence": Case(
        "/evidence",
        Role.INVESTIGATOR,
        None,
        _evidence,
        sort="name",
        id_column="name",
        filter={"q": "special"},
        filter_column="description",
    ),
    "review": Case(
        "/review",
        Role.REVIEWER,
        None,
        _evidence,
        sort="name",
        id_column="name",
        filter={"q": "special"},
        filter_column="description",
    ),
    "hashsets": Case(
        "/hashsets",
        Role.INVESTIGATOR,
        None,
        _hash_sets,
        sort="name",
        id_column="name",
        filter={"profile": "ncmec"},
        filter_column="profile",
    ),
    "jobs": Case(
        "/jobs",
        Role.INVESTIGATOR,
        None,
        _jobs,
        sort="kind",
        id_column="kind",
        filter={"status": "failed"},
        filter_column="status",
    ),
    "files": Case(
        "/files",
        Role.INVESTIGATOR,
        None,
        _files,
        sort="sha256",
        id_column="sha256",
        filter={"label": "known"},
        filter_column="label",
        base=(("evidence_id", "1"),),
    ),
    "exchanges": Case(
        "/exchanges",
        Role.INVESTIGATOR,
        None,
        _exchanges,
        sort="name",
        id_column="name",
        filter={"api": "ncmec"},
        filter_column="api",
    ),
}


def _csv(text: str) -> list[dict[str, str]]:
    """The rows of an export, each cell as it was before the CSV-injection guard quoted it."""
    return list(csvcells.DictReader(io.StringIO(text)))


def _get(client: TestClient, case: Case, params: dict[str, str]) -> Response:
    return client.get(case.path, params={**dict(case.base), **params})


def _export(client: TestClient, case: Case, **params: str) -> list[dict[str, str]]:
    answer = _get(client, case, {"format": "csv", **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return _csv(answer.text)


@pytest.fixture(params=sorted(LISTS))
def listed(request: pytest.FixtureRequest, store: Store, login: Login) -> tuple[Case, TestClient]:
    case = LISTS[request.param]
    case.seed(store)
    client, _ = login(case.role, case.jurisdiction)
    return case, client


def test_pages_hold_the_next_rows_in_either_order(listed: tuple[Case, TestClient]) -> None:
    case, client = listed
    everything = [r[case.id_column] for r in _export(client, case, sort=case.sort)]
    assert len(everything) == ROWS and everything == sorted(everything)
    backwards = [r[case.id_column] for r in _export(client, case, sort="-" + case.sort)]
    assert backwards == everything[::-1]
    pages = [
        _get(client, case, {"sort": case.sort, "per_page": "25", "page": str(n)}) for n in (1, 2)
    ]
    assert [p.status_code for p in pages] == [200, 200]
    first = [i for i in everything if i in html.unescape(pages[0].text)]
    second = [i for i in everything if i in html.unescape(pages[1].text)]
    assert first == everything[:25] and second == everything[25:]
    assert 'data-testid="pager-next"' in pages[0].text
    assert 'data-testid="pager-next"' not in pages[1].text
    # The sorted header says so (the browser test follows its link, which sorts the other way);
    # lists that are not tables (jobs, the review index) mark the current sort link instead.
    header = f'aria-sort="ascending"><a [^>]*data-testid="sort-{case.sort}"'
    link = f'data-testid="sort-{case.sort}" aria-current="true">[^<]*[(]ascending[)]'
    assert re.search(header, pages[0].text) or re.search(link, pages[0].text)


def test_a_filter_narrows_the_page_and_the_export(listed: tuple[Case, TestClient]) -> None:
    case, client = listed
    rows = _export(client, case, **case.filter)
    (value,) = case.filter.values()
    assert rows and all(r[case.filter_column] == value for r in rows)
    assert len(rows) < ROWS
    shown = html.unescape(_get(client, case, case.filter).text)
    assert all(r[case.id_column] in shown for r in rows)
    kept = {r[case.id_column] for r in rows}
    others = [r[case.id_column] for r in _export(client, case) if r[case.id_column] not in kept]
    assert others and not any(i in shown for i in others)


BAD = (
    {"sort": "no_such_column"},
    {"sort": "id; DROP TABLE users"},
    {"page": "-1"},
    {"page": "0"},
    {"page": "x"},
    {"per_page": "1000000"},
    {"per_page": "7"},
    {"format": "xlsx"},
)


def test_bad_parameters_are_refused_with_a_reason(listed: tuple[Case, TestClient]) -> None:
    case, client = listed
    for params in BAD:
        answer = _get(client, case, params)
        assert answer.status_code == 400, (params, answer.text)
        assert next(iter(params)) in answer.text
        exported = _get(client, case, {"format": "csv", **params})
        assert exported.status_code == 400, params


def test_a_page_past_the_end_is_empty_not_an_error(listed: tuple[Case, TestClient]) -> None:
    case, client = listed
    answer = _get(client, case, {"page": "999"})
    assert answer.status_code == 200
    assert 'data-testid="pager-prev"' in answer.text


def test_the_export_neutralises_formulas_and_is_audited(
    listed: tuple[Case, TestClient], store: Store
) -> None:
    case, client = listed
    answer = _get(client, case, {"format": "csv"})
    cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
    assert any(c.startswith("'" + HOSTILE) for c in cells), cells
    assert not any(c.startswith(HOSTILE) for c in cells)
    with store.session() as session:
        entry = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "list.exported")
        ).one()
    assert entry.target_id == case.path.strip("/")
    assert entry.actor == "web:" + client.get("/api/auth/me").json()["name"]
    assert entry.details is not None and entry.details["rows"] == ROWS


@pytest.mark.parametrize("name", sorted(n for n, c in LISTS.items() if c.foreign))
def test_another_jurisdiction_never_appears(name: str, store: Store, login: Login) -> None:
    case = LISTS[name]
    assert case.foreign is not None
    case.seed(store)
    client, _ = login(case.role, case.jurisdiction)
    texts = [_get(client, case, {"format": "csv"}).text]
    texts.append(_get(client, case, {"format": "csv", "sort": "-" + case.sort}).text)
    for n in (1, 2, 3):
        texts.append(_get(client, case, {"per_page": "25", "page": str(n)}).text)
    texts.append(_get(client, case, {"q": case.foreign}).text)
    foreign = re.compile(re.escape(case.foreign) + "[0-9]")
    assert not any(foreign.search(t) for t in texts)
    assert case.foreign.replace("FJ", "TO") in texts[0]
    # An unbounded reader sees both: the rows were there to leak.
    admin, _ = login(Role.ADMIN)
    assert foreign.search(_get(admin, case, {"format": "csv"}).text)


def test_the_audit_log_exports_its_filtered_entries(store: Store, login: Login) -> None:
    """The audit page pages by ``before_id``; its export holds every entry the filters keep."""
    from kaitiaki.audit import record

    with store.session() as session:
        for i in range(ROWS):
            record(
                session,
                actor="cli:seeder",
                action="test.seeded",
                target_type="thing",
                target_id=HOSTILE if i == 7 else f"thing-{i:03d}",
            )
    auditor, _ = login(Role.AUDITOR)
    page = auditor.get("/audit", params={"actor": "cli:seeder"})
    assert 'data-testid="export-csv"' in page.text
    answer = auditor.get("/audit", params={"actor": "cli:seeder", "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == ROWS and {r["actor"] for r in rows} == {"cli:seeder"}
    assert [int(r["id"]) for r in rows] == sorted((int(r["id"]) for r in rows), reverse=True)
    assert "'" + HOSTILE in {r["target_id"] for r in rows}
    assert auditor.get("/audit", params={"format": "csv", "sort": "actor"}).status_code == 400
    with store.session() as session:
        entry = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "list.exported")
        ).one()
    assert entry.target_id == "audit" and entry.details == {
        "filters": {"actor": "cli:seeder"},
        "sort": "-id",
        "rows": ROWS,
    }


# The JSON twins of the pages: the same parameters, one page of rows, the total in a header.
API = {
    "referrals": "/api/referrals",
    "received": "/api/received",
    "users": "/api/users",
    "evidence": "/api/evidence",
    "hashsets": "/api/hashsets",
    "reports": "/api/cybertip/reports",
}


@pytest.mark.parametrize("name", sorted(API))
def test_the_api_twin_pages_as_the_page_does(name: str, store: Store, login: Login) -> None:
    case = LISTS[name]
    case.seed(store)
    client, _ = login(case.role, case.jurisdiction)
    everything = [r[case.id_column] for r in _export(client, case, sort=case.sort)]
    params = {**dict(case.base), "sort": case.sort, "per_page": "25"}
    first = client.get(API[name], params=params)
    second = client.get(API[name], params={**params, "page": "2"})
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Total-Count"] == str(ROWS)
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert 'rel="next"' not in second.headers.get("Link", "")
    got = [r[case.id_column] for r in first.json() + second.json()]
    assert got == everything
    assert client.get(API[name], params={"sort": "no_such"}).status_code == 400
    if case.foreign is not None:
        assert not any(case.foreign in str(r) for r in first.json() + second.json())


def test_links_keep_the_other_parameters_and_wildcards_are_literal(
    store: Store, login: Login
) -> None:
    _referrals(store)
    admin, _ = login(Role.ADMIN)
    shown = admin.get(
        "/referrals", params={"status": "sent", "per_page": "25", "sort": "id", "q": "kai"}
    ).text
    found = re.search(r'href="([^"]*)"[^>]*data-testid="pager-next"', shown)
    assert found is not None
    following = html.unescape(found.group(1))
    assert {"status=sent", "per_page=25", "sort=id", "q=kai", "page=2"} <= set(
        following.lstrip("?").split("&")
    )
    header = re.search(r'href="([^"]*)"[^>]*data-testid="sort-agency"', shown)
    assert header is not None
    kept = set(html.unescape(header.group(1)).lstrip("?").split("&"))
    assert {"status=sent", "per_page=25", "sort=agency"} <= kept  # and back to page one
    assert not any(p.startswith("page=") for p in kept)
    # "%" and "_" in a search are the characters themselves, not SQL wildcards.
    for text in ("%", "_", "KAI_TO"):
        assert _export(admin, LISTS["referrals"], q=text) == []
    assert len(_export(admin, LISTS["referrals"], q="kai-to")) == ROWS

"""Jurisdictions hold on every route: a liaison is bound to (country, agency) pairs, not to an
agency name that 186 countries share.

The attack: every route of the app (``app.routes``) x every role, aimed at referrals and subjects
of a foreign jurisdiction (another country's INTERPOL NCB, same name; the same country's other
agency). A liaison must get 404 (not found, existence not disclosed) or 403 (not its role's),
never see a foreign id in any answer, and leave the store exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from web_helpers import PASSWORD, concrete, sign_in

from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Outcome,
    Referral,
    ReferralEvent,
    ReferralSubject,
    Subject,
    UserJurisdiction,
)
from kaitiaki.users import PERMISSIONS, Jurisdiction, Permission, Role, add_user
from kaitiaki.web.authz import requirement_of

NCB = "INTERPOL National Central Bureau"
OWN = "KAI-TO-NCB-OWN"
# Foreign to the Tonga NCB liaison: the same agency name in Fiji, another agency in Tonga.
FOREIGN = {"KAI-FJ-NCB-SECRET": "S-FJ-SECRET", "KAI-TO-POLICE-SECRET": "S-TOP-SECRET"}
NO_SUCH = "KAI-XX-NO-SUCH-ONE"
SIGN_OUT = {"/logout", "/api/auth/logout"}
BODIES: dict[str, dict[str, Any]] = {
    "/status": {"status": "acknowledged", "note": "probing"},
    "/outcomes": {"kind": "arrested", "count": 3, "note": "probing"},
    "/jurisdictions": {"jurisdictions": ["FJ:INTERPOL National Central Bureau"]},
}


@pytest.fixture
def operation(store: Store) -> dict[str, str]:
    """Three referrals, all "sent": the Tonga NCB's own, Fiji NCB's, and Tonga Police's; and
    one user per role, the liaisons bound to each jurisdiction."""
    with store.session() as session:
        session.add_all(
            [
                Subject(id="S-TO-OWN", country="TO", agency=NCB),
                Subject(id="S-FJ-SECRET", country="FJ", agency=NCB),
                Subject(id="S-TOP-SECRET", country="TO", agency="Tonga Police"),
                Referral(id=OWN, agency=NCB, country="TO", status="sent"),
                Referral(id="KAI-FJ-NCB-SECRET", agency=NCB, country="FJ", status="sent"),
                Referral(
                    id="KAI-TO-POLICE-SECRET", agency="Tonga Police", country="TO", status="sent"
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                ReferralSubject(subject_id="S-TO-OWN", referral_id=OWN),
                ReferralSubject(subject_id="S-FJ-SECRET", referral_id="KAI-FJ-NCB-SECRET"),
                ReferralSubject(subject_id="S-TOP-SECRET", referral_id="KAI-TO-POLICE-SECRET"),
            ]
        )
    people = {role.value: f"{role.value}-user" for role in Role if role != Role.LIAISON}
    for role, name in people.items():
        add_user(store, name, role, PASSWORD, actor="test:setup")
    liaisons = {
        "tonga.ncb": Jurisdiction("TO", NCB),
        "fiji.ncb": Jurisdiction("FJ", NCB),
        "tonga.police": Jurisdiction("TO", "Tonga Police"),
    }
    for name, pair in liaisons.items():
        add_user(store, name, Role.LIAISON, PASSWORD, actor="test:setup", jurisdictions=[pair])
    return {**people, **{f"liaison:{n}": n for n in liaisons}}


def _snapshot(store: Store) -> dict[str, Any]:
    """Everything a referral request could change (the audit log aside)."""
    with store.session() as session:
        return {
            "referrals": sorted(
                (r.id, r.agency, r.country, r.status) for r in session.scalars(select(Referral))
            ),
            "events": sorted(
                (e.referral_id, e.status, e.by) for e in session.scalars(select(ReferralEvent))
            ),
            "outcomes": sorted(
                (o.referral_id, o.kind, o.count) for o in session.scalars(select(Outcome))
            ),
            "jurisdictions": sorted(
                (j.user_id, j.country, j.agency) for j in session.scalars(select(UserJurisdiction))
            ),
        }


def _calls(app: FastAPI, referral_id: str, name: str) -> Iterator[tuple[str, str, Any]]:
    """Every route, its path aimed at the foreign referral and its subject (and at the caller's
    own account, for the user routes), with a body that would change something."""
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        requirement = requirement_of(route)
        assert requirement is not None, route.path
        if requirement.public or route.path in SIGN_OUT:
            continue
        aimed = (
            route.path.replace("{referral_id}", referral_id)
            .replace("{subject_id}", FOREIGN[referral_id])
            .replace("{name}", name)
        )
        for method in sorted(route.methods):
            yield method, concrete(aimed), requirement


def _body(path: str) -> dict[str, Any]:
    return next((body for suffix, body in BODIES.items() if path.endswith(suffix)), {})


@pytest.mark.parametrize("foreign", sorted(FOREIGN))
def test_every_route_refuses_a_foreign_jurisdiction_to_every_role(
    app: FastAPI, store: Store, operation: dict[str, str], foreign: str
) -> None:
    checked = 0
    for key, name in sorted(operation.items()):
        role = Role.LIAISON if key.startswith("liaison:") else Role(key)
        if role == Role.LIAISON and name != "tonga.ncb":
            continue  # the Tonga NCB liaison is the attacker; the others own the targets
        before = _snapshot(store)
        with store.session() as session:
            head = session.scalar(select(func.max(AuditEvent.id))) or 0
        client, csrf = sign_in(app, name)
        with client:
            for method, path, requirement in _calls(app, foreign, name):
                body = _body(path)
                response = client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})
                where = f"{name} {method} {path}: {response.status_code} {response.text[:200]}"
                checked += 1
                assert response.status_code < 500, where
                permitted = (
                    requirement.permission is None or requirement.permission in PERMISSIONS[role]
                )
                if not permitted:
                    assert response.status_code == 403, where
                elif role == Role.LIAISON and "{referral_id}" in _template(app, method, path):
                    # Exactly the answer about a referral that does not exist at all.
                    missing = client.request(
                        method,
                        path.replace(foreign, NO_SUCH),
                        json=body,
                        headers={"X-CSRF-Token": csrf},
                    )
                    assert response.status_code == 404, where
                    assert response.text.replace(foreign, NO_SUCH) == missing.text, where
                    assert FOREIGN[foreign] not in response.text, where
                elif role == Role.LIAISON:
                    assert foreign not in response.text, where
                    assert FOREIGN[foreign] not in response.text, where
        if role == Role.LIAISON:
            # The attacker changed nothing, and not a single audit entry is about the target.
            assert _snapshot(store) == before
            with store.session() as session:
                about = session.scalars(
                    select(AuditEvent).where(AuditEvent.id > head, AuditEvent.target_id == foreign)
                ).all()
            assert about == []
    assert checked > 5 * 50


def _template(app: FastAPI, method: str, path: str) -> str:
    for route in app.routes:
        if isinstance(route, APIRoute) and method in route.methods:
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", route.path)
            if re.fullmatch(pattern, path.split("?")[0]):
                return route.path
    raise AssertionError(f"no route for {method} {path}")


def test_lists_and_pages_hold_only_the_liaisons_jurisdiction(
    app: FastAPI, store: Store, operation: dict[str, str]
) -> None:
    expected = {
        "tonga.ncb": [OWN],
        "fiji.ncb": ["KAI-FJ-NCB-SECRET"],
        "tonga.police": ["KAI-TO-POLICE-SECRET"],
    }
    for name, own in expected.items():
        client, _ = sign_in(app, name)
        with client:
            assert [r["id"] for r in client.get("/api/referrals").json()] == own
            page = client.get("/referrals").text
            others = {OWN, *FOREIGN} - set(own)
            assert own[0] in page and not any(o in page for o in others)
            assert client.get(f"/api/referrals/{own[0]}").status_code == 200
            # The figures, the jobs and the subjects are not a liaison's to see at all.
            for path in ("/api/stats", "/dashboard", "/api/jobs", "/api/subjects", "/subjects"):
                assert client.get(path).status_code == 403, path
            me = client.get("/api/auth/me").json()
            assert me["role"] == "liaison"
    investigator, _ = sign_in(app, operation["investigator"])
    with investigator:
        listed = {r["id"] for r in investigator.get("/api/referrals").json()}
        assert listed == {OWN, *FOREIGN}
        assert investigator.get("/api/stats").json()["referrals"] == 3


def test_a_liaison_cannot_send_a_draft(
    app: FastAPI, store: Store, operation: dict[str, str]
) -> None:
    with store.session() as session:
        session.add(Referral(id="KAI-TO-DRAFT", agency=NCB, country="TO", status="draft"))
    client, csrf = sign_in(app, "tonga.ncb")
    with client:
        detail = client.get("/api/referrals/KAI-TO-DRAFT").json()
        assert detail["next_statuses"] == []
        assert 'data-testid="status-form"' not in client.get("/referrals/KAI-TO-DRAFT").text
        refused = client.post(
            "/api/referrals/KAI-TO-DRAFT/status",
            json={"status": "sent"},
            headers={"X-CSRF-Token": csrf},
        )
        assert refused.status_code == 403 and "sending side" in refused.text
    with store.session() as session:
        draft = session.get(Referral, "KAI-TO-DRAFT")
        assert draft is not None and draft.status == "draft"
        assert session.scalars(select(ReferralEvent)).all() == []
    investigator, csrf = sign_in(app, operation["investigator"])
    with investigator:
        sent = investigator.post(
            "/api/referrals/KAI-TO-DRAFT/status",
            json={"status": "sent"},
            headers={"X-CSRF-Token": csrf},
        )
        assert sent.status_code == 200 and sent.json()["status"] == "sent"


def test_admin_sets_jurisdictions_on_the_web_audited_and_at_once(
    app: FastAPI, store: Store, operation: dict[str, str]
) -> None:
    admin, csrf = sign_in(app, operation["admin"])
    liaison, _ = sign_in(app, "tonga.ncb")
    headers = {"X-CSRF-Token": csrf}
    with admin, liaison:
        assert [r["id"] for r in liaison.get("/api/referrals").json()] == [OWN]
        for bad, message in (
            ({"jurisdictions": ["Tonga"]}, "COUNTRY:AGENCY"),
            ({"jurisdictions": ["QQ:Police"]}, "ISO 3166-1"),
            ({"jurisdictions": ["TO:"]}, "empty"),
        ):
            refused = admin.post("/api/users/tonga.ncb/jurisdictions", json=bad, headers=headers)
            assert refused.status_code == 400 and message in refused.text, refused.text
        assert (
            admin.post(
                "/api/users/tonga.ncb/jurisdictions", json={"jurisdictions": []}, headers=headers
            ).status_code
            == 422
        )
        wider = {"jurisdictions": [f"TO:{NCB}", f"fj:{NCB}"]}
        changed = admin.post("/api/users/tonga.ncb/jurisdictions", json=wider, headers=headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["jurisdictions"] == [
            {"country": "FJ", "agency": NCB},
            {"country": "TO", "agency": NCB},
        ]
        # The signed-in liaison sees the new scope on its very next request.
        assert {r["id"] for r in liaison.get("/api/referrals").json()} == {
            OWN,
            "KAI-FJ-NCB-SECRET",
        }
        not_liaison = admin.post(
            f"/api/users/{operation['auditor']}/jurisdictions", json=wider, headers=headers
        )
        assert not_liaison.status_code == 400 and "no jurisdiction" in not_liaison.text
        added = admin.post(
            "/api/users",
            json={
                "name": "samoa.ncb",
                "role": "liaison",
                "password": PASSWORD,
                "jurisdictions": [f"WS:{NCB}"],
            },
            headers=headers,
        )
        assert added.status_code == 201, added.text
        bare = {"name": "nobody.ncb", "role": "liaison", "password": PASSWORD}
        refused = admin.post("/api/users", json=bare, headers=headers)
        assert refused.status_code == 400 and "needs --jurisdiction" in refused.text
        listed = {u["name"]: u["jurisdictions"] for u in admin.get("/api/users").json()}
        assert listed["samoa.ncb"] == [{"country": "WS", "agency": NCB}]
        assert listed[operation["auditor"]] == []
    with store.session() as session:
        entries = [
            (e.actor, e.action, e.target_id)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["user.added", "user.jurisdiction"]))
                .where(AuditEvent.actor != "test:setup")
                .order_by(AuditEvent.id)
            )
        ]
    assert entries == [
        ("web:admin-user", "user.jurisdiction", "tonga.ncb"),
        ("web:admin-user", "user.added", "samoa.ncb"),
    ]


def test_a_permission_table_change_would_be_noticed() -> None:
    # The attacks above (and tests/web/test_web_received.py's) trust these to be the only
    # liaison permissions.
    assert PERMISSIONS[Role.LIAISON] == {
        Permission.VIEW_REFERRALS,
        Permission.UPDATE_REFERRAL,
        Permission.RECORD_OUTCOMES,
        Permission.RECEIVE_REFERRALS,
    }


def test_sign_in_and_me_say_which_jurisdictions_a_liaison_works_for(
    app: FastAPI, store: Store
) -> None:
    pairs = [
        Jurisdiction("TO", "INTERPOL National Central Bureau"),
        Jurisdiction("FJ", "Fiji Police"),
    ]
    add_user(store, "ncb-tonga", Role.LIAISON, PASSWORD, actor="test:setup", jurisdictions=pairs)
    client, _ = sign_in(app, "ncb-tonga")
    with client:
        signed = client.post(
            "/api/auth/login", json={"name": "ncb-tonga", "password": PASSWORD}
        ).json()
        me = client.get("/api/auth/me").json()
    expected = ["FJ:Fiji Police", "TO:INTERPOL National Central Bureau"]
    assert signed["jurisdictions"] == me["jurisdictions"] == expected
    assert signed["agency"] == me["agency"] == "; ".join(expected)

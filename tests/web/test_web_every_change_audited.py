"""Every change the web can make writes exactly one audit entry, as the signed-in user.

The table below has a scenario for every route with an unsafe method (POST, PUT, PATCH,
DELETE): a valid request, by a user allowed to make it, against real objects in the store.
Each must succeed and write exactly one new entry with the expected action and the actor
``web:<that user>`` (for a sign-in: the user signing in). A route that queues a job writes one
entry (``job_submitted``); the job is then run and everything it writes must carry the
submitter as actor, never the server's OS user. A route missing from the table fails the test,
so a new route cannot slip in unaudited. Runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_helpers import AGENCY, PASSWORD, add_role_user, jpeg, photo, sign_in

from kaitiaki.hashsets import import_hash_set
from kaitiaki.jobs import DONE, JobRunner, get_job, submit
from kaitiaki.store import Store
from kaitiaki.store.models import AccountLink, AuditEvent, Referral, Subject
from kaitiaki.users import Role

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADMIN = "admin-user"
# Pages answer a successful form with "see other", the API with 2xx.
PAGE_SUCCESS = 303


@dataclass(frozen=True)
class Expect:
    action: str
    actor: str = ADMIN
    # Actions the queued job's run must write (all as the submitter); empty: no job.
    job_actions: tuple[str, ...] = ()
    # Entries the same act writes after its own, by the same actor (a job it queues).
    also: tuple[str, ...] = ()


@dataclass
class World:
    app: FastAPI
    store: Store
    root: Path
    admin: TestClient
    headers: dict[str, str]
    scanned: dict[str, Any]
    clients: dict[str, TestClient] = field(default_factory=dict)
    # What a scenario leaves running until the test ends (the CyberTipline stand-in).
    stack: ExitStack = field(default_factory=ExitStack)


Call = Callable[[], httpx.Response]
Scenario = Callable[[World], tuple[Call, Expect]]


def _post(w: World, path: str, **kwargs: Any) -> Call:
    return lambda: w.admin.post(path, headers=w.headers, **kwargs)


def _api_login(w: World) -> tuple[Call, Expect]:
    name = add_role_user(w.store, Role.INVESTIGATOR)
    client = w.clients["api"] = TestClient(w.app)
    body = {"name": name, "password": PASSWORD}
    return lambda: client.post("/api/auth/login", json=body), Expect("login", name)


def _page_login(w: World) -> tuple[Call, Expect]:
    name = add_role_user(w.store, Role.REVIEWER)
    client = w.clients["page"] = TestClient(w.app)
    token = client.get("/login").text.split('name="login_token" value="')[1].split('"')[0]
    form = {"name": name, "password": PASSWORD, "login_token": token}
    return lambda: client.post("/login", data=form, follow_redirects=False), Expect("login", name)


def _api_logout(w: World) -> tuple[Call, Expect]:
    client = w.clients["api"]
    csrf = client.get("/api/auth/me").json()["csrf_token"]
    call = lambda: client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})  # noqa: E731
    return call, Expect("logout", "investigator-user")


def _page_logout(w: World) -> tuple[Call, Expect]:
    client = w.clients["page"]
    csrf = client.get("/api/auth/me").json()["csrf_token"]
    form = {"csrf_token": csrf}
    call = lambda: client.post("/logout", data=form, follow_redirects=False)  # noqa: E731
    return call, Expect("logout", "reviewer-user")


def _cancel(w: World) -> tuple[Call, Expect]:
    # Queued (never run: the cancel comes before any other job is run).
    params = {"evidence": "never", "roots": [str(w.scanned["root"])]}
    job_id = submit(w.store, "scan", params, by=f"web:{ADMIN}")
    return _post(w, f"/api/jobs/{job_id}/cancel"), Expect("job_cancelled")


def _upload(w: World) -> tuple[Call, Expect]:
    hashes = b"".join(b"%032x\n" % i for i in range(1, 50))
    form = {"name": "uploaded-set", "format": "list"}
    files = {"file": ("list.txt", hashes)}
    return _post(w, "/api/hashsets", data=form, files=files), Expect(
        "job_submitted", job_actions=("hashset.imported",)
    )


def _scan(w: World) -> tuple[Call, Expect]:
    folder = w.root / "second"
    folder.mkdir()
    (folder / "rocket.jpg").write_bytes(jpeg(photo("rocket")))
    body = {"evidence": "second", "roots": [str(folder)]}
    return _post(w, "/api/scans", json=body), Expect(
        "job_submitted", job_actions=("evidence.created", "scan.finished")
    )


def _analyse(w: World) -> tuple[Call, Expect]:
    from kaitiaki.simulate.operation import simulate_operation

    op = w.root / "op"
    simulate_operation(op, accounts=300, flagged_accounts=30, events=3000, seed=5)
    import_hash_set(w.store, op / "hashset.json", "operation-set", "vics", actor="test:setup")
    body = {
        "records": [str(op / "records.csv")],
        "accounts": str(op / "accounts.csv"),
        "catalog": str(op / "catalog.csv"),
        "out": "analysis",
    }
    return _post(w, "/api/analyses", json=body), Expect(
        "job_submitted", job_actions=("operation.analysed",)
    )


def _analysis(w: World) -> Path:
    return (w.root / "web" / "analysis").resolve()


def _compute(w: World) -> tuple[Call, Expect]:
    body = {"workspace": str(_analysis(w) / "workspace")}
    return _post(w, "/api/priorities/compute", json=body), Expect("priorities.computed")


def _first_subject(store: Store) -> str:
    with store.session() as session:
        found = session.scalar(select(Subject.id).order_by(Subject.id).limit(1))
    assert found is not None, "the analysis left no subject"
    return found


def _override(w: World) -> tuple[Call, Expect]:
    body = {"tier": "high", "reason": "disclosed in an interview today"}
    path = f"/api/subjects/{_first_subject(w.store)}/override"
    return _post(w, path, json=body), Expect("priority.override")


def _reject_link(w: World) -> tuple[Call, Expect]:
    with w.store.session() as session:
        link = session.scalars(select(AccountLink).where(AccountLink.rejected.is_(False))).first()
        assert link is not None, "the analysis left no link"
        body = {"account_a": link.account_a, "account_b": link.account_b}
    body["reason"] = "checked: two different people"
    return _post(w, "/api/links/reject", json=body), Expect("link.rejected")


def _build(w: World) -> tuple[Call, Expect]:
    from kaitiaki.refer.signing import generate_key

    generate_key()  # the server's key, under $KAITIAKI_KEYS (set by the test)
    body = {"analysis": str(_analysis(w))}
    return _post(w, "/api/referrals/build", json=body), Expect(
        "job_submitted", job_actions=("referral.built",)
    )


REFERRAL = "KAI-NZ-AUDITED"


def _status(w: World) -> tuple[Call, Expect]:
    with w.store.session() as session:
        session.add(Referral(id=REFERRAL, agency=AGENCY, country="NZ", status="draft"))
    body = {"status": "sent", "note": "sent by the secure channel"}
    return _post(w, f"/api/referrals/{REFERRAL}/status", json=body), Expect("referral.status")


def _outcome(w: World) -> tuple[Call, Expect]:
    body = {"kind": "arrested", "count": 1, "note": "arrest on warrant"}
    return _post(w, f"/api/referrals/{REFERRAL}/outcomes", json=body), Expect("referral.outcome")


def _user_add(w: World) -> tuple[Call, Expect]:
    body = {"name": "new-analyst", "role": "investigator", "password": PASSWORD}
    return _post(w, "/api/users", json=body), Expect("user.added")


def _user_jurisdictions(w: World) -> tuple[Call, Expect]:
    name = add_role_user(w.store, Role.LIAISON)
    body = {"jurisdictions": ["AU:Australian Federal Police"]}
    return _post(w, f"/api/users/{name}/jurisdictions", json=body), Expect("user.jurisdiction")


def _user_disable(w: World) -> tuple[Call, Expect]:
    return _post(w, "/api/users/new-analyst/disable"), Expect("user.disabled")


def _token_create(w: World) -> tuple[Call, Expect]:
    body = {"name": "hma-client", "scopes": ["match"]}
    return _post(w, "/api/tokens", json=body), Expect("token.created")


def _token_revoke(w: World) -> tuple[Call, Expect]:
    return _post(w, "/api/tokens/hma-client/revoke"), Expect("token.revoked")


def _legal_basis(w: World) -> tuple[Call, Expect]:
    path = f"/api/evidence/{w.scanned['evidence_id']}/legal-basis"
    body = {"legal_basis": "search warrant 2026/117"}
    return _post(w, path, json=body), Expect("evidence.legal_basis")


def _reveal(w: World) -> tuple[Call, Expect]:
    body = {"evidence_id": w.scanned["evidence_id"], "reason": "checking the category by eye"}
    return _post(w, f"/api/files/{w.scanned['coffee']}/reveal", json=body), Expect("reveal")


def _decide(w: World) -> tuple[Call, Expect]:
    body = {"sha256": w.scanned["astronaut"], "category": "ignorable", "apply_to_group": False}
    path = f"/api/review/{w.scanned['evidence_id']}/decisions"
    return _post(w, path, json=body), Expect("review_decision")


def _json(path: str, body: dict[str, Any], action: str) -> Scenario:
    def scenario(w: World) -> tuple[Call, Expect]:
        return _post(w, path, json=body), Expect(action)

    return scenario


def _upload_sheet(path: str, text: str, action: str) -> Scenario:
    def scenario(w: World) -> tuple[Call, Expect]:
        files = {"file": ("sheet.csv", text.replace("{subject}", _first_subject(w.store)))}
        return _post(w, path, files=files), Expect(action)

    return scenario


def _trust_add(w: World) -> tuple[Call, Expect]:
    from kaitiaki.refer.signing import generate_key, public_path

    partner = public_path(generate_key(w.root / "partner" / "partner.key"))
    body = {"name": "partner-nz", "public_key_pem": partner.read_text(), "note": "met in person"}
    return _post(w, "/api/trust", json=body), Expect("trust.key_added")


def _trust_remove(w: World) -> tuple[Call, Expect]:
    return _delete(w, "/api/trust/partner-nz"), Expect("trust.key_removed")


def _series_update(w: World) -> tuple[Call, Expect]:
    """A partner's signed update agreeing with what the series scenarios left: nothing to
    apply, so the one entry is the import of the file itself."""
    from kaitiaki.refer.envelope import SERIES_UPDATE_TYPE, seal
    from kaitiaki.refer.signing import generate_key, load_private, public_path
    from kaitiaki.refer.trust import add_trusted_key

    key = generate_key(w.root / "partner-au" / "au.key")
    add_trusted_key(w.store, "partner-au", public_path(key), actor="test:setup")
    update = {
        "$schema": "https://kaitiaki.example/schema/series-update-v1.json",
        "schema_version": "1.0",
        "issued_at": "2026-12-03T12:00:00Z",
        "issued_by": "web:au-vid",
        "agency": {"country": "AU", "name": "Australian Federal Police"},
        "series": [{"name": "S-1", "identified": True, "victims": [], "offenders": []}],
    }
    files = {"file": ("update.json", seal(update, SERIES_UPDATE_TYPE, load_private(key)))}
    return _post(w, "/api/series-updates", files=files), Expect("series_update.imported")


def _outcome_file(w: World) -> tuple[Call, Expect]:
    """A partner's signed outcome file with no steps yet: nothing to apply, so the one entry is
    the import of the file itself."""
    from kaitiaki.refer.envelope import OUTCOME_TYPE, seal
    from kaitiaki.refer.outcome_file import SCHEMA_ID
    from kaitiaki.refer.signing import generate_key, load_private, public_path
    from kaitiaki.refer.trust import add_trusted_key

    referral = "KAI-NZ-20261203-7"
    with w.store.session() as session:
        session.add(Referral(id=referral, agency=AGENCY, country="NZ", status="sent"))
    key = generate_key(w.root / "partner-nz-outcomes" / "nz.key")
    add_trusted_key(
        w.store, "partner-nz-outcomes", public_path(key), actor="test:setup",
        jurisdictions=[f"NZ:{AGENCY}"],
    )  # fmt: skip
    document = {
        "$schema": SCHEMA_ID,
        "schema_version": "1.0",
        "referral_id": referral,
        "package_manifest_sha256": "ab" * 32,
        "package_version": 1,
        "agency": {"country": "NZ", "name": AGENCY},
        "issued_at": "2026-12-03T12:00:00Z",
        "issued_by": "web:nz-liaison",
        "subjects": [],
        "steps": [],
        "totals": {
            "arrested": 0, "children_safeguarded": 0, "devices_seized": 0, "no_further_action": 0
        },
    }  # fmt: skip
    files = {"file": ("outcome.json", seal(document, OUTCOME_TYPE, load_private(key)))}
    return _post(w, "/api/referrals/outcome-files", files=files), Expect("outcomes.file_imported")


RECEIVED = "KAI-US-20261203-1"


def _received_import(w: World) -> tuple[Call, Expect]:
    """A partner's signed package, uploaded as a ZIP. Its subject flags no file: flagged
    files would also make a hash set of their own, audited as "hashset.imported"."""
    import shutil

    from package_samples import document, key_pair, make_package, subject

    from kaitiaki.refer.trust import add_trusted_key

    private, public = key_pair(w.root, "us-partner")
    add_trusted_key(w.store, "partner-us", public, actor="test:setup")
    doc = document(RECEIVED, subjects=[{**subject("S-RECEIVED-1"), "flagged_files": []}])
    folder = make_package(w.root / "received" / RECEIVED, private, doc)
    archive = Path(shutil.make_archive(str(w.root / RECEIVED), "zip", folder.parent, RECEIVED))
    files = {"file": ("package.zip", archive.read_bytes())}
    return _post(w, "/api/received/packages", files=files), Expect("received.created")


def _delete(w: World, path: str) -> Call:
    return lambda: w.admin.delete(path, headers=w.headers)


def _hashset(verb: str) -> Scenario:
    """``enable``/``disable``/``remove`` the set the upload's job imported."""

    def scenario(w: World) -> tuple[Call, Expect]:
        path = "/api/hashsets/uploaded-set"
        call = _delete(w, path) if verb == "remove" else _post(w, f"{path}/{verb}")
        return call, Expect(f"hashset.{verb}d")

    return scenario


HMA_TOKEN = "hma-curator"


def _hma(
    method: str,
    path: str,
    action: str,
    body: dict[str, Any] | None = None,
    also: tuple[str, ...] = (),
) -> Scenario:
    """An HMA curation call (kaitiaki.web.hma) with a curate-scoped API token, audited as
    ``token:<name>``; ``{content_id}`` is the entry the signal scenario added; ``also``: what
    the same call writes after (an entry added queues the set's retroactive match)."""

    def scenario(w: World) -> tuple[Call, Expect]:
        from kaitiaki.store.models import HashSet, HashSetEntry
        from kaitiaki.users.tokens import create_token

        if "hma" not in w.clients:
            _view, raw = create_token(w.store, HMA_TOKEN, ["curate"], actor="test:setup")
            w.clients["hma"] = TestClient(w.app, headers={"Authorization": f"Bearer {raw}"})
        client = w.clients["hma"]
        concrete = path
        if "{content_id}" in path:
            with w.store.session() as session:
                entry = session.scalar(
                    select(HashSetEntry.id)
                    .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
                    .where(HashSet.name == "HMA_BANK")
                )
            concrete = path.replace("{content_id}", str(entry))
        concrete = concrete.replace("{bank_name}", "HMA_BANK")
        return lambda: client.request(method, concrete, json=body), Expect(
            action, f"token:{HMA_TOKEN}", also=also
        )

    return scenario


def _hma_photo(w: World) -> tuple[Call, Expect]:
    """An uploaded photo banked through HMA's ``POST /c/bank/<name>/content``."""
    client = w.clients["hma"]
    files = {"photo": ("p.jpg", jpeg(photo("coffee")))}
    call = lambda: client.post("/c/bank/HMA_BANK/content", files=files)  # noqa: E731
    # No second job: the signal scenario's retroactive match of this bank is still queued.
    return call, Expect("hashset.entry_added", f"token:{HMA_TOKEN}")


def _release(w: World) -> tuple[Call, Expect]:
    """A quarantined entry released by a reviewer; the release queues the set's retroactive
    match (``job_submitted``, by the same user)."""
    from datetime import UTC, datetime

    from kaitiaki.store.models import HashSet, HashSetEntry

    with w.store.session() as session:
        row = HashSet(name="flooded", profile="none", source_format="test", entry_count=1)
        session.add(row)
        session.flush()
        entry = HashSetEntry(hash_set_id=row.id, md5="f" * 32, quarantined_at=datetime.now(UTC))
        session.add(entry)
        session.flush()
        path = f"/api/quarantine/{entry.id}/release"
    body = {"reason": "a genuine surge of reports, checked"}
    return _post(w, path, json=body), Expect("hashset.entry_released", also=("job_submitted",))


HMA_EXCHANGE_TOKEN = "hma-exchanger"


def _hma_exchange(
    method: str, path: str, action: str, body: dict[str, Any] | None = None
) -> Scenario:
    """An HMA exchange call (kaitiaki.web.hma.exchanges) with an exchange-scoped API token; the
    exchange feeds HMA_BANK, which already exists, so adding it is one change."""

    def scenario(w: World) -> tuple[Call, Expect]:
        from kaitiaki.users.tokens import create_token

        if "hma-exchange" not in w.clients:
            _view, raw = create_token(w.store, HMA_EXCHANGE_TOKEN, ["exchange"], actor="test:setup")
            headers = {"Authorization": f"Bearer {raw}"}
            w.clients["hma-exchange"] = TestClient(w.app, headers=headers)
        client = w.clients["hma-exchange"]
        concrete = path.replace("{exchange_name}", "HMA_BANK")
        call = lambda: client.request(method, concrete, json=body)  # noqa: E731
        return call, Expect(action, f"token:{HMA_EXCHANGE_TOKEN}")

    return scenario


def _exchange_feedback(w: World) -> tuple[Call, Expect]:
    """A reviewer's decision sent back to an exchange that takes feedback (a sample exchange
    recording opinions, registered only while the scenario runs: no network)."""
    from exchange_fakes import opinions_registered
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from kaitiaki.exchanges import add_exchange, fetch

    with opinions_registered():
        add_exchange(w.store, "FEEDBACK", "opinions", actor="test:setup")
        fetch(w.store, "FEEDBACK", actor="test:setup")
    body = {"signal_type": "pdq", "signal": min(PdqSignal.get_examples()), "opinion": "positive"}

    def call() -> httpx.Response:
        with opinions_registered():
            return w.admin.post("/api/exchanges/FEEDBACK/feedback", json=body, headers=w.headers)

    return call, Expect("exchange.feedback")


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    was = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if was is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = was


def _reportable(w: World) -> str:
    """A subject of the analysis a CyberTipline report can be drafted for (one whose accounts
    have events on flagged files), with the provider profile a draft needs."""
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.cybertip.gather import gather
    from kaitiaki.cybertip.profile import set_profile

    set_profile(
        w.store, actor="test:setup", first_name="Ana", last_name="Trust",
        email="ana.trust@example.org", esp_name="ExampleCloud",
    )  # fmt: skip
    with w.store.session() as session:
        subjects = sorted(session.scalars(select(Subject.id)))
    for subject in subjects:
        try:
            gather(w.store, _analysis(w) / "workspace", subject)
        except CyberTipError:
            continue
        return str(subject)
    raise AssertionError("no subject of the analysis can be reported")


def _report_draft(w: World) -> tuple[Call, Expect]:
    body = {"subject_id": _reportable(w), "analysis": str(_analysis(w))}
    return _post(w, "/api/cybertip/reports", json=body), Expect("cybertip.drafted")


def _first_report(w: World) -> int:
    from kaitiaki.store.models import CyberTipReport

    with w.store.session() as session:
        found = session.scalar(select(func.min(CyberTipReport.id)))
    assert found is not None, "the draft scenario drafted no report"
    return int(found)


def _report_revise(w: World) -> tuple[Call, Expect]:
    body = {"escalate": "the child is at immediate risk"}
    path = f"/api/cybertip/reports/{_first_report(w)}/revise"
    return _post(w, path, json=body), Expect("cybertip.revised")


def _report_submit(w: World) -> tuple[Call, Expect]:
    """Sent by the job to NCMEC's stand-in on loopback; the finished report holds itself."""
    from kaitiaki.cybertip.credentials import set_credentials
    from kaitiaki.cybertip.standin import StandIn, serve_in_thread

    user, password = "esp-audited", "Not-A-Real-Password-audit"
    url = w.stack.enter_context(serve_in_thread(StandIn(user, password).app))
    w.stack.enter_context(_env("KAITIAKI_CYBERTIP_URL", url))
    set_credentials(w.store, user, password, production=False, actor="test:setup")
    path = f"/api/cybertip/reports/{_first_report(w)}/submit"
    return _post(w, path), Expect(
        "job_submitted",
        job_actions=("cybertip.submitted", "cybertip.finished", "hold.placed"),
    )


def _report_retract(w: World) -> tuple[Call, Expect]:
    """A second draft, never opened at NCMEC, retracted here (a job all the same)."""
    from kaitiaki.cybertip.drafts import draft_report

    workspace = _analysis(w) / "workspace"
    report = draft_report(w.store, workspace, _reportable(w), actor="test:setup")
    path = f"/api/cybertip/reports/{report}/retract"
    return _post(w, path), Expect("job_submitted", job_actions=("cybertip.retracted",))


PRESERVATION = "PR-2026-AUDITED"


def _hold_place(w: World) -> tuple[Call, Expect]:
    body = {
        "target_type": "subject",
        "target_id": _first_subject(w.store),
        "basis_kind": "preservation_request",
        "basis_text": "2703(f) request from the county sheriff",
        "reference": PRESERVATION,
    }
    return _post(w, "/api/holds", json=body), Expect("hold.placed")


def _hold_id(w: World) -> int:
    from kaitiaki.store.models import LegalHold

    with w.store.session() as session:
        found = session.scalar(select(LegalHold.id).where(LegalHold.reference == PRESERVATION))
    assert found is not None, "the hold scenario placed no hold"
    return int(found)


def _hold_extend(w: World) -> tuple[Call, Expect]:
    return _post(w, f"/api/holds/{_hold_id(w)}/extend"), Expect("hold.extended")


def _hold_release(w: World) -> tuple[Call, Expect]:
    body = {"reason": "the sheriff withdrew the request in writing"}
    return _post(w, f"/api/holds/{_hold_id(w)}/release", json=body), Expect("hold.released")


def _disclose(w: World) -> tuple[Call, Expect]:
    """Legal process answered for an account, signed with the server's key (made by the
    referral build scenario, which runs first)."""
    from kaitiaki.store.models import Account

    with w.store.session() as session:
        account = session.scalar(select(func.min(Account.account_id)))
    body = {"account_id": account, "request_ref": "SW/2026/AUDIT", "analysis": str(_analysis(w))}
    return _post(w, "/api/disclosures", json=body), Expect("disclosure.written")


# In the order they run: sign-ins first, a cancel before any job is run, the analysis before
# what needs its subjects, links and workspace, sign-outs last.
SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("POST", "/api/auth/login"): _api_login,
    ("POST", "/login"): _page_login,
    ("POST", "/api/jobs/{job_id}/cancel"): _cancel,
    ("POST", "/api/hashsets"): _upload,
    ("POST", "/api/hashsets/{name}/disable"): _hashset("disable"),
    ("POST", "/api/hashsets/{name}/enable"): _hashset("enable"),
    ("DELETE", "/api/hashsets/{name}"): _hashset("remove"),
    ("POST", "/api/scans"): _scan,
    ("POST", "/api/evidence/{evidence_id}/legal-basis"): _legal_basis,
    ("POST", "/api/files/{sha256}/reveal"): _reveal,
    ("POST", "/api/review/{evidence_id}/decisions"): _decide,
    ("POST", "/api/analyses"): _analyse,
    ("POST", "/api/priorities/compute"): _compute,
    ("POST", "/api/subjects/{subject_id}/override"): _override,
    ("POST", "/api/links/reject"): _reject_link,
    ("POST", "/api/referrals/build"): _build,
    ("POST", "/api/referrals/{referral_id}/status"): _status,
    ("POST", "/api/referrals/{referral_id}/outcomes"): _outcome,
    ("POST", "/api/outcomes/import"): _upload_sheet(
        "/api/outcomes/import",
        f"referral_id,arrested\n{REFERRAL},1\n",
        "referral.outcome",
    ),
    ("POST", "/api/referrals/outcome-files"): _outcome_file,
    ("POST", "/api/enrichment/import"): _upload_sheet(
        "/api/enrichment/import", "subject_id,travel\n{subject},yes\n", "enrichment.imported"
    ),
    ("POST", "/api/series"): _json("/api/series", {"name": "S-1"}, "series.created"),
    ("POST", "/api/series/{name}"): _json(
        "/api/series/S-1", {"identified": True, "reason": "victim named"}, "series.updated"
    ),
    ("POST", "/api/victims"): _json("/api/victims", {"id": "V-1"}, "victim.created"),
    ("POST", "/api/victims/{victim_id}"): _json(
        "/api/victims/V-1", {"identified": True, "reason": "safeguarded"}, "victim.updated"
    ),
    ("POST", "/api/offenders"): _json("/api/offenders", {"id": "O-1"}, "offender.created"),
    ("POST", "/api/offenders/{offender_id}"): _json(
        "/api/offenders/O-1", {"identified": True, "reason": "arrested"}, "offender.updated"
    ),
    ("POST", "/api/series-updates"): _series_update,
    ("POST", "/api/received/packages"): _received_import,
    ("POST", "/api/received/{case_id}/steps"): _json(
        f"/api/received/{RECEIVED}/steps",
        {"kind": "legal_request", "detail": "subscriber of 198.51.100.7"},
        "received.step",
    ),
    ("POST", "/api/received/{case_id}/notes"): _json(
        f"/api/received/{RECEIVED}/notes", {"text": "called the ISP"}, "received.note"
    ),
    ("POST", "/api/received/{case_id}/assign"): _json(
        f"/api/received/{RECEIVED}/assign", {"user": ADMIN}, "received.assigned"
    ),
    ("POST", "/api/trust"): _trust_add,
    ("DELETE", "/api/trust/{name}"): _trust_remove,
    ("POST", "/api/users"): _user_add,
    ("POST", "/api/users/{name}/jurisdictions"): _user_jurisdictions,
    ("POST", "/api/users/{name}/disable"): _user_disable,
    ("POST", "/api/tokens"): _token_create,
    ("POST", "/api/tokens/{name}/revoke"): _token_revoke,
    ("POST", "/c/banks"): _hma("POST", "/c/banks", "hashset.created", {"name": "HMA_BANK"}),
    ("PUT", "/c/bank/{bank_name}"): _hma(
        "PUT", "/c/bank/{bank_name}", "hashset.updated", {"pdq_threshold": 20}
    ),
    ("POST", "/c/bank/{bank_name}/signal"): _hma(
        "POST",
        "/c/bank/{bank_name}/signal",
        "hashset.entry_added",
        {"md5": "0" * 32},
        also=("job_submitted",),
    ),
    ("DELETE", "/c/bank/{bank_name}/content/{content_id}"): _hma(
        "DELETE", "/c/bank/{bank_name}/content/{content_id}", "hashset.entry_removed"
    ),
    ("POST", "/c/bank/{bank_name}/content"): _hma_photo,
    ("POST", "/c/exchanges"): _hma_exchange(
        "POST", "/c/exchanges", "exchange.added", {"api": "sample", "bank": "HMA_BANK"}
    ),
    # Audited as set, never with the credentials (test_hma_exchange_apis checks the entry).
    ("POST", "/c/exchanges/api/{api_name}"): _hma_exchange(
        "POST",
        "/c/exchanges/api/ncmec",
        "exchange_api.credentials_set",
        {"credential_json": {"user": "hma-user", "password": "hma-password"}},
    ),
    ("PUT", "/c/exchange/{exchange_name}"): _hma_exchange(
        "PUT", "/c/exchange/{exchange_name}", "exchange.disabled", {"enabled": False}
    ),
    ("DELETE", "/c/exchange/{exchange_name}"): _hma_exchange(
        "DELETE", "/c/exchange/{exchange_name}", "exchange.removed"
    ),
    ("PUT", "/c/bank/{bank_name}/content/{content_id}"): _hma(
        "PUT",
        "/c/bank/{bank_name}/content/{content_id}",
        "hashset.entry_updated",
        {"disable_until_ts": 0},
    ),
    ("POST", "/api/quarantine/{entry_id}/release"): _release,
    ("DELETE", "/c/bank/{bank_name}"): _hma("DELETE", "/c/bank/{bank_name}", "hashset.removed"),
    ("POST", "/api/exchanges/{name}/feedback"): _exchange_feedback,
    ("POST", "/api/cybertip/reports"): _report_draft,
    ("POST", "/api/cybertip/reports/{report_id}/revise"): _report_revise,
    ("POST", "/api/cybertip/reports/{report_id}/submit"): _report_submit,
    ("POST", "/api/cybertip/reports/{report_id}/retract"): _report_retract,
    ("POST", "/api/holds"): _hold_place,
    ("POST", "/api/disclosures"): _disclose,
    ("POST", "/api/holds/{hold_id}/extend"): _hold_extend,
    ("POST", "/api/holds/{hold_id}/release"): _hold_release,
    ("POST", "/api/auth/logout"): _api_logout,
    ("POST", "/logout"): _page_logout,
}


# POSTs that change nothing: HMA's hashing and lookup of an uploaded file (a POST only because
# the file is the body) and its comparison of two hashes; test_hma_api checks the first two
# write no audit entry. HMA's per-signal-type switch takes only the ratio already true (every
# type on: test_hma_signal_types), so it changes nothing either.
READ_ONLY = {
    ("POST", "/h/hash"),
    ("POST", "/m/lookup"),
    ("POST", "/m/compare"),
    ("PUT", "/c/signal_type/{signal_type_name}"),
}


def unsafe_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in (route.methods or set()) & UNSAFE
    } - READ_ONLY


def test_every_unsafe_route_has_a_scenario(app: FastAPI) -> None:
    routes = unsafe_routes(app)
    missing = [f"add a scenario for {m} {p}" for m, p in sorted(routes - SCENARIOS.keys())]
    stale = [f"no route {m} {p} any more" for m, p in sorted(SCENARIOS.keys() - routes)]
    assert not missing and not stale, "\n".join(missing + stale)


def _head(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def _since(store: Store, after: int) -> list[AuditEvent]:
    with store.session() as session:
        query = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        return list(session.scalars(query))


def _run_job(w: World, job_id: int, expect: Expect) -> list[str]:
    """Run the queued job here; what went wrong with its audit, if anything."""
    runner = JobRunner(w.store.url, workers=1)
    # Jobs queued before it run first: the retroactive matches earlier changes queued.
    while True:
        before = _head(w.store)
        ran = runner.run_once()
        assert ran is not None, f"job {job_id} was never run"
        if ran == job_id:
            break
    job = get_job(w.store, job_id)
    assert job is not None
    if job.status != DONE:
        return [f"job {job_id} ended {job.status}: {job.error}"]
    written = _since(w.store, before)
    wrong = [f"{e.action} by {e.actor}" for e in written if e.actor != f"web:{ADMIN}"]
    absent = set(expect.job_actions) - {e.action for e in written}
    problems = [f"job entries not by the submitter: {wrong}"] if wrong else []
    return problems + ([f"job wrote no {sorted(absent)}"] if absent else [])


def test_every_change_writes_one_entry_as_its_user(
    app: FastAPI, store: Store, scanned: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    add_role_user(store, Role.ADMIN)
    admin, csrf = sign_in(app, ADMIN)
    w = World(app, store, tmp_path, admin, {"X-CSRF-Token": csrf}, scanned)
    failures: list[str] = []
    for (method, path), scenario in SCENARIOS.items():
        call, expect = scenario(w)
        before = _head(store)
        response = call()
        where = f"{method} {path}"
        if not (200 <= response.status_code < 300 or response.status_code == PAGE_SUCCESS):
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            continue
        written = [(e.action, e.actor) for e in _since(store, before)]
        # A token's calls (HMA API) are audited as "token:<name>", a user's as "web:<name>".
        actor = expect.actor if expect.actor.startswith("token:") else f"web:{expect.actor}"
        if written != [(a, actor) for a in (expect.action, *expect.also)]:
            failures.append(f"{where}: wrote {written}, expected one {expect}")
        if expect.job_actions:
            failures += [f"{where}: {p}" for p in _run_job(w, response.json()["id"], expect)]
    for client in (admin, *w.clients.values()):
        client.close()
    w.stack.close()
    assert not failures, "\n".join(failures)


def test_a_sign_in_or_out_is_one_transaction_with_its_entry(
    app: FastAPI, store: Store, monkeypatch: Any
) -> None:
    """The session and its "login" entry commit together: when the entry cannot be written,
    no session is left behind (and a sign-out whose entry fails leaves the session alive)."""
    import kaitiaki.audit.log
    from kaitiaki.store.models import WebSession

    def sessions() -> int:
        with store.session() as session:
            return session.scalar(select(func.count()).select_from(WebSession)) or 0

    def broken(session: object) -> None:
        raise RuntimeError("the audit log cannot be written")

    name = add_role_user(store, Role.INVESTIGATOR)
    signed_in, csrf = sign_in(app, name)
    before = _head(store)
    monkeypatch.setattr(kaitiaki.audit.log, "_lock_log", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {"name": name, "password": PASSWORD}
        assert client.post("/api/auth/login", json=body).status_code == 500
        assert sessions() == 1  # only the one signed in before
    with pytest.raises(RuntimeError, match="cannot be written"):
        signed_in.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert sessions() == 1
    assert _head(store) == before
    signed_in.close()

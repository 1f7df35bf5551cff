"""A partner's signed outcome file at the lead unit: verified, bound to the referrals that partner
received, applied once (statuses forward, outcomes counted), and refused whole when wrong."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from outcome_samples import (
    AFP,
    DRAFT,
    OTHER,
    REF,
    SENT_AT,
    document,
    key,
    rows,
    seed,
    step,
    trust,
)
from sqlalchemy import select

from kaitiaki.audit.log import utc
from kaitiaki.refer.envelope import OUTCOME_TYPE, EnvelopeError, UnknownSignerError, seal
from kaitiaki.refer.lifecycle import LifecycleError, check_transition
from kaitiaki.refer.outcome_file import OutcomeFileError, read_outcome_file, write_outcome_file
from kaitiaki.refer.outcome_import import import_outcome_file
from kaitiaki.refer.service import ReferralNotFoundError, history, referral_detail
from kaitiaki.refer.stats import operation_stats
from kaitiaki.refer.steps import KINDS
from kaitiaki.refer.versions import load_schema
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, OutcomeFile
from kaitiaki.users import Role, Scope, jurisdiction

OPERATOR = Scope.operator()
ACTOR = "cli:ops.lead"
AU = "AU:" + AFP

FIRST = [
    step("received", "2026-11-02"),
    step("search_warrant", "2026-11-20", "S1"),
    step("devices_seized", "2026-11-21", "S1", 3),
    step("arrest", "2026-11-21", "S1", 2),
    step("children_safeguarded", "2026-11-22", "S1", 3),
]


def _import(store: Store, path: Path, **kwargs: Any) -> Any:
    return import_outcome_file(store, path, actor=ACTOR, scope=OPERATOR, **kwargs)


def test_the_schema_names_every_step_kind() -> None:
    schema = load_schema("outcome-v1.json")
    assert schema["properties"]["steps"]["items"]["properties"]["kind"]["enum"] == list(KINDS)
    assert schema["properties"]["steps"]["maxItems"] == 10000


def test_an_outcome_file_moves_the_referral_and_counts_once(store: Store, tmp_path: Path) -> None:
    seed(store)
    afp, afp_public = key(tmp_path, "afp")
    trust(store, "AFP", afp_public, AU)
    first = tmp_path / "outcome-1.json"
    digest = write_outcome_file(first, document(FIRST), afp)

    result = _import(store, first)
    assert (result.sender, result.sha256, result.already_imported) == ("AFP", digest, False)
    assert (result.steps, result.new_steps, result.status) == (5, 5, "arrest")
    # "investigating" was not reported: skipped on this signed path only.
    assert result.statuses == ("acknowledged", "warrant", "arrest")
    assert result.added == {
        "arrested": 2,
        "children_safeguarded": 3,
        "devices_seized": 3,
        "no_further_action": 0,
    }
    changes = history(store, REF, scope=OPERATOR)
    assert [c.status for c in changes] == ["sent", "acknowledged", "warrant", "arrest"]
    # Received the day it was sent: dated no earlier than "sent", so the history keeps its order.
    assert utc(changes[1].at) == SENT_AT
    assert "AFP reports 'search warrant' on 2026-11-20" in changes[2].note
    assert changes[3].by == ACTOR
    view = referral_detail(store, REF, scope=OPERATOR)
    assert sorted((o.kind, o.count) for o in view.outcomes) == [
        ("arrested", 2),
        ("children_safeguarded", 3),
        ("devices_seized", 3),
        ("received", 0),
        ("search_warrant", 0),
    ]
    assert {o.source for o in view.outcomes} == {f"outcome file {digest[:12]} from AFP"}
    with store.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent))]
        stored = session.scalars(select(OutcomeFile)).one()
        assert (stored.sender, stored.steps, stored.new_steps) == ("AFP", 5, 5)
    assert actions.count("outcomes.file_imported") == 1
    assert actions.count("referral.status") == 3
    assert actions.count("referral.outcome") == 5
    stats = operation_stats(store, scope=OPERATOR)
    assert (stats.arrests, stats.children_safeguarded, stats.devices_seized) == (2, 3, 3)
    assert stats.by_country["AU"].arrests == 2
    assert stats.children_safeguarded_by_month == {"2026-11": 3}

    # The same file again: verified, nothing changed, nothing audited.
    before = rows(store)
    again = _import(store, first)
    assert again.already_imported and again.new_steps == 0 and again.status == "arrest"
    assert rows(store) == before

    # A later, cumulative file: only its new steps count. One subject's "no further action"
    # before another's charge does not close the referral.
    later = [
        *FIRST,
        step("no_further_action", "2026-11-25", "S2", reason="insufficient evidence"),
        step("charge", "2026-11-28", "S1"),
    ]
    second = tmp_path / "outcome-2.json"
    write_outcome_file(second, document(later, issued_at="2026-12-10T09:30:00+13:00"), afp)
    result = _import(store, second)
    assert (result.new_steps, result.statuses, result.status) == (2, ("charged",), "charged")
    assert result.added["no_further_action"] == 1 and result.added["arrested"] == 0
    stats = operation_stats(store, scope=OPERATOR)
    assert (stats.arrests, stats.no_further_action) == (2, 1)
    assert stats.by_country["AU"].no_further_action == 1
    assert stats.no_further_action_by_month == {"2026-11": 1}


def test_a_case_that_ends_with_no_further_action_closes(store: Store, tmp_path: Path) -> None:
    seed(store)
    afp, afp_public = key(tmp_path, "afp")
    trust(store, "AFP", afp_public, AU)
    path = tmp_path / "outcome.json"
    steps = [
        step("received", "2026-11-03"),
        step("legal_request", "2026-11-04", "S2"),
        step("no_further_action", "2026-11-30", "S2", reason="subscriber abroad"),
    ]
    write_outcome_file(path, document(steps, subjects=["S2"]), afp)
    # Pinned: verified against this one key (trusted too, which binds it to the AFP).
    result = _import(store, path, pinned=afp_public)
    assert result.statuses == ("acknowledged", "investigating", "no further action")
    view = referral_detail(store, REF, scope=OPERATOR)
    assert view.status == "no further action"
    nfa = [o for o in view.outcomes if o.kind == "no_further_action"]
    assert [(o.count, o.note, o.subject_id) for o in nfa] == [(1, "subscriber abroad", "S2")]
    assert operation_stats(store, scope=OPERATOR).by_country["AU"].no_further_action == 1


def _resign(path: Path, signer: Any) -> bytes:
    """The file's exact document, signed again by ``signer`` (a forger's re-signing)."""
    envelope = json.loads(path.read_bytes())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    return seal(payload, OUTCOME_TYPE, signer)


def _tampered(path: Path) -> bytes:
    envelope = json.loads(path.read_bytes())
    payload = bytearray(base64.b64decode(envelope["payload"]))
    at = payload.index(b'"count": 2') + len(b'"count": ')
    payload[at : at + 1] = b"9"  # two arrested become nine: one byte
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    return json.dumps(envelope).encode()


def test_refused_files_leave_the_store_unchanged(store: Store, tmp_path: Path) -> None:
    seed(store)
    afp, afp_public = key(tmp_path, "afp")
    nz, nz_public = key(tmp_path, "nz")
    bare, bare_public = key(tmp_path, "bare")
    stranger, stranger_public = key(tmp_path, "stranger")
    trust(store, "AFP", afp_public, AU)
    trust(store, "NZ Police", nz_public, "NZ:New Zealand Police")
    trust(store, "Unbound", bare_public)
    genuine = tmp_path / "genuine.json"
    write_outcome_file(genuine, document(FIRST), afp)

    def signed(name: str, doc: dict[str, Any], by: Any = afp) -> Path:
        path = tmp_path / name
        path.write_bytes(seal(doc, OUTCOME_TYPE, by))
        return path

    def raw(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    bad_kind = [step("received", "2026-11-02"), step("escaped", "2026-11-03")]
    TOTALS = document(FIRST)["totals"]  # noqa: N806
    cases: list[tuple[Path, dict[str, Any], type[Exception], str]] = [
        (signed("stranger.json", document(FIRST), stranger), {}, UnknownSignerError, "trust"),
        (raw("resigned.json", _resign(genuine, stranger)), {}, UnknownSignerError, "trust"),
        (raw("tampered.json", _tampered(genuine)), {}, UnknownSignerError, "altered"),
        (genuine, {"pinned": nz_public}, EnvelopeError, "not signed by the pinned key"),
        (signed("pinned.json", document(FIRST), stranger), {"pinned": stranger_public},
         OutcomeFileError, "not in the trust store"),
        (tmp_path / "missing.json", {}, EnvelopeError, "no such file"),
        (signed("future.json", document(FIRST, schema_version="2.0")), {}, OutcomeFileError,
         r"schema version 2\.0 is newer than this kaitiaki reads \(1\.x\)"),
        (signed("kind.json", document(bad_kind)), {}, OutcomeFileError,
         r"kind\.json: at step 2 \(steps/1/kind\): 'escaped' is not one of"),
        (signed("count.json", document([step("arrest", "2026-11-21", "S1")])), {},
         OutcomeFileError, "step 1: step 'arrest' needs a count"),
        (signed("totals.json", document(FIRST, totals={**TOTALS, "arrested": 7})), {},
         OutcomeFileError, "totals do not match the steps: arrested 7"),
        # A partner reporting on a referral it did not receive, either way round.
        (signed("other.json", document(FIRST, referral_id=OTHER)), {}, OutcomeFileError,
         f"AFP did not receive referral {OTHER}"),
        (signed("nz.json", document(FIRST), nz), {}, OutcomeFileError,
         f"NZ Police did not receive referral {REF}"),
        (signed("bare.json", document(FIRST), bare), {}, OutcomeFileError,
         "bound to no jurisdiction.*--jurisdiction CC:Agency"),
        (signed("draft.json", document(FIRST, referral_id=DRAFT)), {}, OutcomeFileError,
         "never sent"),
        (signed("agency.json", document(FIRST, agency={"country": "NZ", "name": "NZ Police"})),
         {}, OutcomeFileError, "speaks for NZ Police"),
        (signed("subject.json", document(FIRST, subjects=["S1", "S2", "S3"])), {},
         OutcomeFileError, f"subject 'S3' is not in referral {REF}"),
        (signed("version.json", document(FIRST, package_version=2)), {}, OutcomeFileError,
         "version 1 is the newest sent"),
        (signed("manifest.json", document(FIRST, package_manifest_sha256="cd" * 32)), {},
         OutcomeFileError, "not the one sent as version 1"),
        (signed("unknown.json", document(FIRST, referral_id="KAI-AU-20261102-9")), {},
         ReferralNotFoundError, "no referral"),
    ]  # fmt: skip
    before = rows(store)
    for path, kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            _import(store, path, **kwargs)
        assert rows(store) == before, path.name
    # A liaison of another jurisdiction: the referral is not found, as if it did not exist.
    nz_liaison = Scope(Role.LIAISON, frozenset({jurisdiction("NZ", "New Zealand Police")}))
    with pytest.raises(ReferralNotFoundError, match=f"no referral '{REF}'"):
        import_outcome_file(store, genuine, actor="web:nz", scope=nz_liaison)
    assert rows(store) == before
    # The genuine file still imports after all that.
    assert _import(store, genuine).new_steps == len(FIRST)


def test_a_document_a_reader_refuses_is_never_written(tmp_path: Path) -> None:
    afp, _ = key(tmp_path, "afp")
    path = tmp_path / "out" / "outcome.json"
    bad = document([step("arrest", "2026-11-21", "S9", 1)])
    with pytest.raises(OutcomeFileError, match="step 1: subject 'S9' is not among"):
        write_outcome_file(path, bad, afp)
    late = document([step("received", "2027-01-05")])
    with pytest.raises(OutcomeFileError, match="step 1: dated 2027-01-05 but the file was issued"):
        write_outcome_file(path, late, afp)
    twice = step("received", "2026-11-02")
    with pytest.raises(OutcomeFileError, match="step 2 has the id of step 1"):
        write_outcome_file(path, document([twice, twice]), afp)
    assert not path.exists() and not list(tmp_path.glob("out/*"))


def test_read_gives_typed_steps(tmp_path: Path) -> None:
    afp, public = key(tmp_path, "afp")
    path = tmp_path / "outcome.json"
    write_outcome_file(path, document(FIRST, schema_version="1.3", extra="ignored"), afp)
    read = read_outcome_file(path, store=None, pinned=public)
    assert (read.schema_version, read.referral_id, read.signer.source) == ("1.3", REF, "pinned")
    assert read.steps[3].kind == "arrest" and read.steps[3].count == 2
    assert str(read.steps[3].date) == "2026-11-21" and read.steps[3].number == 4
    assert read.issued_at.isoformat() == "2026-12-03T12:00:00+00:00"
    assert read.totals["children_safeguarded"] == 3


def test_skipping_a_status_is_only_for_the_signed_path() -> None:
    with pytest.raises(LifecycleError, match="cannot go from 'sent' to 'warrant'"):
        check_transition("sent", "warrant")
    check_transition("sent", "warrant", allow_skip=True)
    # Never from a draft (it was not sent), never backwards, never out of a final status.
    for current, new in (("draft", "warrant"), ("arrest", "warrant"), ("convicted", "arrest")):
        with pytest.raises(LifecycleError):
            check_transition(current, new, allow_skip=True)

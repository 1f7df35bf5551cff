"""Signed series updates between agencies: the agency that identifies a child exports the
update, the other imports it; what it lacks is created, identification upgrades applied, and
nothing a specialist recorded is overwritten (differences listed). Two stores, two agencies'
keys; the importing side runs on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from kaitiaki.cli import series as series_cli
from kaitiaki.refer.envelope import (
    OUTCOME_TYPE,
    SERIES_UPDATE_TYPE,
    EnvelopeError,
    UnknownSignerError,
    pae,
    write_sealed,
)
from kaitiaki.refer.signing import (
    fingerprint_hex,
    generate_key,
    group_fingerprint,
    load_private,
    public_path,
)
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.refer.versions import SchemaVersionError
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import AuditEvent, Offender, Series, SeriesUpdateFile, Victim
from kaitiaki.triage.series_apply import Applied, Difference
from kaitiaki.triage.series_update import (
    READ_ERRORS,
    SeriesUpdateError,
    export_series_update,
    import_series_update,
    imported_updates,
)
from kaitiaki.triage.victims import (
    add_offender,
    add_series,
    add_victim,
    update_series,
    update_victim,
)

AFP = "Australian Federal Police"
SETUP = "test:setup"


@dataclass(frozen=True)
class Keys:
    afp: Path  # the receiving agency's private key (it identifies the child)
    nz: Path  # ours (we sent the referral and import the update)
    rogue: Path  # nobody's partner


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(*(generate_key(tmp_path / "keys" / f"{n}.pem") for n in ("afp", "nz", "rogue")))


@pytest.fixture
def abroad(tmp_path: Path) -> Iterator[Store]:
    """The partner agency's own kaitiaki."""
    opened = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        yield opened
    finally:
        opened.close()


def _trust_afp(store: Store, keys: Keys) -> None:
    add_trusted_key(store, "AFP", public_path(keys.afp), actor=SETUP, jurisdictions=[f"AU:{AFP}"])


def _export(store: Store, out: Path, key: Path, **kwargs: Any) -> Path:
    export_series_update(
        store,
        out,
        key=load_private(key),
        agency_country="AU",
        agency_name=AFP,
        actor="cli:au-vid",
        **kwargs,
    )
    return out


def _payload(path: Path) -> bytes:
    return base64.b64decode(json.loads(path.read_bytes())["payload"])


def _actions_since(store: Store, after: int) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        )
        return [(e.action, e.target_id, e.actor) for e in rows]


def _head(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def _snapshot(store: Store) -> tuple[Any, ...]:
    """Everything an import could change."""
    with store.session() as session:
        return (
            sorted((s.name, s.identified) for s in session.scalars(select(Series))),
            sorted(
                (v.id, v.series_id, v.identified, v.country, v.agency, v.age_band)
                for v in session.scalars(select(Victim))
            ),
            sorted(
                (o.id, o.series_id, o.identified, o.country, o.agency)
                for o in session.scalars(select(Offender))
            ),
            session.scalar(select(func.count()).select_from(SeriesUpdateFile)),
            _head(store),
        )


def _victim(store: Store, vid: str) -> tuple[str | None, bool, str | None, str | None]:
    with store.session() as session:
        row = session.get(Victim, vid)
        assert row is not None
        series = session.get(Series, row.series_id) if row.series_id else None
        return (series.name if series else None, row.identified, row.country, row.agency)


def test_an_identification_abroad_reaches_us_without_overwriting_our_specialist(
    store: Store, abroad: Store, keys: Keys, tmp_path: Path
) -> None:
    # Ours: the series as our specialist keeps them.
    add_series(store, "S-GARDEN", by=SETUP)
    add_victim(store, "V-1", series="S-GARDEN", age_band="8-12", by=SETUP)
    add_victim(
        store, "V-2", series="S-GARDEN", identified=True, country="NZ", agency="NZ Police", by=SETUP
    )
    add_offender(store, "O-1", series="S-GARDEN", by=SETUP)
    add_series(store, "S-BEACH", by=SETUP)
    add_victim(store, "V-7", series="S-BEACH", by=SETUP)  # only we know this child
    add_series(store, "S-OTHER", by=SETUP)
    add_victim(store, "V-9", series="S-OTHER", by=SETUP)
    add_series(store, "S-CLOSED", identified=True, by=SETUP)
    _trust_afp(store, keys)
    # Abroad: the AFP identifies V-1 (and knows more), with notes that must never leave.
    add_series(abroad, "S-GARDEN", description="garden shed, winter", by=SETUP)
    for vid in ("V-1", "V-2", "V-3", "V-9"):
        add_victim(
            abroad,
            vid,
            series="S-GARDEN",
            identified=True,
            country="AU",
            agency=None if vid == "V-9" else AFP,
            age_band="8-12" if vid == "V-1" else None,
            notes="school in Perth",
            by=SETUP,
        )
    add_offender(
        abroad,
        "O-1",
        series="S-GARDEN",
        identified=True,
        country="AU",
        agency=AFP,
        notes="arrested at home",
        by=SETUP,
    )
    add_series(abroad, "S-BEACH", identified=True, by=SETUP)
    add_series(abroad, "S-CLOSED", by=SETUP)
    add_series(abroad, "S-NEW", by=SETUP)
    add_victim(abroad, "V-4", series="S-NEW", age_band="13-17", by=SETUP)

    update = _export(abroad, tmp_path / "update.json", keys.afp)
    payload = _payload(update)
    for secret in (b"Perth", b"garden shed", b"arrested at home", b"notes", b"description"):
        assert secret not in payload
    assert json.loads(payload)["schema_version"] == "1.0"

    before = _head(store)
    result = import_series_update(store, update, actor="cli:nz-vid")
    assert (result.sender, result.key_source, result.agency) == ("AFP", "trusted", f"AU:{AFP}")
    assert result.key_fingerprint == fingerprint_hex(load_private(keys.afp).public_key())
    assert not result.already_imported
    assert result.applied == [
        Applied("victim", "V-1", "identified", True),
        Applied("victim", "V-1", "country", "AU"),
        Applied("victim", "V-1", "agency", AFP),
        Applied("victim", "V-3", "created", True),
        Applied("offender", "O-1", "identified", True),
        Applied("offender", "O-1", "country", "AU"),
        Applied("offender", "O-1", "agency", AFP),
        Applied("series", "S-GARDEN", "identified", True),
        Applied("series", "S-NEW", "created", False),
        Applied("victim", "V-4", "created", False),
    ]
    assert result.differences == [
        Difference(
            "series", "S-BEACH", "identified", False, True, "not identified here: victim V-7"
        ),
        Difference("series", "S-CLOSED", "identified", True, False),
        Difference("victim", "V-2", "country", "NZ", "AU"),
        Difference("victim", "V-2", "agency", "NZ Police", AFP),
        Difference("victim", "V-9", "series", "S-OTHER", "S-GARDEN"),
        Difference("victim", "V-9", "identified", False, True),
        Difference("victim", "V-9", "country", None, "AU"),
    ]
    # The specialist's values stand; the upgrades are in, each audited, in one transaction.
    assert _victim(store, "V-2") == ("S-GARDEN", True, "NZ", "NZ Police")
    assert _victim(store, "V-9") == ("S-OTHER", False, None, None)
    assert _victim(store, "V-1") == ("S-GARDEN", True, "AU", AFP)
    assert _victim(store, "V-4") == ("S-NEW", False, None, None)
    with store.session() as session:
        flags = {
            name: flag for name, flag in session.execute(select(Series.name, Series.identified))
        }
    assert flags == {
        "S-GARDEN": True,
        "S-BEACH": False,
        "S-OTHER": False,
        "S-CLOSED": True,
        "S-NEW": False,
    }
    assert _actions_since(store, before) == [
        (action, target, "cli:nz-vid")
        for action, target in (
            ("victim.updated", "V-1"),
            ("victim.created", "V-3"),
            ("offender.updated", "O-1"),
            ("series.updated", "S-GARDEN"),
            ("series.created", "S-NEW"),
            ("victim.created", "V-4"),
            ("series_update.imported", result.sha256),
        )
    ]
    [past] = imported_updates(store)
    assert (past.sha256, past.sender, past.applied, len(past.differences)) == (
        result.sha256,
        "AFP",
        10,
        7,
    )
    assert past.differences[0] == result.differences[0].as_dict()

    # The same file again changes nothing, and says so.
    state = _snapshot(store)
    again = import_series_update(store, update, actor="cli:nz-vid")
    assert again.already_imported and again.applied == [] and again.differences == []
    assert _snapshot(store) == state


def _document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": "https://kaitiaki.example/schema/series-update-v1.json",
        "schema_version": "1.0",
        "issued_at": "2026-12-03T12:00:00Z",
        "issued_by": "cli:au-vid",
        "agency": {"country": "AU", "name": AFP},
        "series": [
            {
                "name": "S-GARDEN",
                "identified": True,
                "victims": [
                    {
                        "id": "V-1",
                        "identified": True,
                        "country": "AU",
                        "agency": AFP,
                        "age_band": "8-12",
                    },
                ],
                "offenders": [],
            }
        ],
    }
    doc.update(changes)
    return doc


def _seal(path: Path, doc: dict[str, Any], key: Path, kind: str = SERIES_UPDATE_TYPE) -> Path:
    write_sealed(path, doc, kind, load_private(key))
    return path


def _resigned(valid: Path, out: Path, key: Path, keyid: str) -> Path:
    """``valid``'s envelope, its payload altered and signed again by ``key`` under ``keyid``."""
    envelope = json.loads(valid.read_bytes())
    payload = _payload(valid).replace(b'"identified": true', b'"identified": false')
    envelope["payload"] = base64.b64encode(payload).decode()
    signature = load_private(key).sign(pae(SERIES_UPDATE_TYPE, payload))
    envelope["signatures"] = [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}]
    out.write_text(json.dumps(envelope))
    return out


def test_what_cannot_be_trusted_or_read_is_refused_with_nothing_stored(
    store: Store, keys: Keys, tmp_path: Path
) -> None:
    add_series(store, "S-GARDEN", by=SETUP)
    add_victim(store, "V-1", series="S-GARDEN", by=SETUP)
    _trust_afp(store, keys)
    valid = _seal(tmp_path / "valid.json", _document(), keys.afp)
    tampered = tmp_path / "tampered.json"
    envelope = json.loads(valid.read_bytes())
    envelope["payload"] = base64.b64encode(_payload(valid).replace(b"V-1", b"V-8")).decode()
    tampered.write_text(json.dumps(envelope))
    afp_id = fingerprint_hex(load_private(keys.afp).public_key())
    twice = _document()
    twice["series"].append({**twice["series"][0], "name": "S-AGAIN"})
    with_notes = _document()
    with_notes["series"][0]["victims"][0]["notes"] = "lives near the school"
    cases: list[tuple[Path, type[Exception], str]] = [
        (tampered, UnknownSignerError, "altered after signing"),
        (_seal(tmp_path / "rogue.json", _document(), keys.rogue), UnknownSignerError, "trust"),
        (
            _resigned(valid, tmp_path / "resigned.json", keys.rogue, afp_id),
            UnknownSignerError,
            afp_id,
        ),
        (
            _seal(tmp_path / "v2.json", _document(schema_version="2.0"), keys.afp),
            SchemaVersionError,
            "2.0 is newer than this kaitiaki reads",
        ),
        (
            _seal(tmp_path / "bare.json", {"schema_version": "1.0"}, keys.afp),
            SchemaVersionError,
            "at \\(top\\): .* is a required property",
        ),
        (
            _seal(tmp_path / "notes.json", with_notes, keys.afp),
            SchemaVersionError,
            "at series/0/victims/0: Additional properties",
        ),
        (
            _seal(tmp_path / "twice.json", twice, keys.afp),
            SeriesUpdateError,
            "victim 'V-1' listed twice",
        ),
        (
            _seal(
                tmp_path / "fbi.json", _document(agency={"country": "US", "name": "FBI"}), keys.afp
            ),
            SeriesUpdateError,
            "trusted only for AU:Australian Federal Police",
        ),
        (
            _seal(tmp_path / "outcome.json", _document(), keys.afp, OUTCOME_TYPE),
            EnvelopeError,
            "not 'application/vnd.kaitiaki.series-update",
        ),
    ]
    state = _snapshot(store)
    for path, error, message in cases:
        with pytest.raises(error, match=message) as raised:
            import_series_update(store, path, actor="cli:nz-vid")
        assert str(path) in str(raised.value)
        assert _snapshot(store) == state, path.name
    # The untouched file is read: the refusals above were about the files, not the store.
    assert [a.field for a in import_series_update(store, valid, actor="cli:nz-vid").applied] == [
        "identified",
        "country",
        "agency",
        "age_band",
        "identified",
    ]


def test_a_later_minor_version_is_read_and_a_pinned_key_stands_in_for_the_trust_store(
    sqlite_store: Store, keys: Keys, tmp_path: Path
) -> None:
    doc = _document(schema_version="1.3", withheld="images")
    doc["series"][0]["victims"][0]["safeguarded_on"] = "2026-12-01"
    path = _seal(tmp_path / "minor.json", doc, keys.afp)
    with pytest.raises(UnknownSignerError):
        import_series_update(sqlite_store, path, actor="cli:nz-vid")
    result = import_series_update(
        sqlite_store, path, actor="cli:nz-vid", pinned=public_path(keys.afp)
    )
    assert (result.sender, result.key_source, result.schema_version) == (
        "pinned key",
        "pinned",
        "1.3",
    )
    assert result.applied == [
        Applied("series", "S-GARDEN", "created", True),
        Applied("victim", "V-1", "created", True),
    ]
    assert _victim(sqlite_store, "V-1") == ("S-GARDEN", True, "AU", AFP)


def test_the_export_holds_the_chosen_series_or_those_changed_since(
    store: Store, keys: Keys, tmp_path: Path
) -> None:
    for name in ("S-A", "S-B"):
        add_series(store, name, by=SETUP)
    add_victim(store, "V-1", series="S-B", by=SETUP)
    with pytest.raises(SeriesUpdateError, match="no series named 'S-404'"):
        _export(store, tmp_path / "x.json", keys.afp, series=["S-A", "S-404"])
    moment = datetime.now(UTC)
    with pytest.raises(SeriesUpdateError, match="no series to export changed since then"):
        _export(store, tmp_path / "x.json", keys.afp, since=moment)
    assert not (tmp_path / "x.json").exists()
    # A victim's change (not its series' row) brings the series in.
    update_victim(store, "V-1", age_band="4-7", by=SETUP)
    before = _head(store)
    out = _export(store, tmp_path / "since.json", keys.afp, since=moment)
    assert [s["name"] for s in json.loads(_payload(out))["series"]] == ["S-B"]
    [(action, _, actor)] = _actions_since(store, before)
    assert (action, actor) == ("series_update.exported", "cli:au-vid")
    update_series(store, "S-A", identified=True, by=SETUP)
    chosen = _export(store, tmp_path / "chosen.json", keys.afp, series=["S-A"])
    assert json.loads(_payload(chosen))["series"] == [
        {"name": "S-A", "identified": True, "victims": [], "offenders": []}
    ]


def _mutated(data: bytes, edits: list[tuple[int, bytes, int]]) -> bytes:
    for at, insert, drop in edits:
        at %= len(data) + 1
        data = data[:at] + insert + data[at + drop :]
    return data


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 4000), st.binary(max_size=6), st.integers(0, 6)),
        min_size=1,
        max_size=3,
    ),
    resign=st.booleans(),
)
def test_mutated_updates_raise_only_the_readers_errors(
    sqlite_store: Store,
    keys: Keys,
    tmp_path: Path,
    edits: list[tuple[int, bytes, int]],
    resign: bool,
) -> None:
    """Mutated envelopes, and mutated documents signed by a trusted key (so the reader past
    the signature is reached), give a refusal the CLI and web answer, or are applied."""
    if not _head(sqlite_store):
        _trust_afp(sqlite_store, keys)
    valid = _seal(tmp_path / "valid.json", _document(), keys.afp)
    path = tmp_path / "mutated.json"
    if resign:
        payload = _mutated(_payload(valid), edits)
        signature = load_private(keys.afp).sign(pae(SERIES_UPDATE_TYPE, payload))
        envelope = {
            "payloadType": SERIES_UPDATE_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
        }
        path.write_text(json.dumps(envelope))
    else:
        path.write_bytes(_mutated(valid.read_bytes(), edits))
    with contextlib.suppress(READ_ERRORS):
        import_series_update(sqlite_store, path, actor="cli:nz-vid")


def test_the_cli_exports_signed_and_imports_with_the_verified_sender(
    store: Store, abroad: Store, keys: Keys, tmp_path: Path
) -> None:
    app = typer.Typer()
    series_cli.register(app)
    runner = CliRunner()
    ours, theirs = ["--db", store.url], ["--db", abroad.url]

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        return result.exit_code, result.output

    add_victim(store, "V-2", identified=True, country="NZ", by=SETUP)
    add_series(abroad, "S-1", by=SETUP)
    add_victim(abroad, "V-1", series="S-1", identified=True, country="AU", by=SETUP)
    add_victim(abroad, "V-2", series="S-1", identified=True, country="AU", by=SETUP)
    out = tmp_path / "update.json"
    key = ["--key", str(keys.afp)]
    code, text = run(
        "series",
        "export",
        "--signed",
        "-o",
        str(out),
        *key,
        "--series",
        "S-1",
        "--agency",
        f"AU:{AFP}",
        *theirs,
    )
    assert code == 0, text
    assert "signed update of 1 series (2 victims, 0 offenders)" in text
    code, text = run("series", "import", str(out), *ours)
    assert code == 1 and "not signed by any key in the trust store" in text
    _trust_afp(store, keys)
    code, text = run("series", "import", str(out), *ours)
    assert code == 0, text
    fingerprint = group_fingerprint(fingerprint_hex(load_private(keys.afp).public_key()))
    assert f"verified: signed by AFP ({fingerprint})" in text
    assert "created" in text and "3 applied, 1 differences" in text
    # The difference, for a person: V-2 held with no series here, in another country there.
    assert "country" in text and "NZ" in text and "AU" in text
    code, text = run("series", "import", str(out), *ours)
    assert code == 0 and "already imported, nothing changed" in text
    vics = tmp_path / "set.json"
    vics.write_text('{"@odata.context": "x/2.0.xml/US/$metadata#Media", "value": []}')
    code, text = run("series", "import", str(vics), *ours)
    assert code == 2 and "a VICS file needs --name" in text

"""CyberTipline-shaped provider reports: one ``<report>`` per reported account of a subject.

The document is ``<reports>`` holding one ``<report>`` per flagged account of the subject (the
issue asks for a report *per account*; one file keeps a subject's reports together and lets one
validation cover them). Element names follow NCMEC's CyberTipline reporting API, but only the
subset in ``xsd/cybertip-subset-v1.xsd``; every document is validated against it before it is
returned, so a file that leaves kaitiaki always matches the schema.

Choices worth knowing:

* ``fileViewedByEsp`` is what the provider says: the catalog's ``viewed_by_provider`` for the
  object; where the catalog does not say, ``FileInstance.viewed_by_provider`` of the same
  content in a provider export scanned with its viewed list (``scan.provider_views``); and true
  when a person at the provider flagged the object (a ``reviewer`` row in
  ``flagged_objects``). Anything else is false: a hash match alone means nobody looked, and the
  receiving agency must not open the file without its own legal basis. (The same field gates
  reveals in kaitiaki itself, ``kaitiaki.web.reveal``.)
* ``fileDetails`` children come in the order of NCMEC's own schema, so each one, given a
  ``reportId``, is also a valid NCMEC ``fileDetails`` document.
* ``industryClassification`` is given only when the category is already an NCMEC class: from a
  hash set whose profile is ``ncmec``, or a reviewer flag whose category is one of A1/A2/B1/B2.
  Other schemes (Project VIC, CAID) do not say whether the child is prepubescent, so mapping them
  would invent a fact; the element is omitted instead.
* ``possibleProxy`` comes from the analysis's own ``ip_geo.parquet`` (the same geolocation data
  and hosting lists the attribution used); addresses missing there are looked up afresh.
* Reports carry hashes and records, never file content.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from lxml import etree
from sqlalchemy import select

from kaitiaki.accounts import normalise_phone
from kaitiaki.audit import record
from kaitiaki.records import ingested_files
from kaitiaki.store import Store
from kaitiaki.store.models import Account, FileInstance, HashSet, Subject

INCIDENT_TYPE = "Child Pornography (possession, manufacture, and distribution)"
VERSION = "kaitiaki-cybertip-subset-1"
REVIEWER = "reviewer"  # the hash_set name of reviewer flags (kaitiaki.operation.flag)
NCMEC_CLASSES = ("A1", "A2", "B1", "B2")
EVENT_NAMES = {"upload": "Upload", "download": "Download", "view": "View", "share": "Share"}
HASH_TYPES = (("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256"))
_XSD = "cybertip-subset-v1.xsd"


class ReportError(ValueError):
    """A report that cannot be made: unknown subject, no flagged activity, missing workspace."""


class ReportValidationError(ReportError):
    """A generated document that does not match the subset schema (a bug, never written out)."""


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who files the report at the provider."""

    name: str
    email: str
    esp_name: str


def _schema() -> Any:
    source = files("kaitiaki.refer").joinpath("xsd", _XSD)
    return etree.XMLSchema(etree.fromstring(source.read_bytes()))


def validate_report(document: Any) -> None:
    """Raise ``ReportValidationError`` (with lxml's first error) unless ``document`` is valid."""
    schema = _schema()
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise ReportValidationError(f"report does not match {_XSD}: line {error.line}: {error}")


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        # Ingestion stores UTC; a naive value here can only be UTC that lost its zone.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, **attrs)
    if text is not None:
        element.text = text
    return element


def _dataset(paths: Sequence[Path], what: str) -> ds.Dataset:
    if not paths:
        raise ReportError(f"the workspace has no ingested {what}")
    return ds.dataset([str(p) for p in paths], format="parquet")


@dataclass
class _Inputs:
    """What the reports of one subject need, read once from the workspace."""

    events: pa.Table  # the accounts' events on flagged objects
    flags: dict[str, list[tuple[str | None, str]]]  # object_id -> [(category, hash_set)]
    hashes: dict[str, dict[str, str]]  # object_id -> {"md5": ..., ...}
    viewed: dict[str, bool]  # object_id -> the provider's own word, where it gave one
    identifiers: dict[str, dict[str, set[str]]]  # account_id -> column -> values
    proxy: dict[str, bool]  # ip -> hosting/VPN
    # sha256 -> viewed, from scanned provider exports (filled by cybertip_report)
    scanned_viewed: dict[str, bool] = field(default_factory=dict)


def _read_inputs(workspace: Path, accounts: list[str]) -> _Inputs:
    flagged_path = workspace / "flagged_objects.parquet"
    if not flagged_path.is_file():
        raise ReportError(f"{flagged_path} is missing: run the operation analysis first")
    flagged = pq.read_table(flagged_path).to_pylist()
    flags: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for row in flagged:
        flags[row["object_id"]].append((row["category"], row["hash_set"]))
    wanted = pa.array(accounts, pa.string())
    events = _dataset(ingested_files(workspace, "records"), "access records").to_table(
        columns=["timestamp", "account_id", "action", "object_id", "ip", "port"],
        filter=pc.field("account_id").isin(wanted)
        & pc.field("object_id").isin(pa.array(list(flags), pa.string())),
    )
    objects = pa.array(sorted(set(events.column("object_id").to_pylist())), pa.string())
    hashes: dict[str, dict[str, str]] = {}
    viewed: dict[str, bool] = {}
    for path in ingested_files(workspace, "catalog"):
        # File by file: a catalog ingested before viewed_by_provider existed lacks the column.
        part = ds.dataset(str(path), format="parquet")
        columns = ["object_id", *(c for c, _ in HASH_TYPES)]
        said = "viewed_by_provider" in part.schema.names
        rows = part.to_table(
            columns=[*columns, "viewed_by_provider"] if said else columns,
            filter=pc.field("object_id").isin(objects),
        )
        for row in rows.to_pylist():
            slot = hashes.setdefault(row["object_id"], {})
            for column, _ in HASH_TYPES:
                if row[column]:
                    slot.setdefault(column, str(row[column]).strip().lower())
            if said and row["viewed_by_provider"] is not None:
                # Rows that disagree (a later catalog): viewed once is viewed.
                viewed[row["object_id"]] = viewed.get(row["object_id"], False) or bool(
                    row["viewed_by_provider"]
                )
    identifiers: dict[str, dict[str, set[str]]] = {a: defaultdict(set) for a in accounts}
    account_files = ingested_files(workspace, "accounts")
    if account_files:
        columns = ["account_id", "username", "email", "phone", "device_id"]
        table = _dataset(account_files, "accounts").to_table(
            columns=columns, filter=pc.field("account_id").isin(wanted)
        )
        for row in table.to_pylist():
            for column in columns[1:]:
                if row[column] and str(row[column]).strip():
                    identifiers[row["account_id"]][column].add(str(row[column]).strip())
    return _Inputs(events, flags, hashes, viewed, identifiers, _proxies(workspace, events))


def scanned_viewed(store: Store, sha256s: Iterable[str]) -> dict[str, bool]:
    """sha256 -> whether the provider viewed that content, from the provider exports scanned
    with a viewed list (``FileInstance.viewed_by_provider``); contents they do not cover are
    left out. Any viewed instance counts."""
    wanted = sorted(set(sha256s))
    found: dict[str, bool] = {}
    with store.session() as session:
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(FileInstance.sha256, FileInstance.viewed_by_provider).where(
                    FileInstance.sha256.in_(wanted[start : start + 500]),
                    FileInstance.viewed_by_provider.is_not(None),
                )
            )
            for sha, value in rows:
                if sha is not None:
                    found[sha] = found.get(sha, False) or bool(value)
    return found


def _viewed_by_esp(object_id: str, inputs: _Inputs, flags: list[tuple[str | None, str]]) -> bool:
    """fileViewedByEsp for one object (see the module docstring for the order)."""
    if any(hash_set == REVIEWER for _, hash_set in flags):
        return True
    said = inputs.viewed.get(object_id)
    if said is None:
        sha = inputs.hashes.get(object_id, {}).get("sha256")
        said = inputs.scanned_viewed.get(sha) if sha else None
    return bool(said)


def _proxies(workspace: Path, events: pa.Table) -> dict[str, bool]:
    ips = {ip for ip in events.column("ip").to_pylist() if ip}
    known: dict[str, bool] = {}
    geo = workspace / "ip_geo.parquet"
    if geo.is_file():
        for row in pq.read_table(geo, columns=["ip", "hosting"]).to_pylist():
            if row["ip"] in ips:
                known[row["ip"]] = bool(row["hosting"])
    missing = sorted(ips - set(known))
    if missing:
        from kaitiaki.geo import open_geolocator

        locator = open_geolocator()
        known.update(
            (ip, info.hosting)
            for ip, info in zip(missing, locator.locate_many(missing), strict=True)
        )
    return known


def _classification(
    flags: Iterable[tuple[str | None, str]], profiles: dict[str, str]
) -> str | None:
    found = {
        category.strip().upper()
        for category, hash_set in flags
        if category and (profiles.get(hash_set) == "ncmec" or hash_set == REVIEWER)
    }
    # Several NCMEC classes for one object (two sets disagree): the first in NCMEC's order, which
    # is also the more serious one (prepubescent before pubescent, sex act before exhibition).
    return next((c for c in NCMEC_CLASSES if c in found), None)


def _phone(parent: Any, raw: str, region: str | None) -> None:
    # The subject's attributed country reads nationally written numbers (as resolution does).
    e164 = normalise_phone(raw, region)
    if e164 is None:
        # Reported as the provider holds it: a national number whose region we cannot know.
        _sub(parent, "phone", raw)
        return
    number = phonenumbers.parse(e164)
    _sub(
        parent,
        "phone",
        str(number.national_number),
        countryCallingCode=str(number.country_code),
    )


def _report(
    root: Any,
    account: str,
    inputs: _Inputs,
    reporter: Reporter,
    profiles: dict[str, str],
    region: str | None,
) -> None:
    events = inputs.events.filter(pc.equal(inputs.events.column("account_id"), account))
    rows = sorted(
        events.to_pylist(),
        key=lambda r: (r["timestamp"], r["ip"] or "", r["port"] or 0, r["action"], r["object_id"]),
    )
    if not rows:
        raise ReportError(f"account {account} has no events on flagged objects in this workspace")
    report = _sub(root, "report")
    summary = _sub(report, "incidentSummary")
    _sub(summary, "incidentType", INCIDENT_TYPE)
    _sub(summary, "incidentDateTime", _utc(rows[0]["timestamp"]))

    who = _sub(report, "reporter")
    person = _sub(who, "reportingPerson")
    first, _, last = reporter.name.strip().rpartition(" ")
    if first.strip():
        _sub(person, "firstName", first.strip())
    _sub(person, "lastName", last.strip())
    _sub(person, "email", reporter.email.strip())
    _sub(who, "companyTemplate", reporter.esp_name.strip())

    user = _sub(report, "personOrUserReported")
    ids = inputs.identifiers.get(account, {})
    if ids.get("email") or ids.get("phone"):
        details = _sub(user, "personOrUserReportedPerson")
        for email in sorted(ids.get("email", ())):
            _sub(details, "email", email)
        for phone in sorted(ids.get("phone", ())):
            _phone(details, phone, region)
    _sub(user, "espIdentifier", account)
    for name in sorted(ids.get("username", ())):
        _sub(user, "screenName", name)
    for device in sorted(ids.get("device_id", ())):
        _sub(user, "deviceId", device)
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        # One capture per (address, port, time, action): the object is in fileDetails.
        key = (row["ip"], row["port"], row["timestamp"], row["action"])
        if not row["ip"] or key in seen:
            continue
        seen.add(key)
        capture = _sub(user, "ipCaptureEvent")
        _sub(capture, "ipAddress", row["ip"])
        _sub(capture, "eventName", EVENT_NAMES[row["action"]])
        _sub(capture, "dateTime", _utc(row["timestamp"]))
        _sub(capture, "possibleProxy", str(inputs.proxy.get(row["ip"], False)).lower())
        if row["port"] is not None:
            _sub(capture, "port", str(row["port"]))

    for object_id in sorted({r["object_id"] for r in rows}):
        hashes = inputs.hashes.get(object_id, {})
        if not hashes:
            # Flagged by a reviewer but absent from the catalog: nothing to identify it by.
            continue
        file = _sub(report, "fileDetails")
        _sub(file, "fileId", object_id)
        flags = inputs.flags.get(object_id, [])
        _sub(file, "fileViewedByEsp", str(_viewed_by_esp(object_id, inputs, flags)).lower())
        classification = _classification(flags, profiles)
        if classification:
            _sub(file, "industryClassification", classification)
        for column, name in HASH_TYPES:
            if column in hashes:
                _sub(file, "originalFileHash", hashes[column], hashType=name)


def cybertip_report(store: Store, workspace: Path, subject_id: str, *, reporter: Reporter) -> Any:
    """The validated ``<reports>`` element for ``subject_id``: one report per flagged account."""
    with store.session() as session:
        accounts = sorted(
            session.scalars(select(Account.account_id).where(Account.subject_id == subject_id))
        )
        profiles = {n: p for n, p in session.execute(select(HashSet.name, HashSet.profile))}
        region = session.scalar(select(Subject.country).where(Subject.id == subject_id))
    if not accounts:
        raise ReportError(f"no flagged accounts belong to subject {subject_id!r}")
    inputs = _read_inputs(workspace, accounts)
    inputs.scanned_viewed = scanned_viewed(
        store, (h["sha256"] for h in inputs.hashes.values() if "sha256" in h)
    )
    root = etree.Element(
        "reports",
        version=VERSION,
        subject=subject_id,
        generated=_utc(datetime.now(UTC)),
    )
    for account in accounts:
        _report(root, account, inputs, reporter, profiles, region)
    validate_report(root)
    return root


def report_bytes(document: Any) -> bytes:
    return bytes(
        etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def write_cybertip_report(
    store: Store,
    workspace: Path,
    subject_id: str,
    out: Path,
    *,
    reporter: Reporter,
    actor: str,
) -> Path:
    """Make, validate and write the report; ``out`` is replaced whole, never left half-written.

    A report to NCMEC discloses a person's accounts and addresses outside the organisation, so
    it is audited like a change: who wrote it, about whom, and the SHA-256 of what was written."""
    if not actor.strip():
        raise ReportError("a report needs the name of who writes it")
    data = report_bytes(cybertip_report(store, workspace, subject_id, reporter=reporter))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    try:
        _record_report(store, actor, subject_id, out, data, reporter, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _record_report(
    store: Store, actor: str, subject_id: str, out: Path, data: bytes, reporter: Reporter, tmp: Path
) -> None:
    with store.session() as session:
        record(
            session,
            actor=actor,
            action="cybertip.report_written",
            target_type="subject",
            target_id=subject_id,
            details={
                "file": out.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "reporter": reporter.name,
            },
        )
        # Moved into place inside the transaction: an entry that cannot be written leaves no
        # report behind.
        tmp.replace(out)

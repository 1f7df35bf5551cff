"""What a subject's CyberTipline report needs, read from the store and the analysis workspace.

Choices worth knowing:

* ``fileViewedByEsp`` is what the provider says: the catalog's ``viewed_by_provider`` for the
  object; where the catalog does not say, ``FileInstance.viewed_by_provider`` of the same
  content in a provider export scanned with its viewed list (``scan.provider_views``); and true
  when a person at the provider flagged the object (a ``reviewer`` row in
  ``flagged_objects``). Anything else is false: a hash match alone means nobody looked, and the
  receiving agency must not open the file without its own legal basis. (The same field gates
  reveals in kaitiaki itself, ``kaitiaki.web.reveal``.)
* ``industryClassification`` is given only when the category is already an NCMEC class: from a
  hash set whose profile is ``ncmec``, or a reviewer flag whose category is one of A1/A2/B1/B2.
  Other schemes (Project VIC, CAID) do not say whether the child is prepubescent, so mapping them
  would invent a fact; the element is omitted instead.
* ``possibleProxy`` comes from the analysis's own ``ip_geo.parquet`` (the same geolocation data
  and hosting lists the attribution used); addresses missing there are looked up afresh.
* Accounts come in order of their first flagged event (the first is the reported user).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import select

from kaitiaki.accounts import normalise_phone
from kaitiaki.cybertip.document import (
    IpCapture,
    Phone,
    ReportContent,
    ReportedAccount,
    ReportedFile,
)
from kaitiaki.cybertip.errors import CyberTipError, CyberTipNotFoundError
from kaitiaki.records import ingested_files
from kaitiaki.store import Store
from kaitiaki.store.models import Account, CyberTipReport, FileInstance, HashSet, Subject

REVIEWER = "reviewer"  # the hash_set name of reviewer flags (kaitiaki.operation.flag)
NCMEC_CLASSES = ("A1", "A2", "B1", "B2")
HASH_TYPES = (("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256"))  # NCMEC's C.2 names


def _dataset(paths: Sequence[Path], what: str) -> ds.Dataset:
    if not paths:
        raise CyberTipError(f"the workspace has no ingested {what}")
    return ds.dataset([str(p) for p in paths], format="parquet")


@dataclass
class _Inputs:
    """What the report of one subject needs, read once from the workspace."""

    events: pa.Table  # the accounts' events on flagged objects
    flags: dict[str, list[tuple[str | None, str]]]  # object_id -> [(category, hash_set)]
    hashes: dict[str, dict[str, str]]  # object_id -> {"md5": ..., ...}
    viewed: dict[str, bool]  # object_id -> the provider's own word, where it gave one
    identifiers: dict[str, dict[str, set[str]]]  # account_id -> column -> values
    proxy: dict[str, bool]  # ip -> hosting/VPN
    scanned_viewed: dict[str, bool] = field(default_factory=dict)  # sha256 -> viewed


def _read_inputs(workspace: Path, accounts: list[str]) -> _Inputs:
    flagged_path = workspace / "flagged_objects.parquet"
    if not flagged_path.is_file():
        raise CyberTipError(f"{flagged_path} is missing: run the operation analysis first")
    flags: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for row in pq.read_table(flagged_path).to_pylist():
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


def viewed_by_esp(object_id: str, inputs: _Inputs, flags: list[tuple[str | None, str]]) -> bool:
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


def classification(flags: Iterable[tuple[str | None, str]], profiles: dict[str, str]) -> str | None:
    found = {
        category.strip().upper()
        for category, hash_set in flags
        if category and (profiles.get(hash_set) == "ncmec" or hash_set == REVIEWER)
    }
    # Several NCMEC classes for one object (two sets disagree): the first in NCMEC's order, which
    # is also the more serious one (prepubescent before pubescent, sex act before exhibition).
    return next((c for c in NCMEC_CLASSES if c in found), None)


def phone(raw: str, region: str | None) -> Phone:
    """NCMEC's phone: national digits and ``countryCallingCode`` where the number parses (the
    subject's attributed country reads nationally written numbers, as resolution does)."""
    e164 = normalise_phone(raw, region)
    if e164 is None:
        return Phone(raw.strip())  # as the provider holds it: a region we cannot know
    number = phonenumbers.parse(e164)
    national, code = str(number.national_number), str(number.country_code)
    if national.startswith(code):
        # NCMEC refuses a number starting with its own calling code: the E.164 form instead.
        return Phone(e164)
    return Phone(national, f"+{code}")


def _capture(row: dict[str, Any], proxy: dict[str, bool]) -> IpCapture:
    event = "Upload" if row["action"] == "upload" else "Other"
    return IpCapture(row["ip"], event, row["timestamp"], proxy.get(row["ip"], False), row["port"])


def _account(
    account: str, rows: list[dict[str, Any]], inputs: _Inputs, region: str | None
) -> ReportedAccount:
    ids = inputs.identifiers.get(account, {})
    captures: dict[tuple[Any, ...], IpCapture] = {}
    for row in rows:
        if row["ip"]:
            capture = _capture(row, inputs.proxy)
            # One capture per (address, port, time, event): the object is in the file list.
            captures.setdefault((capture.ip, capture.port, capture.at, capture.event), capture)
    return ReportedAccount(
        account_id=account,
        emails=tuple(sorted(ids.get("email", ()))),
        phones=tuple(phone(p, region) for p in sorted(ids.get("phone", ()))),
        usernames=tuple(sorted(ids.get("username", ()))),
        device_ids=tuple(sorted(ids.get("device_id", ()))),
        captures=tuple(captures.values()),
    )


def gather(store: Store, workspace: Path, subject_id: str) -> ReportContent:
    """Everything the report of ``subject_id`` says, from the store and ``workspace``."""
    with store.session() as session:
        accounts = sorted(
            session.scalars(select(Account.account_id).where(Account.subject_id == subject_id))
        )
        profiles = {n: p for n, p in session.execute(select(HashSet.name, HashSet.profile))}
        region = session.scalar(select(Subject.country).where(Subject.id == subject_id))
        prior = session.scalars(
            select(CyberTipReport.ncmec_report_id)
            .where(
                CyberTipReport.subject_id == subject_id,
                CyberTipReport.state == "finished",
                CyberTipReport.ncmec_report_id.is_not(None),
            )
            .order_by(CyberTipReport.id)
        ).all()
    if not accounts:
        raise CyberTipNotFoundError(f"no flagged accounts belong to subject {subject_id!r}")
    inputs = _read_inputs(workspace, accounts)
    inputs.scanned_viewed = scanned_viewed(
        store, (h["sha256"] for h in inputs.hashes.values() if "sha256" in h)
    )
    rows = sorted(
        inputs.events.to_pylist(),
        key=lambda r: (r["timestamp"], r["ip"] or "", r["port"] or 0, r["action"], r["object_id"]),
    )
    if not rows:
        raise CyberTipError(f"subject {subject_id}'s accounts have no events on flagged objects")
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_account[row["account_id"]].append(row)
    # The account active first is the reported user; accounts without flagged events are left out.
    reported = [_account(a, by_account[a], inputs, region) for a in by_account]
    files = []
    for object_id in sorted({r["object_id"] for r in rows}):
        hashes = inputs.hashes.get(object_id, {})
        if not hashes:
            continue  # flagged by a reviewer but absent from the catalog: nothing identifies it
        flags = inputs.flags.get(object_id, [])
        upload = next(
            (
                r
                for r in rows
                if r["object_id"] == object_id and r["action"] == "upload" and r["ip"]
            ),
            None,
        )
        files.append(
            ReportedFile(
                object_id=object_id,
                sha256=hashes.get("sha256"),
                hashes=tuple((name, hashes[c]) for c, name in HASH_TYPES if c in hashes),
                viewed_by_esp=viewed_by_esp(object_id, inputs, flags),
                classification=classification(flags, profiles),
                upload=_capture(upload, inputs.proxy) if upload else None,
            )
        )
    return ReportContent(
        subject_id=subject_id,
        incident_at=rows[0]["timestamp"],
        accounts=tuple(reported),
        files=tuple(files),
        prior_reports=tuple(int(p) for p in prior if p is not None),
        country=region,
    )

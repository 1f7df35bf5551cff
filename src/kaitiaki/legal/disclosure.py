"""``write_disclosure``: a signed package answering legal process served for one account.

What law enforcement may obtain from a provider with legal process is the provider's records about
the account: its subscriber data, its IP log (with source ports: behind carrier-grade NAT an
address alone names hundreds of subscribers), the hashes of the flagged files it touched and the
CyberTipline reports already made about the person. Those go in. Images do not, unless the
request covers them (``include_files``) and a named person confirms it; both are recorded.

The package is a folder signed exactly as referral packages are (``kaitiaki.refer.signing``:
``manifest.json`` of SHA-256s, Ed25519 ``manifest.sig``, ``public_key.pem``), so a recipient
checks it with ``kaitiaki verify`` or :func:`~kaitiaki.refer.signing.verify_package` unchanged.
It is written to a temporary folder and renamed into place in the same transaction as the
``Disclosure`` row and the ``disclosure.written`` audit entry: no half package, and no package
without its record.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from kaitiaki import __version__
from kaitiaki.audit import record
from kaitiaki.exports import csvcells
from kaitiaki.legal.disclosure_gather import DisclosureError, copy_files, gather, utc_text
from kaitiaki.refer.signing import load_private, write_signed_manifest
from kaitiaki.store import Store
from kaitiaki.store.models import Disclosure

__all__ = [
    "DisclosureError",
    "DisclosureResult",
    "check_request_ref",
    "default_out",
    "write_disclosure",
]

KIND: Final = "kaitiaki-disclosure"
SCHEMA_VERSION: Final = "1"
ACTION: Final = "disclosure.written"
# A court's or agency's reference is written as they write it ("2026/117", "LP 44-A"): any
# printable text is kept as given; only the default folder name is made safe from it.
_MAX_REF: Final = 200
IP_LOG_COLUMNS: Final = ("time_utc", "action", "object_id", "ip", "port")
FLAGGED_COLUMNS: Final = (
    "object_id",
    "md5",
    "sha1",
    "sha256",
    "hash_set",
    "category",
    "signal",
    "events",
    "file",
)


@dataclass(frozen=True, slots=True)
class DisclosureResult:
    """What was written and recorded."""

    disclosure_id: int
    folder: Path
    request_ref: str
    account_id: str
    platform: str
    subscriber_records: int
    events: int
    flagged_files: int
    reports: int
    files: int  # images included (0 unless include_files)
    manifest_sha256: str
    # Flagged contents asked for (include_files) that no evidence instance could give back.
    files_unavailable: int = 0


def check_request_ref(request_ref: str) -> str:
    """``request_ref`` stripped, or :class:`DisclosureError` when blank, too long or holding
    control characters (it goes into the package, the store and the audit log as given)."""
    ref = request_ref.strip()
    if not ref:
        raise DisclosureError("a disclosure needs the legal process's reference (--request)")
    if len(ref) > _MAX_REF or not ref.isprintable():
        raise DisclosureError(
            f"request reference {ref[:40]!r}: at most {_MAX_REF} printable characters"
        )
    return ref


def _folder_part(text: str, fallback: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or fallback


def default_out(request_ref: str, account_id: str) -> Path:
    """``disclosure-<request>-<account>``, both made safe for a folder name."""
    ref = _folder_part(check_request_ref(request_ref), "request")
    return Path(f"disclosure-{ref[:100]}-{_folder_part(account_id, 'account')[:100]}")


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(
        json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    # Through the project's guard: object ids and addresses come from the provider's export
    # and the recipient will open this in a spreadsheet.
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvcells.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: row.get(c) for c in columns} for row in rows)


def write_disclosure(
    store: Store,
    workspace: Path,
    *,
    account_id: str,
    request_ref: str,
    out: Path,
    key: Path,
    actor: str,
    platform: str = "provider",
    include_files: bool = False,
    files_confirmed_by: str | None = None,
) -> DisclosureResult:
    """Write, sign and record the disclosure package for ``account_id`` at ``out``."""
    ref = check_request_ref(request_ref)
    if not actor.strip():
        raise DisclosureError("a disclosure needs the name of who writes it")
    if not account_id.strip():
        raise DisclosureError("a disclosure needs the account id (--account)")
    confirmer = (files_confirmed_by or "").strip() or None
    if include_files and confirmer is None:
        raise DisclosureError(
            "including the files (images) needs a person's confirmation that the legal "
            "process covers them: give who confirms"
        )
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise DisclosureError(f"{out}: already exists and is not an empty folder; refusing")
    if not workspace.is_dir():
        raise DisclosureError(f"no analysis workspace at {workspace}")
    signing_key = load_private(key)  # before any work: a missing key fails fast
    gathered = gather(store, workspace, account_id, platform)
    now = datetime.now(UTC).replace(microsecond=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        files, unavailable = copy_files(store, gathered.flagged, tmp) if include_files else (0, [])
        counts = {
            "subscriber_records": len(gathered.subscriber),
            "ip_log_events": len(gathered.events),
            "flagged_files": len({f["object_id"] for f in gathered.flagged}),
            "reports": len(gathered.reports),
            "files": files,
        }
        _write_json(
            tmp / "disclosure.json",
            {
                "kind": KIND,
                "schema_version": SCHEMA_VERSION,
                "request_ref": ref,
                "platform": platform,
                "account_id": account_id,
                "generated_at": utc_text(now),
                "generated_by": actor,
                "tool_version": __version__,
                "counts": counts,
                "includes": {
                    "subscriber": True,
                    "ip_log": True,
                    "flagged_file_hashes": True,
                    "report_ids": True,
                    "files": include_files,
                },
                "files_confirmed_by": confirmer if include_files else None,
                "files_unavailable": unavailable,
            },
        )
        _write_json(
            tmp / "subscriber.json",
            {"account_id": account_id, "platform": platform, "records": gathered.subscriber},
        )
        _write_csv(tmp / "ip_log.csv", IP_LOG_COLUMNS, gathered.events)
        _write_csv(tmp / "flagged_files.csv", FLAGGED_COLUMNS, gathered.flagged)
        _write_json(tmp / "reports.json", {"cybertipline_reports": gathered.reports})
        _, digest = write_signed_manifest(
            tmp,
            signing_key,
            {
                "kind": KIND,
                "request_ref": ref,
                "account_id": account_id,
                "created": str(utc_text(now)),
                "schema_version": SCHEMA_VERSION,
            },
        )
        disclosure_id = _record(
            store,
            tmp,
            out,
            ref,
            account_id,
            platform,
            digest,
            actor,
            confirmer,
            include_files,
            counts,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return DisclosureResult(
        disclosure_id,
        out,
        ref,
        account_id,
        platform,
        counts["subscriber_records"],
        counts["ip_log_events"],
        counts["flagged_files"],
        counts["reports"],
        files,
        digest,
        len(unavailable),
    )


def _record(
    store: Store,
    tmp: Path,
    out: Path,
    ref: str,
    account_id: str,
    platform: str,
    digest: str,
    actor: str,
    confirmer: str | None,
    include_files: bool,
    counts: dict[str, int],
) -> int:
    """The Disclosure row and audit entry, with the package moved into place in the same
    transaction: a record that cannot be written leaves no package behind, and the reverse."""
    placed = False
    try:
        with store.session() as session:
            row = Disclosure(
                request_ref=ref,
                platform=platform,
                account_id=account_id,
                package_name=out.name,
                package_sha256=digest,
                includes_files=include_files,
                files_confirmed_by=confirmer if include_files else None,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            record(
                session,
                actor=actor,
                action=ACTION,
                target_type="account",
                target_id=account_id,
                details={
                    "disclosure_id": row.id,
                    "request_ref": ref,
                    "platform": platform,
                    "package": out.name,
                    "manifest_sha256": digest,
                    "includes_files": include_files,
                    "files_confirmed_by": confirmer if include_files else None,
                    "counts": counts,
                },
            )
            if out.is_dir():
                out.rmdir()  # the empty folder checked above (rename will not replace it)
            tmp.rename(out)
            placed = True
            return row.id
    except BaseException:
        if placed:  # the commit failed after the rename: no package without its record
            shutil.rmtree(out, ignore_errors=True)
        raise

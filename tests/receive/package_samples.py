"""A minimal signed referral package, made without an operation: for the receiving side's tests.

Synthetic values only. ``make_package`` writes what ``kaitiaki refer`` writes (package.json that
its JSON Schema accepts, events.csv, a signed manifest) so that tests can alter one thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kaitiaki.refer.signing import generate_key, load_private, write_signed_manifest

US_AGENCY = "Homeland Security Investigations (HSI) / Federal Bureau of Investigation (FBI)"


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """(private, public) key files, generated once per folder and name."""
    private = folder / f"{name}.pem"
    if not private.exists():
        generate_key(private)
    return private, private.with_name(private.name + ".pub")


def subject(
    subject_id: str, *, email: str = "", account: str = "", tier: str = "high"
) -> dict[str, Any]:
    account = account or f"acct-{subject_id[-6:]}"
    return {
        "subject_id": subject_id,
        "attribution": {
            "country": "US",
            "confidence": 0.92,
            "vpn_or_hosting": False,
            "multi_country": False,
            "countries": {"US": 3},
            "reason": "3 of 3 IP events in US",
            "evidence": [
                {
                    "ip": "198.51.100.7",
                    "country": "US",
                    "events": 3,
                    "first": "2026-01-02T03:04:05Z",
                    "last": "2026-01-03T03:04:05Z",
                }
            ],
        },
        "priority": {
            "status": "prioritised",
            "score": 71.5,
            "tier": tier,
            "factors": [{"factor": "uploads", "points": 30, "why": "uploaded 2 flagged files"}],
            "override_tier": None,
            "override_reason": None,
        },
        "accounts": [
            {
                "platform": "provider",
                "account_id": account,
                "usernames": ["user_" + subject_id[-4:]],
                "emails": [email] if email else [],
                "phones": [],
                "device_ids": [],
                "flagged_files": 1,
                "first_seen": "2026-01-02T03:04:05Z",
                "last_seen": "2026-01-03T03:04:05Z",
            }
        ],
        "links": [],
        "counts": {
            "accounts": 1,
            "flagged_files": 1,
            "events": 1,
            "ip_capture_events": 1,
            "upload": 1,
            "download": 0,
            "view": 0,
            "share": 0,
            "by_category": {"1": 1},
        },
        "ip_capture_events": [
            {
                "ip": "198.51.100.7",
                "port": 443,
                "account_id": account,
                "action": "upload",
                "utc": "2026-01-02T03:04:05Z",
                "local_time": "2026-01-01T22:04:05-05:00",
                "local_zone": "America/New_York",
            }
        ],
        "flagged_files": [
            {
                "object_id": "obj-1",
                "md5": "0" * 31 + "1",
                "sha1": None,
                "sha256": subject_id[-1] * 64 if subject_id[-1] in "0123456789abcdef" else "a" * 64,
                "pdq": None,
                "category": "1",
                "hash_set": "operation-set",
                "signal": "md5",
                "distance": 0,
                "series": None,
                "victim_identified": None,
            }
        ],
    }


def document(
    reference: str = "KAI-US-20261203-1",
    *,
    subjects: list[dict[str, Any]] | None = None,
    version: int = 1,
    country: str | None = "US",
    agency: str = US_AGENCY,
    schema_version: str = "1.1",
) -> dict[str, Any]:
    return {
        "$schema": "https://kaitiaki.example/schema/referral-package-v1.json",
        "schema_version": schema_version,
        "package_id": reference,
        "package_version": version,
        "supersedes": None,
        "created_at": "2026-12-03T10:00:00Z",
        "built_by": "cli:lead",
        "tool_version": "test",
        "agency": {
            "name": agency,
            "unit": "",
            "country": country,
            "country_name": "United States",
            "contact_reference": "missingkids.org (CyberTipline)",
        },
        "subjects": subjects if subjects is not None else [subject("S-00000000000000a1")],
        "chain_of_custody": {
            "inputs": [],
            "hash_sets": [],
            "evidence": [],
            "tool": "kaitiaki",
            "tool_version": "test",
            "built_by": "cli:lead",
            "built_at": "2026-12-03T10:00:00Z",
        },
    }


def make_package(folder: Path, key: Path, doc: dict[str, Any] | None = None) -> Path:
    """Write ``doc`` as a package folder signed with the private ``key``; returns the folder."""
    doc = doc if doc is not None else document()
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (folder / "events.csv").write_text("timestamp,account_id,action\n", encoding="utf-8")
    write_signed_manifest(
        folder,
        load_private(key),
        {
            "package_id": doc["package_id"],
            "package_version": str(doc.get("package_version", 1)),
            "created": doc["created_at"],
            "schema_version": doc["schema_version"],
        },
    )
    return folder

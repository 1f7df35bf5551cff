"""Independent re-derivations of a simulated operation's truth, from its files alone.

Nothing here imports the generator: rows are read back with ``csv``, objects are matched against
``hashset.json`` by hand, and identifiers are normalised the way an analyst would.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers

ACTIONS = {"upload", "download", "view", "share"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
GMAIL = {"gmail.com", "googlemail.com"}
PDQ_THRESHOLD = 31


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_time(text: str) -> datetime | None:
    if not TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def why_malformed(row: dict[str, str]) -> str | None:
    if parse_time(row["timestamp"]) is None:
        return "bad timestamp"
    if not row["account_id"]:
        return "missing account_id"
    if row["action"] not in ACTIONS:
        return "unknown action"
    try:
        ipaddress.ip_address(row["ip"])
    except ValueError:
        return "invalid ip"
    return None


def flagged_objects(out: Path) -> tuple[set[str], set[str]]:
    """(flagged object ids, non-pertinent object ids) by matching the catalog to the hash set."""
    media = json.loads((out / "hashset.json").read_text(encoding="utf-8"))["value"]
    exact: dict[str, int] = {}
    pdqs: list[tuple[int, int]] = []
    for entry in media:
        for key in ("MD5", "SHA1"):
            exact[entry[key].lower()] = entry["Category"]
        if entry.get("PDQ"):
            pdqs.append((int(entry["PDQ"], 16), entry["Category"]))
    flagged, ignorable = set(), set()
    for obj in read_rows(out / "catalog.csv"):
        categories = {exact[h] for h in (obj["md5"], obj["sha1"]) if h in exact}
        if obj["pdq"]:
            value = int(obj["pdq"], 16)
            categories |= {c for p, c in pdqs if (p ^ value).bit_count() <= PDQ_THRESHOLD}
        if categories - {0}:
            flagged.add(obj["object_id"])
        elif categories:
            ignorable.add(obj["object_id"])
    return flagged, ignorable


@dataclass
class Recount:
    malformed: dict[int, str]
    duplicates: int
    clean: list[tuple[str, ...]]  # unique clean rows, file order
    stats: dict[str, dict[str, Any]]


def recount(out: Path, flagged: set[str]) -> Recount:
    rows = read_rows(out / "records.csv")
    malformed = {}
    seen: set[tuple[str, ...]] = set()
    clean, duplicates = [], 0
    for number, row in enumerate(rows, start=1):
        reason = why_malformed(row)
        if reason:
            malformed[number] = reason
            continue
        key = tuple(row.values())
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        clean.append(key)
    per: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"files": set(), "times": [], **dict.fromkeys(ACTIONS, 0)}
    )
    for ts, account, action, obj, _ip, _port in clean:
        if obj in flagged:
            stats = per[account]
            stats["files"].add(obj)
            stats[action] += 1
            stats["times"].append(parse_time(ts))
    out_stats = {
        account: {
            "distinct_flagged_files": len(s["files"]),
            "uploads": s["upload"],
            "downloads": s["download"],
            "views": s["view"],
            "shares": s["share"],
            "first_seen": min(s["times"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_seen": max(s["times"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for account, s in per.items()
    }
    return Recount(malformed, duplicates, clean, out_stats)


def normal_email(value: str) -> str:
    local, _, domain = value.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def naive_email(value: str) -> str:
    """The mistake a resolver must not make: ignoring dots at every provider."""
    local, _, domain = normal_email(value).partition("@")
    return f"{local.replace('.', '')}@{domain}"


def normal_phone(value: str, region: str) -> str | None:
    """E.164, reading national forms in the person's country ("011 15-..." is Buenos Aires)."""
    candidates = [value]
    for exit_code in ("011", "00"):
        if value.startswith(exit_code):
            candidates.append("+" + value[len(exit_code) :])
    for text in candidates:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normal_device(value: str) -> str:
    return re.sub(r"[^0-9a-f]", "", value.lower())


def owners(values: dict[str, str], person_of: dict[str, str]) -> dict[str, set[str]]:
    """Normalised identifier -> the people whose accounts hold it."""
    found: dict[str, set[str]] = defaultdict(set)
    for account, value in values.items():
        found[value].add(person_of[account])
    return found


def counts(values: list[str]) -> Counter[str]:
    return Counter(values)

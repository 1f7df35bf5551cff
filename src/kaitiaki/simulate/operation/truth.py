"""The ground truth of a simulated operation: who is who, who is flagged, and what is noise.

``ground_truth.json`` always holds the summary, the definitions, the objects, the noise rows and
the junk values. People and flagged accounts are inline for small operations and in
``truth_people.parquet`` / ``truth_flagged_accounts.parquet`` for big ones (the JSON names them).
``load_ground_truth`` reads either layout.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.catalog import Catalog
from kaitiaki.simulate.operation.countries import COUNTRIES
from kaitiaki.simulate.operation.events import ACTIONS, FlaggedEvents
from kaitiaki.simulate.operation.identities import JUNK, Identities
from kaitiaki.simulate.operation.people import Ints, Population

INLINE_LIMIT = 100_000  # accounts; above this, people and flagged accounts go to Parquet
DEFINITIONS = {
    "flagged object": "an object the hash set lists with category 1-3, by exact MD5/SHA-1 or by "
    "PDQ within 31 bits; category 0 (non-pertinent) never flags",
    "flagged account": "an account with at least one clean event on a flagged object",
    "clean rows": "all rows except malformed ones, with exact duplicate rows counted once",
    "counts": "distinct_flagged_files and uploads/downloads/views/shares count the account's "
    "clean events on flagged objects; first_seen/last_seen are the earliest/latest of them, UTC",
    "row numbers": "1-based data rows (header excluded), the same in every format written",
    "expected_country": "the person's home country; null when every event is through a VPN",
    "subject": "a person with at least one flagged account",
}


@dataclass(frozen=True)
class AccountTruth:
    account_id: str
    person_id: str
    distinct_flagged_files: int
    uploads: int
    downloads: int
    views: int
    shares: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class PersonTruth:
    person_id: str
    account_ids: list[str]
    flagged_account_ids: list[str]
    subject: bool
    home_country: str
    expected_country: str | None
    vpn: bool
    vpn_share: float
    travel_countries: list[str]
    links: list[list[str]]  # [account_id, account_id, via]
    phone_e164: str | None


@dataclass
class GroundTruth:
    summary: dict[str, Any]
    people: list[PersonTruth]
    flagged_accounts: dict[str, AccountTruth]
    malformed_rows: dict[int, str]
    duplicate_rows: list[int]
    flagged_objects: dict[str, dict[str, Any]]
    non_pertinent_objects: list[str]
    junk_identifiers: dict[str, list[str]]
    dot_traps: list[list[str]]
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_stats(
    flagged: FlaggedEvents, account_ids: list[str], person_ids: list[str], pop: Population
) -> dict[str, AccountTruth]:
    """Per flagged account, exact counts from its clean events on flagged objects."""
    acc = np.concatenate(flagged.account) if flagged.account else np.zeros(0, np.int64)
    obj = np.concatenate(flagged.obj) if flagged.obj else np.zeros(0, np.int64)
    act = np.concatenate(flagged.action) if flagged.action else np.zeros(0, np.int64)
    when = np.concatenate(flagged.time) if flagged.time else np.zeros(0, np.int64)
    n = pop.accounts
    pairs = np.unique(acc * (int(obj.max(initial=0)) + 1) + obj)
    distinct = np.bincount(pairs // (int(obj.max(initial=0)) + 1), minlength=n)
    per_action = [np.bincount(acc[act == a], minlength=n) for a in range(len(ACTIONS))]
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, acc, when)
    np.maximum.at(last, acc, when)
    out = {}
    for a in np.flatnonzero(pop.account_flagged).tolist():
        account = account_ids[a]
        out[account] = AccountTruth(
            account_id=account,
            person_id=person_ids[int(pop.account_person[a])],
            distinct_flagged_files=int(distinct[a]),
            uploads=int(per_action[0][a]),
            downloads=int(per_action[1][a]),
            views=int(per_action[2][a]),
            shares=int(per_action[3][a]),
            first_seen=_iso(int(first[a])),
            last_seen=_iso(int(last[a])),
        )
    return out


def people_truth(
    pop: Population, ids: Identities, travel_events: Ints, person_ids: list[str]
) -> list[PersonTruth]:
    travelled = np.bincount(pop.account_person, travel_events, pop.persons) > 0
    links_by_person: dict[int, list[list[str]]] = {}
    for a, b, via in ids.links:
        person = int(pop.account_person[a])
        links_by_person.setdefault(person, []).append([ids.account_id[a], ids.account_id[b], via])
    people = []
    for p in range(pop.persons):
        first, size = int(pop.first[p]), int(pop.size[p])
        accounts = ids.account_id[first : first + size]
        home = COUNTRIES[int(pop.country[p])].code
        people.append(
            PersonTruth(
                person_id=person_ids[p],
                account_ids=accounts,
                flagged_account_ids=[
                    accounts[k] for k in np.flatnonzero(pop.account_flagged[first : first + size])
                ],
                subject=bool(pop.subject[p]),
                home_country=home,
                expected_country=None if pop.vpn[p] else home,
                vpn=bool(pop.vpn[p]),
                vpn_share=float(pop.vpn_share[p]),
                travel_countries=(
                    [COUNTRIES[int(pop.travel_country[p])].code] if travelled[p] else []
                ),
                links=links_by_person.get(p, []),
                phone_e164=ids.phone_e164.get(p),
            )
        )
    return people


def objects_truth(catalog: Catalog) -> tuple[dict[str, dict[str, Any]], list[str]]:
    ids = catalog.object_ids.to_pylist()
    only = set(catalog.pdq_only.tolist())
    flagged = {
        ids[o]: {"category": catalog.category[o], "match": "pdq" if o in only else "exact"}
        for o in catalog.flagged.objects.tolist()
    }
    return flagged, [ids[o] for o in catalog.non_pertinent.tolist()]


def write_ground_truth(truth: GroundTruth, out_dir: Path) -> Path:
    document: dict[str, Any] = {
        "summary": truth.summary,
        "definitions": truth.definitions,
        "malformed_rows": [
            {"row": r, "reason": why} for r, why in sorted(truth.malformed_rows.items())
        ],
        "duplicate_rows": sorted(truth.duplicate_rows),
        "flagged_objects": truth.flagged_objects,
        "non_pertinent_objects": truth.non_pertinent_objects,
        "junk_identifiers": truth.junk_identifiers,
        "dot_traps": truth.dot_traps,
    }
    people = [asdict(p) for p in truth.people]
    accounts = [asdict(a) for a in truth.flagged_accounts.values()]
    if truth.summary["accounts"] > INLINE_LIMIT:
        pq.write_table(pa.Table.from_pylist(people), out_dir / "truth_people.parquet")
        pq.write_table(pa.Table.from_pylist(accounts), out_dir / "truth_flagged_accounts.parquet")
        document["people_file"] = "truth_people.parquet"
        document["flagged_accounts_file"] = "truth_flagged_accounts.parquet"
    else:
        document["people"] = people
        document["flagged_accounts"] = accounts
    path = out_dir / "ground_truth.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def load_ground_truth(out_dir: Path) -> GroundTruth:
    """Read ``ground_truth.json`` (and its Parquet parts, when the operation was big)."""
    document = json.loads((out_dir / "ground_truth.json").read_text(encoding="utf-8"))
    people = document.get("people")
    if people is None:
        people = pq.read_table(out_dir / document["people_file"]).to_pylist()
    accounts = document.get("flagged_accounts")
    if accounts is None:
        accounts = pq.read_table(out_dir / document["flagged_accounts_file"]).to_pylist()
    return GroundTruth(
        summary=document["summary"],
        people=[PersonTruth(**p) for p in people],
        flagged_accounts={a["account_id"]: AccountTruth(**a) for a in accounts},
        malformed_rows={m["row"]: m["reason"] for m in document["malformed_rows"]},
        duplicate_rows=document["duplicate_rows"],
        flagged_objects=document["flagged_objects"],
        non_pertinent_objects=document["non_pertinent_objects"],
        junk_identifiers=document["junk_identifiers"],
        dot_traps=document["dot_traps"],
        definitions=document["definitions"],
    )


def junk_identifiers() -> dict[str, list[str]]:
    return {kind: [*values, ""] for kind, values in JUNK.items()}

"""An analysis scored against a simulated operation's ground truth (``ground_truth.json``).

Flagged accounts must be exact; subjects are scored pairwise (precision, recall); countries
over the subjects not behind a VPN; subjects behind a VPN must be flagged, never attributed
silently; malformed rows must all be in the rejects, at their row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kaitiaki.accounts import pairwise_precision_recall
from kaitiaki.exports import csvcells
from kaitiaki.simulate.operation import load_ground_truth

COUNTS = ("flagged_files", "uploads", "downloads", "views", "shares", "first_seen", "last_seen")


@dataclass
class Evaluation:
    flagged_expected: int = 0
    flagged_found: int = 0
    flagged_exact: int = 0
    flagged_mismatches: list[str] = field(default_factory=list)
    precision: float = 0.0
    recall: float = 0.0
    country_total: int = 0
    country_correct: int = 0
    vpn_total: int = 0
    vpn_flagged: int = 0
    vpn_silently_attributed: int = 0
    malformed_expected: int = 0
    malformed_rejected: int = 0

    @property
    def country_accuracy(self) -> float:
        return self.country_correct / self.country_total if self.country_total else 1.0

    @property
    def flagged_exactly(self) -> bool:
        return (
            self.flagged_exact == self.flagged_expected == self.flagged_found
            and not self.flagged_mismatches
        )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csvcells.DictReader(handle))


def evaluate(out: Path, truth_path: Path) -> Evaluation:
    """Score the analysis in ``out``; ``truth_path`` is the simulation's ``ground_truth.json``."""
    truth = load_ground_truth(truth_path.parent)
    result = Evaluation()

    expected = truth.flagged_accounts
    found = {r["account_id"]: r for r in _csv(out / "flagged_accounts.csv")}
    result.flagged_expected, result.flagged_found = len(expected), len(found)
    for account_id, want in expected.items():
        got = found.get(account_id)
        if got is None:
            result.flagged_mismatches.append(f"{account_id}: missing")
            continue
        wanted = {k: getattr(want, k) for k in COUNTS[1:]}
        wanted["flagged_files"] = want.distinct_flagged_files
        diffs = [f"{k} {got[k]} != {wanted[k]}" for k in COUNTS if str(wanted[k]) != got[k]]
        if diffs:
            result.flagged_mismatches.append(f"{account_id}: " + ", ".join(diffs))
        else:
            result.flagged_exact += 1
    result.flagged_mismatches += [f"{a}: not in the truth" for a in found if a not in expected]

    subjects = _csv(out / "subjects.csv")
    predicted = [s["account_ids"].split(";") for s in subjects]
    people = [p for p in truth.people if p.subject]
    result.precision, result.recall = pairwise_precision_recall(
        predicted, [p.account_ids for p in people]
    )

    subject_of = {a: s for s in subjects for a in s["account_ids"].split(";")}
    for person in people:
        subject = next((subject_of[a] for a in person.flagged_account_ids if a in subject_of), None)
        country = subject["country"] if subject else ""
        if person.vpn:
            result.vpn_total += 1
            flagged = subject is not None and subject["vpn_or_hosting"] == "true"
            result.vpn_flagged += flagged
            result.vpn_silently_attributed += bool(country) and not flagged
        elif person.expected_country:
            result.country_total += 1
            result.country_correct += country == person.expected_country

    # The truth numbers the rows of the access-records file; accounts and catalog rejects differ.
    rejected = {
        int(r["row"]) for r in _csv(out / "rejects.csv") if "records" in Path(r["file"]).name
    }
    malformed = set(truth.malformed_rows)
    result.malformed_expected = len(malformed)
    result.malformed_rejected = len(malformed & rejected)
    return result

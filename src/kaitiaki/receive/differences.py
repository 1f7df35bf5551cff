"""What a newer package version changes about a received case, listed for a person.

Compared subject by subject on what identifies things: accounts by id, identifiers by value,
IP capture events by (account, action, UTC time, IP, port), flagged files by their hashes. The
list is stored with the version (``received_versions.differences``) and shown on the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_IDENTIFIERS = ("usernames", "emails", "phones", "device_ids")


def _events(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (e.get("account_id"), e.get("action"), e.get("utc"), e.get("ip"), e.get("port"))
        for e in doc.get("ip_capture_events", [])
    }


def _files(doc: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (f.get("sha256"), f.get("md5"), f.get("sha1"), f.get("pdq")): f
        for f in doc.get("flagged_files", [])
    }


def _identifiers(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (str(a.get("account_id")), kind, str(value))
        for a in doc.get("accounts", [])
        for kind in _IDENTIFIERS
        for value in a.get(kind, [])
    }


def _change(subject: str, what: str, detail: str) -> dict[str, str]:
    return {"subject_id": subject, "change": what, "detail": detail}


def _listed(values: Iterable[Any], limit: int = 5) -> str:
    items = sorted(str(v) for v in values)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def subject_differences(
    subject: str, old: dict[str, Any], new: dict[str, Any]
) -> list[dict[str, str]]:
    """The changes from ``old`` to ``new`` about one subject, most telling first."""
    changes = []
    old_p, new_p = old.get("priority") or {}, new.get("priority") or {}
    if (old_p.get("tier"), old_p.get("score")) != (new_p.get("tier"), new_p.get("score")):
        before = f"{old_p.get('tier')} ({old_p.get('score')})"
        after = f"{new_p.get('tier')} ({new_p.get('score')})"
        changes.append(_change(subject, "priority", f"{before} -> {after}"))
    old_c = (old.get("attribution") or {}).get("country")
    new_c = (new.get("attribution") or {}).get("country")
    if old_c != new_c:
        changes.append(_change(subject, "attribution", f"{old_c} -> {new_c}"))
    old_a = {a.get("account_id") for a in old.get("accounts", [])}
    new_a = {a.get("account_id") for a in new.get("accounts", [])}
    if new_a - old_a:
        changes.append(_change(subject, "accounts added", _listed(new_a - old_a)))
    if old_a - new_a:
        changes.append(_change(subject, "accounts removed", _listed(old_a - new_a)))
    old_i, new_i = _identifiers(old), _identifiers(new)
    if new_i - old_i:
        changes.append(
            _change(
                subject, "identifiers added", _listed(f"{k[:-1]} {v}" for _, k, v in new_i - old_i)
            )
        )
    if old_i - new_i:
        changes.append(
            _change(
                subject,
                "identifiers removed",
                _listed(f"{k[:-1]} {v}" for _, k, v in old_i - new_i),
            )
        )
    old_e, new_e = _events(old), _events(new)
    if new_e - old_e:
        changes.append(_change(subject, "IP capture events added", f"{len(new_e - old_e)}"))
    if old_e - new_e:
        changes.append(_change(subject, "IP capture events removed", f"{len(old_e - new_e)}"))
    old_f, new_f = _files(old), _files(new)
    if new_f.keys() - old_f.keys():
        changes.append(
            _change(subject, "flagged files added", f"{len(new_f.keys() - old_f.keys())}")
        )
    if old_f.keys() - new_f.keys():
        changes.append(
            _change(subject, "flagged files removed", f"{len(old_f.keys() - new_f.keys())}")
        )
    return changes


def package_differences(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    """Every change from package document ``old`` to ``new``, subject by subject."""
    before = {s["subject_id"]: s for s in old.get("subjects", [])}
    after = {s["subject_id"]: s for s in new.get("subjects", [])}
    changes = [_change(s, "subject added", "") for s in sorted(after.keys() - before.keys())]
    # A subject the sender no longer lists is kept here (our investigation may be under way),
    # and said so.
    changes += [
        _change(s, "subject no longer in the package", "kept in the case")
        for s in sorted(before.keys() - after.keys())
    ]
    for subject in sorted(before.keys() & after.keys()):
        changes += subject_differences(subject, before[subject], after[subject])
    return changes

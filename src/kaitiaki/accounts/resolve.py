"""Identity resolution: join accounts into subjects on shared identifiers, keeping every reason.

Strong links: accounts sharing a normalised email, an E.164 phone number or a device id. Weak
links (off unless events are given): accounts co-located on a public IP within a window (see
``weak``). Subjects are the connected components of the links (union-find).

Why links look the way they do:

* **Over-shared identifiers do not link.** A value carried by more than
  ``max_accounts_per_identifier`` accounts is a placeholder the normalisers did not know, a shared
  family tablet, a reseller's phone number: joining everyone behind it would merge strangers into
  one subject. It is reported in ``Resolution.skipped`` with its count, never silently dropped.
* **One spanning set per identifier.** Accounts sharing one value are linked as a star from the
  first (sorted) account, ``n - 1`` links instead of ``n(n-1)/2``, each with the value as reason.
  Different identifiers each give their own links, so two accounts sharing both an email and a
  phone show both reasons.
* **Undo is edge removal.** ``rejected_links`` are pairs an investigator has unlinked: every
  *direct* link between the two (any identifier) is removed before the union-find runs again.
  The subject splits only if no other evidence still joins the two; e.g. when a third account
  shares the same email with both, they stay together (through it) and the new links show why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import timedelta
from typing import TypeAlias

from kaitiaki.accounts.identifiers import normalise_device_id, normalise_email, normalise_phone
from kaitiaki.accounts.ids import subject_id
from kaitiaki.accounts.records import (
    AccountIdentifiers,
    IdentifierKind,
    IpEvent,
    Link,
    Resolution,
    SkippedIdentifier,
    Subject,
)
from kaitiaki.accounts.weak import weak_ip_links

DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER = 5
DEFAULT_MAX_ACCOUNTS_PER_IP = 3
DEFAULT_WINDOW = timedelta(minutes=10)

# Holders of one identifier: a bare account id while there is one (the vast majority, kept
# cheap), a set once a second account shows up.
_Holders: TypeAlias = str | set[str]


def resolve_subjects(
    accounts: Iterable[AccountIdentifiers],
    *,
    weak_events: Iterable[IpEvent] | None = None,
    window: timedelta = DEFAULT_WINDOW,
    max_accounts_per_ip: int = DEFAULT_MAX_ACCOUNTS_PER_IP,
    max_accounts_per_identifier: int = DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER,
    rejected_links: Collection[tuple[str, str]] = (),
    operation_key: bytes,
) -> Resolution:
    """Resolve ``accounts`` into subjects; every account ends in exactly one subject.

    ``weak_events`` switches weak IP links on. Accounts appearing only in ``weak_events`` are not
    resolved (they only count towards an address's sharing). ``rejected_links`` pairs may be in
    either order. ``operation_key`` namespaces the subject ids (``ids.subject_id``).
    """
    if max_accounts_per_identifier < 2 or max_accounts_per_ip < 2:
        raise ValueError("an identifier must be allowed at least 2 accounts to link anything")
    known: dict[str, None] = {}  # every account, in first-seen order (a set that keeps order)
    holders: dict[tuple[IdentifierKind, str], _Holders] = {}
    for row in accounts:
        known[row.account_id] = None
        for key in _identifiers(row):
            held = holders.get(key)
            if held is None:
                holders[key] = row.account_id
            elif isinstance(held, str):
                if held != row.account_id:
                    holders[key] = {held, row.account_id}
            else:
                held.add(row.account_id)

    rejected = {(a, b) if a < b else (b, a) for a, b in rejected_links}
    links, skipped = _strong_links(holders, max_accounts_per_identifier, rejected)
    if weak_events is not None:
        weak, skipped_ips = weak_ip_links(
            weak_events,
            known,
            window=window,
            max_accounts_per_ip=max_accounts_per_ip,
            rejected=rejected,
        )
        links.extend(weak)
        skipped.extend(skipped_ips)

    subjects = [
        Subject(subject_id(operation_key, members), tuple(members))
        for members in _components(known, links)
    ]
    subjects.sort(key=lambda s: s.account_ids[0])
    # Keyed sorts: the dataclasses' generated ``__lt__`` is several times slower at a million links.
    links.sort(key=lambda link: (link.account_a, link.account_b, link.reason))
    skipped.sort(key=lambda s: (s.kind, s.value, s.reason))
    return Resolution(tuple(subjects), tuple(links), tuple(skipped))


def _identifiers(row: AccountIdentifiers) -> set[tuple[IdentifierKind, str]]:
    """The normalised identifiers of one row; junk and invalid values are dropped here."""
    found: set[tuple[IdentifierKind, str]] = set()
    for raw in row.emails:
        if (email := normalise_email(raw)) is not None:
            found.add(("email", email))
    for raw in row.phones:
        if (phone := normalise_phone(raw, row.region)) is not None:
            found.add(("phone", phone))
    for raw in row.device_ids:
        if (device := normalise_device_id(raw)) is not None:
            found.add(("device", device))
    return found


def _strong_links(
    holders: dict[tuple[IdentifierKind, str], _Holders],
    limit: int,
    rejected: set[tuple[str, str]],
) -> tuple[list[Link], list[SkippedIdentifier]]:
    rejected_accounts = {account for pair in rejected for account in pair}
    links: list[Link] = []
    skipped: list[SkippedIdentifier] = []
    for (kind, value), held in holders.items():
        if isinstance(held, str):
            continue
        if len(held) > limit:
            why = f"shared by {len(held)} accounts (> {limit}): placeholder or shared identifier"
            skipped.append(SkippedIdentifier(kind, value, len(held), why))
            continue
        members = sorted(held)
        reason = f"{kind}={value}"
        if rejected_accounts.isdisjoint(members):
            links.extend(Link(members[0], other, reason) for other in members[1:])
        else:
            links.extend(_spanning_without(members, rejected, reason))
    return links, skipped


def _spanning_without(
    members: list[str], rejected: set[tuple[str, str]], reason: str
) -> list[Link]:
    """A spanning forest of the clique over ``members`` minus the rejected pairs (BFS).

    Groups are at most ``max_accounts_per_identifier`` accounts, so the quadratic scan is tiny.
    """
    links: list[Link] = []
    reached: set[str] = set()
    for start in members:
        if start in reached:
            continue
        reached.add(start)
        frontier = [start]
        while frontier:
            current = frontier.pop(0)
            for other in members:
                pair = (current, other) if current < other else (other, current)
                if other in reached or pair in rejected:
                    continue
                reached.add(other)
                frontier.append(other)
                links.append(Link(pair[0], pair[1], reason))
    return links


def _components(known: Iterable[str], links: Iterable[Link]) -> list[list[str]]:
    """Connected components (sorted account lists) of the accounts under the links.

    Dict-based union-find with path halving and union by size: near-linear, about a second per
    million accounts in CPython.
    """
    parent: dict[str, str] = {account: account for account in known}
    size: dict[str, int] = dict.fromkeys(parent, 1)

    def find(account: str) -> str:
        while parent[account] != account:
            parent[account] = parent[parent[account]]
            account = parent[account]
        return account

    for link in links:
        a, b = find(link.account_a), find(link.account_b)
        if a == b:
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]

    groups: dict[str, list[str]] = {}
    for account in parent:
        groups.setdefault(find(account), []).append(account)
    return [sorted(members) for members in groups.values()]

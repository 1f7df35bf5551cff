"""Who is in the simulated export: people, their accounts, and how active each account is.

Everything is numpy arrays indexed by person (``P``) or by account (``A``), so a million accounts
take seconds. A person's accounts are contiguous (``first[p] : first[p] + size[p]``); the account
ids written to the files are drawn separately, so file order says nothing about who is who.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kaitiaki.simulate.operation.countries import COUNTRIES

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]

# Accounts per person: most people have one; some keep two to four.
SIZE_SHARES = (0.72, 0.18, 0.07, 0.03)
VPN_SUBJECTS = 0.08  # subjects behind a VPN for everything
PARTIAL_VPN = 0.06  # others who use a VPN for some events
PARTIAL_VPN_SHARE = 0.2
MOBILE = 0.45  # people on a mobile carrier (shared egress addresses, some NAT leaks)
HAS_V6 = 0.4
TRAVELLERS = 0.04
TRAVEL_SHARE = 0.15  # of a traveller's events, the last ones, are abroad
TRAVEL_MIN_EVENTS = 12
UPLOADERS = 0.15  # of flagged accounts
ALT_CLEAN = 0.25  # a subject with several accounts keeps one of them clean


@dataclass(frozen=True)
class Population:
    """People (``person_*``) and accounts (``account_*``) with everything that drives events."""

    country: Ints  # per person: index into COUNTRIES
    offset: Ints  # per person: minutes east of UTC
    first: Ints  # per person: first account
    size: Ints  # per person: number of accounts
    subject: Bools
    vpn: Bools  # every event through a VPN/hosting exit
    vpn_share: Floats  # share of events through a VPN (1.0 when vpn)
    mobile: Bools
    has_v6: Bools
    traveller: Bools
    travel_country: Ints  # -1 unless traveller
    start: Ints  # per person: activity window, epoch seconds
    end: Ints
    travel_start: Ints
    travel_end: Ints
    account_person: Ints
    account_flagged: Bools
    account_uploader: Bools
    account_events: Ints
    account_flagged_events: Ints

    @property
    def persons(self) -> int:
        return len(self.size)

    @property
    def accounts(self) -> int:
        return len(self.account_person)

    def travel_events(self) -> Ints:
        """Per account: how many of its (last) events happen abroad."""
        travelling = self.traveller[self.account_person]
        count = np.floor(self.account_events * TRAVEL_SHARE).astype(np.int64)
        person_events = np.bincount(self.account_person, self.account_events, self.persons)
        enough = person_events[self.account_person] >= TRAVEL_MIN_EVENTS
        return np.where(travelling & enough, count, 0)


def _sizes(rng: np.random.Generator, accounts: int) -> Ints:
    draws = rng.choice(np.arange(1, 5), size=accounts, p=SIZE_SHARES)
    cut = int(np.searchsorted(np.cumsum(draws), accounts))
    sizes = draws[: cut + 1].copy()
    sizes[-1] -= int(sizes.sum()) - accounts  # trim the last person to hit the total exactly
    return sizes.astype(np.int64)


def _flag(rng: np.random.Generator, sizes: Ints, first: Ints, flagged: int) -> tuple[Bools, Bools]:
    """Pick subjects until exactly ``flagged`` accounts are flagged; returns (subject, account)."""
    order = rng.permutation(len(sizes))
    per_subject = sizes[order].copy()
    clean_alt = (per_subject > 1) & (rng.random(len(order)) < ALT_CLEAN)
    per_subject[clean_alt] -= 1
    total = np.cumsum(per_subject)
    n = int(np.searchsorted(total, flagged)) + 1 if flagged else 0
    if n > len(order):
        raise ValueError("more flagged accounts than the population can hold")
    chosen, counts = order[:n], per_subject[:n].copy()
    if n:
        counts[-1] -= int(total[n - 1]) - flagged
    subject = np.zeros(len(sizes), bool)
    subject[chosen] = True
    account = np.zeros(int(sizes.sum()), bool)
    # A subject's first ``count`` accounts are flagged; account 0 is always one of them.
    starts = np.repeat(first[chosen], counts)
    ranks = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    account[starts + ranks] = True
    return subject, account


def _offsets(rng: np.random.Generator, country: Ints) -> Ints:
    """One of its country's UTC offsets per person, drawn without a Python loop."""
    widest = max(len(c.offsets) for c in COUNTRIES)
    table = np.array([c.offsets + (c.offsets[0],) * (widest - len(c.offsets)) for c in COUNTRIES])
    counts = np.array([len(c.offsets) for c in COUNTRIES])
    pick = (rng.random(len(country)) * counts[country]).astype(np.int64)
    return np.asarray(table[country, pick], np.int64)


def build_population(
    rng: np.random.Generator, accounts: int, flagged: int, events: int, window: tuple[int, int]
) -> Population:
    if not 0 <= flagged <= accounts or accounts < 1:
        raise ValueError("need 1 <= accounts and 0 <= flagged <= accounts")
    if events < accounts:
        raise ValueError("need at least one event per account (events >= accounts)")
    size = _sizes(rng, accounts)
    persons = len(size)
    first = np.cumsum(size) - size
    account_person = np.repeat(np.arange(persons), size)
    subject, account_flagged = _flag(rng, size, first, flagged)

    weights = np.array([c.weight for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=persons, p=weights / weights.sum())
    offset = _offsets(rng, country)

    vpn = subject & (rng.random(persons) < VPN_SUBJECTS)
    partial = ~vpn & (rng.random(persons) < PARTIAL_VPN)
    vpn_share = np.where(vpn, 1.0, np.where(partial, PARTIAL_VPN_SHARE, 0.0))
    traveller = ~vpn & (rng.random(persons) < TRAVELLERS)
    # Abroad means another country: shift by a random non-zero step through the table.
    step = rng.integers(1, len(COUNTRIES), persons)
    travel_country = np.where(traveller, (country + step) % len(COUNTRIES), -1)

    lo, hi = window
    span = hi - lo
    length = np.minimum(span, (rng.lognormal(np.log(120), 0.8, persons) * 86400).astype(np.int64))
    start = lo + (rng.random(persons) * (span - length)).astype(np.int64)
    trip = np.minimum(length // 4, rng.integers(4, 21, persons) * 86400)
    travel_start = start + (rng.random(persons) * (length - trip)).astype(np.int64)

    # Events: one each, the rest spread by a heavy-tailed activity weight (flagged are busier).
    activity = rng.lognormal(0.0, 1.0, accounts) * np.where(account_flagged, 1.5, 1.0)
    account_events = 1 + rng.multinomial(events - accounts, activity / activity.sum())
    share = rng.uniform(0.2, 0.8, accounts)
    flagged_events = np.where(
        account_flagged, np.maximum(1, np.round(account_events * share)).astype(np.int64), 0
    )
    uploader = account_flagged & (rng.random(accounts) < UPLOADERS)
    return Population(
        country=country.astype(np.int64),
        offset=offset,
        first=first,
        size=size,
        subject=subject,
        vpn=vpn,
        vpn_share=vpn_share,
        mobile=rng.random(persons) < MOBILE,
        has_v6=rng.random(persons) < HAS_V6,
        traveller=traveller,
        travel_country=travel_country.astype(np.int64),
        start=start,
        end=start + length,
        travel_start=travel_start,
        travel_end=travel_start + trip,
        account_person=account_person,
        account_flagged=account_flagged,
        account_uploader=uploader,
        account_events=account_events.astype(np.int64),
        account_flagged_events=flagged_events,
    )

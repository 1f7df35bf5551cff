"""Access events, generated a chunk of accounts at a time with numpy and written as Arrow tables.

An account's events are numbered 0..n-1 in no particular time order; its flagged events are the
first ``k`` (on flagged objects), travel events the last ones (abroad). Event 0 of anyone not
behind a VPN is from the home broadband address, so every such person has at least one address
that attributes them. Nothing here loops over events in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.addresses import Addresses
from kaitiaki.simulate.operation.catalog import Catalog
from kaitiaki.simulate.operation.countries import COUNTRIES, format_offset
from kaitiaki.simulate.operation.people import Ints, Population

ACTIONS = ("upload", "download", "view", "share")
UPLOAD, DOWNLOAD, VIEW, SHARE = range(4)
SCHEMA = pa.schema(
    [
        ("timestamp", pa.string()),
        ("account_id", pa.string()),
        ("action", pa.string()),
        ("object_id", pa.string()),
        ("ip", pa.string()),
        ("port", pa.int32()),
    ]
)
UTC_SHARE = 0.35  # events the provider logged in UTC ("Z") rather than the user's local offset
# Share of a subject's other events that are on new (unlisted) material: uploaders, others.
NEW_BY_UPLOADERS, NEW_BY_OTHERS = 0.3, 0.1
# Address kinds, in the order _addresses draws them.
BROADBAND, IPV6, CARRIER, LEAK, TRAVEL, VPN = range(6)
KIND_WEIGHTS = (1.0, 0.5, 0.6, 0.08)  # broadband, IPv6, carrier, NAT leak (when available)
_Z = 10_000  # offset code for "Z"


@dataclass
class FlaggedEvents:
    """The clean events on flagged objects, gathered across chunks for the ground truth."""

    account: list[Ints] = field(default_factory=list)
    obj: list[Ints] = field(default_factory=list)
    action: list[Ints] = field(default_factory=list)
    time: list[Ints] = field(default_factory=list)


def _choose(
    rng: np.random.Generator,
    mask: np.ndarray,
    options: tuple[int, ...],
    p: tuple[float, ...],
    out: Ints,
) -> None:
    out[mask] = rng.choice(options, size=int(mask.sum()), p=p)


def _pick(rng: np.random.Generator, start: Ints, count: Ints) -> Ints:
    """A random index in [start, start + count) per row (count >= 1 where used)."""
    return start + (rng.random(len(start)) * np.maximum(count, 1)).astype(np.int64)


class EventMaker:
    def __init__(
        self,
        rng: np.random.Generator,
        pop: Population,
        addresses: Addresses,
        catalog: Catalog,
        account_ids: pa.StringArray,
    ) -> None:
        self.rng, self.pop, self.addr, self.catalog = rng, pop, addresses, catalog
        self.account_ids = account_ids
        self.ip_texts = pa.array(addresses.texts, pa.string())
        self.actions = pa.array(ACTIONS, pa.string())
        # Travel needs addresses abroad; a traveller for whom none could be drawn stays home.
        self.travel_events = np.where(
            addresses.travel_count[pop.account_person] > 0, pop.travel_events(), 0
        )
        self.travel_offset = np.array([c.offsets[0] for c in COUNTRIES], np.int64)

    def _objects_and_actions(self, acc: Ints, person: Ints, flag: np.ndarray) -> tuple[Ints, Ints]:
        rng, cat, pop = self.rng, self.catalog, self.pop
        total = len(acc)
        uploader = pop.account_uploader[acc]
        subject = pop.subject[person]
        new = (
            ~flag
            & subject
            & (rng.random(total) < np.where(uploader, NEW_BY_UPLOADERS, NEW_BY_OTHERS))
        )
        rest = ~flag & ~new
        obj = np.empty(total, np.int64)
        obj[flag] = cat.flagged.draw(rng, int(flag.sum()))
        obj[new] = cat.new.draw(rng, int(new.sum()))
        obj[rest] = cat.benign.draw(rng, int(rest.sum()))
        action = np.empty(total, np.int64)
        _choose(rng, flag & uploader, (UPLOAD, SHARE, VIEW), (0.6, 0.2, 0.2), action)
        _choose(rng, flag & ~uploader, (DOWNLOAD, VIEW, SHARE), (0.45, 0.4, 0.15), action)
        _choose(rng, new & uploader, (UPLOAD, SHARE), (0.8, 0.2), action)
        _choose(rng, new & ~uploader, (DOWNLOAD, VIEW), (0.5, 0.5), action)
        _choose(rng, rest, (VIEW, DOWNLOAD, UPLOAD, SHARE), (0.5, 0.3, 0.12, 0.08), action)
        return obj, action

    def _addresses(self, person: Ints, rank: Ints, travel: np.ndarray) -> tuple[Ints, Ints]:
        """Index into the address table, and the address kind, per event."""
        rng, pop, addr = self.rng, self.pop, self.addr
        total = len(person)
        country = pop.country[person]
        weights = np.stack(
            [
                np.full(total, KIND_WEIGHTS[0]),
                np.where(addr.v6_count[person] > 0, KIND_WEIGHTS[1], 0.0),
                np.where(
                    pop.mobile[person] & (addr.carrier_count[country] > 0), KIND_WEIGHTS[2], 0.0
                ),
                np.where(pop.mobile[person], KIND_WEIGHTS[3], 0.0),
            ],
            axis=1,
        )
        cumulative = np.cumsum(weights, axis=1)
        roll = rng.random(total) * cumulative[:, -1]
        kind = (roll[:, None] >= cumulative).sum(axis=1).astype(np.int64)
        kind[rank == 0] = BROADBAND
        kind[travel] = TRAVEL
        # A VPN-only person uses it for everything; others never for event 0 or trips abroad.
        vpn = pop.vpn[person]
        share = np.where(travel | ((rank == 0) & ~vpn), 0.0, pop.vpn_share[person])
        kind[rng.random(total) < share] = VPN
        index = np.select(
            [kind == BROADBAND, kind == IPV6, kind == CARRIER, kind == LEAK, kind == TRAVEL],
            [
                _pick(rng, addr.v4_start[person], addr.v4_count[person]),
                _pick(rng, addr.v6_start[person], addr.v6_count[person]),
                _pick(rng, addr.carrier_start[country], addr.carrier_count[country]),
                addr.leak[person],
                _pick(rng, addr.travel_start[person], addr.travel_count[person]),
            ],
            default=_pick(rng, np.full(total, addr.vpn_start), np.full(total, addr.vpn_count)),
        )
        return index, kind

    def _timestamps(self, person: Ints, travel: np.ndarray) -> tuple[Ints, pa.Array]:
        """UTC epoch seconds, and their text with an explicit offset (or ``Z``)."""
        rng, pop = self.rng, self.pop
        total = len(person)
        lo = np.where(travel, pop.travel_start[person], pop.start[person])
        hi = np.where(travel, pop.travel_end[person], pop.end[person])
        utc = lo + (rng.random(total) * (hi - lo)).astype(np.int64)
        abroad = self.travel_offset[np.maximum(pop.travel_country[person], 0)]
        offset = np.where(travel, abroad, pop.offset[person])
        offset = np.where(rng.random(total) < UTC_SHARE, _Z, offset)
        local = utc + np.where(offset == _Z, 0, offset) * 60
        text = pc.replace_substring(
            pc.cast(pa.array(local, pa.timestamp("s")), pa.string()), " ", "T"
        )
        codes, inverse = np.unique(offset, return_inverse=True)
        suffixes = pa.array(["Z" if c == _Z else format_offset(int(c)) for c in codes.tolist()])
        return utc, pc.binary_join_element_wise(text, suffixes.take(pa.array(inverse)), "")

    def chunk(self, lo: int, hi: int, flagged: FlaggedEvents) -> pa.Table:
        """The clean events of accounts ``lo:hi`` (in random order); flagged ones are recorded."""
        rng, pop = self.rng, self.pop
        counts = pop.account_events[lo:hi]
        acc = np.repeat(np.arange(lo, hi), counts)
        rank = np.arange(len(acc)) - np.repeat(np.cumsum(counts) - counts, counts)
        person = pop.account_person[acc]
        flag = rank < pop.account_flagged_events[acc]
        travel = rank >= pop.account_events[acc] - self.travel_events[acc]
        obj, action = self._objects_and_actions(acc, person, flag)
        ip, _kind = self._addresses(person, rank, travel)
        utc, text = self._timestamps(person, travel)
        flagged.account.append(acc[flag])
        flagged.obj.append(obj[flag])
        flagged.action.append(action[flag])
        flagged.time.append(utc[flag])
        table = pa.table(
            [
                text,
                self.account_ids.take(pa.array(acc)),
                self.actions.take(pa.array(action)),
                self.catalog.object_ids.take(pa.array(obj)),
                self.ip_texts.take(pa.array(ip)),
                pa.array(rng.integers(1024, 65536, len(acc)), pa.int32()),
            ],
            schema=SCHEMA,
        )
        return table.take(pa.array(rng.permutation(len(acc))))

"""Account identifiers: usernames, emails, phones and device ids, as a provider's export has them.

A person's accounts are linked by sharing one identifier written differently: an email with
case, plus-tag or (Gmail only, as Gmail ignores them) dot changes; a phone in E.164,
international, national or ``00`` form; a device id in upper/lower case, with or without
separators. Unrelated people never share a real identifier: each is built from a code unique to
its person or account. They do share junk (``unknown``, all-zero device ids, ...), which must not
link anyone; and a few unrelated people hold non-Gmail addresses that differ only by dots
("dot traps"), which are different mailboxes everywhere but Gmail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from kaitiaki.simulate.operation.countries import COUNTRIES
from kaitiaki.simulate.operation.people import Population
from kaitiaki.simulate.operation.phones import NATIONAL_FORMS, PhoneBook

_FIRST = """aroha james wiremu olivia liam mere tane chloe ethan ana priya rahul wei mei jun yuki
kenji hana minh linh carlos maria sofia diego lucas julia noah emma ivan olga fatima omar ahmed
amina kwame ama chidi ngozi sione mele tevita lupe pierre camille hans anna lars ingrid mateo
valentina ali zeynep arjun deepa tomasz kasia jack grace"""
_LAST = """smith ngata tipene brown wilson singh kumar chen wang li tanaka sato nguyen tran garcia
silva santos rossi muller schmidt jensen hansen novak kowalski ivanov petrov hassan ibrahim okafor
mensah fifita taufa dubois martin bernard jones taylor walker kaur patel yilmaz demir costa lopez
fernandez morales kim park lee ali khan"""
_WORDS = "kiwi tui kea moa fox owl wolf bear hawk storm river stone cloud pixel nova echo"
FIRST, LAST, WORDS = (tuple(text.split()) for text in (_FIRST, _LAST, _WORDS))
DOMAINS = (
    ("gmail.com", 0.42),
    ("googlemail.com", 0.02),
    ("outlook.com", 0.12),
    ("hotmail.com", 0.1),
    ("yahoo.com", 0.1),
    ("icloud.com", 0.08),
    ("proton.me", 0.04),
    ("gmx.de", 0.04),
    ("mail.ru", 0.04),
    ("xtra.co.nz", 0.02),
    ("qq.com", 0.02),
)
GMAIL = ("gmail.com", "googlemail.com")
JUNK = {
    "email": ("unknown", "none", "n/a", "null"),
    "phone": ("0", "0000000000", "unknown", "+1 000 000 0000"),
    "device_id": ("00000000-0000-0000-0000-000000000000", "unknown", "0000000000000000"),
}
OWN = {"email": 0.85, "phone": 0.35, "device_id": 0.5}  # an unlinked account has its own one
JUNK_SHARE = 0.06
LINKS = ("email", "phone", "device_id")
LINK_SHARES = (0.45, 0.3, 0.25)
DOT_TRAPS = 0.003


@dataclass
class Identities:
    """Per account (person order): the identifier columns, and the links the truth records."""

    account_id: list[str]
    username: list[str]
    email: list[str]
    phone: list[str]
    device_id: list[str]
    links: list[tuple[int, int, str]] = field(default_factory=list)  # (account, account, via)
    phone_e164: dict[int, str] = field(default_factory=dict)  # person -> shared phone
    dot_traps: list[tuple[int, int]] = field(default_factory=list)


def email_forms(rng: random.Random, local: str, domain: str) -> list[str]:
    """Spellings of one mailbox: case and plus tags anywhere, dots and domain only at Gmail."""
    title = ".".join(part.capitalize() for part in local.split("."))
    forms = [f"{local}@{domain}", f"{title}@{domain.capitalize()}", f"{local}+{WORDS[0]}@{domain}"]
    forms.append(f"{local.upper()}+x@{domain}")
    if domain in GMAIL:
        other = GMAIL[1] if domain == GMAIL[0] else GMAIL[0]
        plain = local.replace(".", "")
        dotted = ".".join(plain[i : i + 3] for i in range(0, len(plain), 3))
        forms += [f"{plain}@{domain}", f"{dotted}@{other}", f"{title.replace('.', '')}@{other}"]
    rng.shuffle(forms)
    return forms


def device_forms(rng: random.Random) -> list[str]:
    raw = f"{rng.getrandbits(128):032x}"
    if rng.random() < 0.4:  # an Android id: 16 hex digits
        return [raw[:16], raw[:16].upper()]
    canonical = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return [canonical.upper(), canonical, raw, "{" + canonical.upper() + "}"]


class _Builder:
    def __init__(self, rng: np.random.Generator, pop: Population) -> None:
        # Scalar draws per account use the (much faster) stdlib generator, seeded from numpy's.
        self.rng = random.Random(int(rng.integers(1 << 62)))
        self.pop = pop
        self.phones = PhoneBook(self.rng)
        width = len(str(10 * pop.persons))
        codes = rng.choice(10**width, size=pop.persons, replace=False)
        self.codes = [str(c).zfill(width) for c in codes.tolist()]
        shares = np.array([s for _, s in DOMAINS])
        self.domains = rng.choice(len(DOMAINS), size=pop.persons, p=shares / shares.sum())

    def _junk(self, kind: str) -> str:
        return self.rng.choice(JUNK[kind]) if self.rng.random() < 0.5 else ""

    def own(self, kind: str, person: int, rank: int, local: str) -> str:
        """An account's own identifier of ``kind`` (not shared), junk, or empty."""
        roll = self.rng.random()
        if roll < JUNK_SHARE:
            return self._junk(kind)
        if roll > OWN[kind]:
            return ""
        if kind == "email":
            domain = DOMAINS[int(self.domains[person])][0]
            return f"{local.replace('.', '')}{'abcd'[rank]}@{domain}"
        if kind == "phone":
            region = COUNTRIES[int(self.pop.country[person])].code
            return self.phones.number(region)["e164"]
        return device_forms(self.rng)[0]

    def person(self, p: int, out: Identities) -> None:
        rng, pop = self.rng, self.pop
        first, size = int(pop.first[p]), int(pop.size[p])
        name = (rng.choice(FIRST), rng.choice(LAST))
        local = f"{name[0]}{rng.choice('._')}{name[1]}{self.codes[p]}"
        if rng.random() < 0.3:
            local = local.replace(".", "").replace("_", "")
        via = rng.choices(LINKS, weights=LINK_SHARES, k=size - 1)
        shared: dict[str, list[str]] = {}
        if "email" in via:
            shared["email"] = email_forms(rng, local, DOMAINS[int(self.domains[p])][0])
        if "phone" in via:
            number = self.phones.number(COUNTRIES[int(pop.country[p])].code)
            # National forms parse only with the country known, which a VPN user's IPs hide.
            forms = [v for k, v in number.items() if not (pop.vpn[p] and k in NATIONAL_FORMS)]
            rng.shuffle(forms)
            shared["phone"] = forms
            out.phone_e164[p] = number["e164"]
        if "device_id" in via:
            shared["device_id"] = device_forms(rng)
        for rank in range(size):
            account = first + rank
            word = rng.choice(WORDS)
            out.username.append(f"{word}_{name[0]}{self.codes[p]}{'abcd'[rank]}")
            for kind, column in (
                ("email", out.email),
                ("phone", out.phone),
                ("device_id", out.device_id),
            ):
                uses = kind in shared and (rank == 0 or via[rank - 1] == kind)
                if uses:
                    forms = shared[kind]
                    column.append(forms[rank % len(forms)])
                else:
                    column.append(self.own(kind, p, rank, local))
            if rank:
                out.links.append((first, account, via[rank - 1]))


def _dot_traps(rng: np.random.Generator, pop: Population, ids: Identities) -> None:
    """Give a few single-account people a non-Gmail address that differs from another's by dots."""
    singles = np.flatnonzero(pop.size == 1)
    # Candidates come from people with several accounts, so no account is on both sides.
    multi = pop.size[pop.account_person] > 1
    candidates = [
        a
        for a, email in enumerate(ids.email)
        if multi[a]
        and "@" in email
        and "." in email.split("@")[0]
        and email.split("@")[1].lower() not in GMAIL
    ]
    count = min(len(candidates), len(singles) // 2, max(1, int(pop.persons * DOT_TRAPS)))
    if count == 0:
        return
    for a, p in zip(
        rng.choice(candidates, count, replace=False).tolist(),
        rng.choice(singles, count, replace=False).tolist(),
        strict=True,
    ):
        b = int(pop.first[p])
        local, domain = ids.email[a].split("@")
        ids.email[b] = f"{local.replace('.', '').lower()}@{domain.lower()}"
        ids.dot_traps.append((a, b))


def build_identities(rng: np.random.Generator, pop: Population) -> Identities:
    ids = Identities(account_id=[], username=[], email=[], phone=[], device_id=[])
    numbers = rng.choice(9 * 10**11, size=pop.accounts, replace=False) + 10**11
    ids.account_id = [str(n) for n in numbers.tolist()]
    builder = _Builder(rng, pop)
    for p in range(pop.persons):
        builder.person(p, ids)
    _dot_traps(rng, pop, ids)
    return ids

"""Normalisers for the identifiers that join accounts: emails, phones, device ids, IP addresses.

Each function maps the many ways a provider writes one identifier to one canonical string, or to
``None`` when the value is junk (empty, a placeholder, invalid). Identity resolution links
accounts only on these canonical values, so two rules matter more than coverage:

* **Idempotence**: ``normalise(normalise(x)) == normalise(x)``; a stored normalised value can be
  normalised again (by a later run, another tool) without drifting.
* **No over-merging**: a rule is applied only where the provider itself treats the variants as
  one identifier (Gmail ignores dots; most other providers do not), because a wrong merge joins
  two people into one subject.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

import phonenumbers

# --- emails ----------------------------------------------------------------------------------

# The dot-atom form of RFC 5322 local parts, ASCII only. Quoted local parts and internationalised
# (non-ASCII) local parts are refused: they are vanishingly rare in provider exports and their
# case rules differ per provider, so guessing a canonical form could merge two people.
_LOCAL = re.compile(r"[a-z0-9!#$%&'*/=?^_`{|}~.-]{1,64}")
# Hostname labels (after IDNA encoding): letters, digits, inner hyphens; a TLD of letters (or an
# ``xn--`` IDN TLD).
_DOMAIN = re.compile(
    r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)

# Providers that ignore dots in the local part (and alias one another). Only these get dots removed.
_GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}

# Values people type when a form insists on an email. Matched on the final normalised form.
_JUNK_LOCALS = frozenset(
    {
        "test",
        "none",
        "null",
        "nil",
        "unknown",
        "na",
        "noemail",
        "no-email",
        "no_email",
        "nomail",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "nobody",
        "anonymous",
        "fake",
        "invalid",
        "asdf",
        "xxx",
    }
)
_JUNK_DOMAINS = frozenset(
    {
        "test.com",
        "none.com",
        "noemail.com",
        "no-email.com",
        "nomail.com",
        "fake.com",
        "invalid.com",
        "localhost.localdomain",
    }
)
# Reserved by RFC 2606 / 6761 to never resolve: an address there cannot be a real mailbox.
# (``example.com`` and friends are *not* refused: simulated operations use them.)
_JUNK_TLDS = frozenset({"invalid", "test", "localhost", "local", "example"})


def normalise_email(value: str) -> str | None:
    """The canonical form of an email address, or ``None`` for junk.

    Trims, drops a ``mailto:`` prefix and surrounding ``<>``, lowercases, removes a ``+tag`` from
    the local part (nearly every large provider delivers ``name+tag@`` to ``name@``), and for
    Gmail only removes dots from the local part and maps ``googlemail.com`` to ``gmail.com``.
    Non-ASCII domains are IDNA-encoded. Placeholders (``none@...``, ``...@test.com``,
    ``x@y.invalid``) and malformed addresses give ``None``.
    """
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :].strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text.count("@") != 1:
        return None
    local, raw_domain = text.split("@")
    domain = _canonical_domain(raw_domain)
    if domain is None:
        return None
    local = local.split("+", 1)[0]
    domain = _GMAIL_DOMAINS.get(domain, domain)
    if domain == "gmail.com":
        local = local.replace(".", "")
    # Checked on the final form, so that what we return is always accepted again (idempotence)
    # and a placeholder cannot sneak through behind dots or a tag ("t.e.s.t+1@gmail.com").
    if not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    if local in _JUNK_LOCALS or domain in _JUNK_DOMAINS:
        return None
    if domain.rsplit(".", 1)[-1] in _JUNK_TLDS or local == domain.split(".", 1)[0]:
        # ``test@test.com``-style: the same word twice is a placeholder, not a mailbox.
        return None
    return f"{local}@{domain}"


def _canonical_domain(domain: str) -> str | None:
    domain = domain.strip().rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    return domain if _DOMAIN.fullmatch(domain) else None


# --- phone numbers ---------------------------------------------------------------------------

# Common misspellings of regions in provider data; phonenumbers wants ISO 3166-1 alpha-2.
_REGION_ALIASES = {"UK": "GB", "EL": "GR"}
_JUNK_PHONES = frozenset({"none", "null", "unknown", "n/a", "na", "-", "0", "tbd"})


def normalise_phone(value: str, default_region: str | None = None) -> str | None:
    """A phone number in E.164 (``+6421...``), or ``None`` when it is not a valid number.

    ``default_region`` (ISO 3166-1 alpha-2, e.g. ``"NZ"``) is how a number written nationally
    (``021 123 4567``) is read; the caller takes it from the account's attributed country. Without
    it only international forms are accepted: ``+64 21 ...`` and ``0064 21 ...`` (``00`` is the
    international prefix of most of the world, read as one with or without a region). A number
    must pass ``phonenumbers.is_valid_number`` (right length and prefix for its country): a
    possible-but-invalid number is more likely a typo or a placeholder than an identifier.
    """
    text = value.strip()
    if not text or text.lower() in _JUNK_PHONES:
        return None
    region = default_region.strip().upper() if default_region else None
    region = _REGION_ALIASES.get(region, region) if region else None
    if text.startswith("00"):
        # International whatever the region: the national dialling rules of a few countries
        # (Brazil's carrier codes) would otherwise read "0055..." as a domestic number.
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- device ids ------------------------------------------------------------------------------

# Separators that differ between how one id is written: UUIDs with and without hyphens and braces,
# MAC addresses with colons or hyphens, IMEIs grouped with spaces.
_DEVICE_SEPARATORS = re.compile(r"[\s\-:_{}]+")
_DEVICE = re.compile(r"[0-9a-z]{6,128}")
# Ids that many unrelated devices report: placeholders, and the Android ID shared by a whole
# generation of devices (a known Android 2.2 bug). Linking on them would merge strangers.
_JUNK_DEVICES = frozenset(
    {
        "unknown",
        "undefined",
        "none",
        "null",
        "nil",
        "default",
        "9774d56d682e549c",
        # The MAC address Android 6+ and iOS 7+ report to apps instead of the real one.
        "020000000000",
        "0123456789abcdef",
        "123456789012345",
        "123456789abcdef",
        "012345678912345",
        "deadbeef",
        "deadbeefdeadbeef",
    }
)


def normalise_device_id(value: str) -> str | None:
    """The canonical form of a device id (UUID/IDFA, Android id, IMEI, MAC...), or ``None``.

    Lowercases and removes separators (``-:_``, whitespace, braces) so ``{AB-CD...}``,
    ``abcd...`` and ``AB:CD...`` are one id. Refuses ids shorter than 6 characters, ids of one
    repeated character (``0000...``, ``ffff...``: zeroed advertising ids, blank IMEIs) and known
    placeholders.
    """
    text = _DEVICE_SEPARATORS.sub("", value.strip().lower())
    if not _DEVICE.fullmatch(text):
        return None
    if text in _JUNK_DEVICES or len(set(text)) <= 1:
        return None
    return text


# --- IP addresses ----------------------------------------------------------------------------

IpScope = Literal["public", "private", "cgnat", "loopback", "link-local", "multicast", "reserved"]

# Checked in order; the first range holding the address names its scope. The same special-purpose
# ranges (and names) as ``kaitiaki.geo``'s scope check, so an address that can never attribute a
# country can never link accounts either; documentation ranges are reserved in both, so simulated
# operations draw their "public" addresses from real public space.
_SCOPE_TABLE: tuple[tuple[IpScope, str], ...] = (
    ("private", "10.0.0.0/8"),
    ("private", "172.16.0.0/12"),
    ("private", "192.168.0.0/16"),
    ("cgnat", "100.64.0.0/10"),
    ("loopback", "127.0.0.0/8"),
    ("link-local", "169.254.0.0/16"),
    ("reserved", "0.0.0.0/8"),
    ("reserved", "192.0.0.0/24"),  # IETF protocol assignments
    ("reserved", "192.0.2.0/24"),  # documentation (TEST-NET-1)
    ("reserved", "198.18.0.0/15"),  # benchmarking
    ("reserved", "198.51.100.0/24"),  # documentation (TEST-NET-2)
    ("reserved", "203.0.113.0/24"),  # documentation (TEST-NET-3)
    ("multicast", "224.0.0.0/4"),
    ("reserved", "240.0.0.0/4"),
    ("loopback", "::1/128"),
    ("reserved", "::/128"),
    ("private", "fc00::/7"),
    ("link-local", "fe80::/10"),
    ("multicast", "ff00::/8"),
    ("reserved", "2001:db8::/32"),  # documentation
    ("reserved", "3fff::/20"),  # documentation (RFC 9637)
)
# As integer ranges: ``address in network`` costs microseconds, and millions of addresses pass here.
_SCOPES = tuple(
    (net.version, int(net.network_address), int(net.broadcast_address), scope)
    for scope, net in ((scope, ipaddress.ip_network(text)) for scope, text in _SCOPE_TABLE)
)


def classify_ip(value: str) -> tuple[str, IpScope] | None:
    """``(normalise_ip(value), ip_scope(...))`` with one parse, or ``None`` if not an address."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    number, version = int(address), address.version
    for net_version, first, last, scope in _SCOPES:
        if net_version == version and first <= number <= last:
            return str(address), scope
    return str(address), "public"


def normalise_ip(value: str) -> str | None:
    """The canonical text of an IPv4 or IPv6 address, or ``None`` if it is not one.

    IPv6 is compressed and lowercased; an IPv4-mapped IPv6 address (``::ffff:8.8.8.8``, how
    dual-stack servers log IPv4 clients) becomes the IPv4 address, so one client is one value.
    """
    parsed = classify_ip(value)
    return parsed[0] if parsed else None


def ip_scope(ip: str) -> IpScope:
    """Whether an address is public, or what else it is; ``ValueError`` if it is not one."""
    parsed = classify_ip(ip)
    if parsed is None:
        raise ValueError(f"not an IP address: {ip!r}")
    return parsed[1]

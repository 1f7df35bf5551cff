"""Scope classification: what is marked (never attributed) and what is public."""

from __future__ import annotations

import ipaddress
import random

import pytest

from kaitiaki.geo import open_geolocator, parse_ip, scope_of


@pytest.mark.parametrize(
    ("ip", "scope"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.254", "cgnat"),
        ("100.128.0.1", "public"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.20", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "reserved"),
        ("192.0.2.7", "reserved"),  # TEST-NET-1
        ("198.51.100.7", "reserved"),  # TEST-NET-2
        ("203.0.113.7", "reserved"),  # TEST-NET-3
        ("2001:db8::1", "reserved"),  # IPv6 documentation
        ("198.18.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::", "reserved"),
        ("fd12:3456:789a::1", "private"),  # unique local address
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("8.8.8.8", "public"),
        ("2001:4860:4860::8888", "public"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: the IPv4 inside decides
        ("not-an-ip", "invalid"),
        ("", "invalid"),
        ("999.1.2.3", "invalid"),
        ("1.2.3", "invalid"),
        ("01.2.3.4", "invalid"),
        ("1.2.3.4:80", "invalid"),
        ("2001:db8::zz", "invalid"),
    ],
)
def test_scope(ip: str, scope: str) -> None:
    info = open_geolocator().locate(ip)
    assert info.scope == scope
    if scope != "public":
        assert info.country is None and not info.hosting


def test_invalid_input_never_raises() -> None:
    geo = open_geolocator()
    odd = ["\x00", " ", "[", "[]", "::ffff:", "1.2.3.4\n", "%", "fe80::%", "a" * 500]
    infos = geo.locate_many(odd)
    assert [i.scope for i in infos][-1] == "invalid"
    assert infos[5].ip == "1.2.3.4"  # surrounding whitespace is tolerated


def test_normalised_text() -> None:
    assert parse_ip(" 2001:DB8:0::1 ") == (
        int(ipaddress.ip_address("2001:db8::1")),
        6,
        "2001:db8::1",
    )
    assert parse_ip("[::ffff:8.8.8.8]") == (0x08080808, 4, "8.8.8.8")


def test_agrees_with_stdlib_for_ipv4() -> None:
    """Outside multicast (which ``is_global`` calls global), public means ``is_global``."""
    rng = random.Random(7)
    for _ in range(20_000):
        value = rng.getrandbits(32)
        address = ipaddress.IPv4Address(value)
        if address.is_multicast or address in ipaddress.ip_network("192.0.0.0/24"):
            continue
        assert (scope_of(value, 4) == "public") == address.is_global, address


@pytest.mark.parametrize(
    ("network", "check"),
    [
        ("fc00::/7", "is_private"),
        ("fe80::/10", "is_link_local"),
        ("ff00::/8", "is_multicast"),
        ("::1/128", "is_loopback"),
        ("10.0.0.0/8", "is_private"),
        ("169.254.0.0/16", "is_link_local"),
        ("127.0.0.0/8", "is_loopback"),
    ],
)
def test_special_ranges_match_stdlib(network: str, check: str) -> None:
    net = ipaddress.ip_network(network)
    for address in (net.network_address, net.broadcast_address):
        assert getattr(address, check)
        assert scope_of(int(address), net.version) != "public"

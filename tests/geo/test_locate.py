"""Country, network and AS lookups: packaged data, user .mmdb files, hosting/VPN flags."""

from __future__ import annotations

import ipaddress
import random
import time
from pathlib import Path

import pytest
from geo_samples import asn_db, country_db

from kaitiaki.geo import (
    HostingListError,
    MmdbError,
    MmdbGeolocator,
    PackagedGeolocator,
    country_networks,
    hosting_networks,
    open_geolocator,
)


@pytest.fixture(scope="module")
def geo() -> PackagedGeolocator:
    return PackagedGeolocator()


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),  # Google Public DNS
        ("2001:4860:4860::8888", "US"),
        ("81.2.69.142", "GB"),  # MaxMind's own documented test address
        ("::ffff:8.8.4.4", "US"),
    ],
)
def test_well_known_addresses(geo: PackagedGeolocator, ip: str, country: str) -> None:
    info = geo.locate(ip)
    assert info.scope == "public"
    assert info.country == country
    assert info.network is not None
    assert ipaddress.ip_address(ip.removeprefix("::ffff:")) in ipaddress.ip_network(info.network)


def test_ipv6_and_as_names(geo: PackagedGeolocator) -> None:
    info = geo.locate("2001:4860:4860::8844")
    assert info.version == 6 and info.org == "GOOGLE" and not info.hosting


def test_hosting_by_shipped_asn(geo: PackagedGeolocator) -> None:
    info = geo.locate("1.1.1.1")  # Cloudflare (WARP is a VPN)
    assert info.hosting and info.org == "CLOUDFLARENET" and info.asn == 13335
    nets = hosting_networks(4)
    assert len(nets) > 1000
    network, org = random.Random(1).choice(nets)
    probe = geo.locate(str(network.network_address + network.num_addresses // 2))
    assert probe.hosting, (network, org, probe)


def test_user_hosting_list(tmp_path: Path) -> None:
    listing = tmp_path / "hosting.txt"
    listing.write_text("# our VPN exits\n8.8.4.0/24\norg:GOOGLE  # whole org\nAS64500\n")
    geo = open_geolocator(hosting_list=listing)
    assert geo.locate("8.8.4.4").hosting
    assert geo.locate("2001:4860:4860::8888").hosting  # by org name
    assert 64500 in geo.hosting.asns
    assert not geo.locate("81.2.69.142").hosting
    listing.write_text("8.8.4.0/24\nnot a network\n")
    with pytest.raises(HostingListError, match=r"hosting.txt:2: 'not a network'"):
        open_geolocator(hosting_list=listing)


@pytest.mark.parametrize("country", ["NZ", "DE", "BR", "JP", "ZA"])
@pytest.mark.parametrize("version", [4, 6])
def test_country_networks_locate_back(geo: PackagedGeolocator, country: str, version: int) -> None:
    networks = country_networks(country, version)
    assert networks, f"no IPv{version} networks for {country}"
    rng = random.Random(f"{country}{version}")
    samples = []
    for network in rng.sample(networks, min(40, len(networks))):
        offset = rng.randrange(network.num_addresses)
        samples.append(str(network.network_address + offset))
    infos = geo.locate_many(samples)
    assert all(i.country == country for i in infos), [i for i in infos if i.country != country]


def test_locate_many_keeps_order_and_is_fast(geo: PackagedGeolocator) -> None:
    rng = random.Random(3)
    ips = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1"
        for _ in range(50_000)
    ]
    ips += ["bogus", "10.0.0.1", ips[0]]
    start = time.perf_counter()
    infos = geo.locate_many(ips)
    elapsed = time.perf_counter() - start
    assert [i.ip for i in infos[:-3]] == ips[:-3]
    assert infos[-3].scope == "invalid" and infos[-2].scope == "private"
    assert infos[-1] is infos[0]
    assert elapsed < 5, f"{elapsed:.1f}s for 50,000 addresses"  # ~10 s per million here


def test_mmdb_backend(tmp_path: Path) -> None:
    geo = open_geolocator(mmdb=country_db(tmp_path / "c.mmdb"))
    assert isinstance(geo, MmdbGeolocator)
    info = geo.locate("8.8.8.8")
    assert (info.country, info.network, info.asn, info.hosting) == ("NZ", "8.8.8.0/24", None, False)
    assert geo.locate("9.9.9.9").country == "CH"  # registered_country fallback
    assert geo.locate("2001:4860::1").country == "DE"
    assert geo.locate("81.2.69.142").country == "GB"
    assert geo.locate("1.2.3.4").country is None  # not in the file
    assert geo.locate("10.0.0.1").scope == "private"


def test_mmdb_with_asn(tmp_path: Path) -> None:
    geo = open_geolocator(
        mmdb=country_db(tmp_path / "c.mmdb"), asn_mmdb=asn_db(tmp_path / "a.mmdb")
    )
    info = geo.locate("8.8.8.8")
    assert (info.asn, info.org, info.hosting) == (9009, "M247 Europe SRL", True)
    assert not geo.locate("9.9.9.9").hosting
    # An ASN file alone adds numbers to the packaged country data.
    packaged = open_geolocator(asn_mmdb=asn_db(tmp_path / "b.mmdb"))
    info = packaged.locate("9.9.9.9")
    assert (info.asn, info.org) == (19281, "QUAD9-AS-1") and info.country is not None


def test_user_asn_list_with_mmdb(tmp_path: Path) -> None:
    listing = tmp_path / "hosting.txt"
    listing.write_text("AS19281\n")
    geo = open_geolocator(
        mmdb=country_db(tmp_path / "c.mmdb"),
        asn_mmdb=asn_db(tmp_path / "a.mmdb"),
        hosting_list=listing,
    )
    assert geo.locate("9.9.9.9").hosting


def test_bad_mmdb(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(MmdbError, match="not a readable MaxMind DB"):
        open_geolocator(mmdb=bad)

"""MaxMind's own test databases (maxminddb's source package, tests/data/): stated answers,
types checked before use, and every corrupt database a clear error, never a traceback.

The answers come from MaxMind's ``tests/data/source-data/*.json``, the records the test
databases were written from; the corrupt files are ``tests/data/bad-data/``, which MaxMind's
README describes as databases that "have been known to cause problems such as segfaults or
unhandled errors" and on which readers "should return an appropriate error".
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import maxminddb
import pytest
import typer
from typer.testing import CliRunner, Result

from kaitiaki.geo import MmdbError, PackagedGeolocator, open_geolocator, scope_of
from kaitiaki.geo.mmdb import lookup, roles_of
from nothing_skips import external

DATA = "tests/data"
BAD = [
    f"libmaxminddb/libmaxminddb-{name}.mmdb"
    for name in (
        "corrupt-search-tree",
        "deep-array-nesting",
        "deep-nesting",
        "empty-array-last-in-metadata",
        "empty-map-last-in-metadata",
        "metadata-marker-only",
        "offset-integer-overflow",
        "oversized-array",
        "oversized-map",
        "separator-record-max-left",
        "separator-record-min-left",
        "separator-record-min-right",
        "uint64-max-epoch",
    )
] + [
    *(
        f"maxminddb-golang/{name}.mmdb"
        for name in (
            "cyclic-data-structure",
            "invalid-bytes-length",
            "invalid-data-record-offset",
            "invalid-map-key-length",
            "invalid-string-length",
            "metadata-is-an-uint128",
            "unexpected-bytes",
        )
    ),
    "maxminddb-python/bad-unicode-in-map-key.mmdb",
]
# Public addresses of several shapes: IPv4, IPv6, and addresses in MaxMind's test networks.
PROBES = ("1.1.1.1", "81.2.69.160", "2001:218::1", "2001:220::1", "216.160.83.56")


def db_file(name: str) -> Path:
    return external("maxminddb", f"{DATA}/test-data/{name}")


def stated(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(first address, record) of each network in MaxMind's source data for ``name``."""
    path = external("maxminddb", f"{DATA}/source-data/{name}.json")
    out = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        for cidr, record in item.items():
            net = ipaddress.ip_network(cidr, strict=False)
            address = net.network_address
            if isinstance(address, ipaddress.IPv6Address) and int(address) >> 32 == 0:
                address = ipaddress.IPv4Address(int(address))  # "::1.2.3.0/120" is IPv4
            out.append((str(address), record))
    return out


def public(ip: str) -> bool:
    parsed = ipaddress.ip_address(ip)
    return scope_of(int(parsed), parsed.version) == "public"


@pytest.mark.parametrize(
    "name", ["GeoIP2-City-Test", "GeoLite2-Country-Test", "GeoIP2-Country-Test"]
)
def test_countries_are_the_stated_ones(name: str) -> None:
    geo = open_geolocator(mmdb=db_file(f"{name}.mmdb"))
    checked = 0
    for ip, record in stated(name):
        want = (record.get("country") or record.get("registered_country") or {}).get("iso_code")
        if want is None or not public(ip):
            continue
        assert geo.locate(ip).country == want, ip
        checked += 1
    assert checked >= 20  # the source data states dozens; a handful would test little


def test_a_city_address_and_its_stated_country_and_asn() -> None:
    geo = open_geolocator(
        mmdb=db_file("GeoIP2-City-Test.mmdb"), asn_mmdb=db_file("GeoLite2-ASN-Test.mmdb")
    )
    # GeoIP2-City-Test.json: 81.2.69.160/27 is London, GB; GeoLite2-ASN-Test.json:
    # 1.128.0.0/11 is AS1221 Telstra Pty Ltd.
    assert geo.locate("81.2.69.160").country == "GB"
    assert geo.locate("81.2.69.160").network == "81.2.69.160/27"
    info = geo.locate("1.128.0.1")
    assert (info.asn, info.org) == (1221, "Telstra Pty Ltd")


def test_asn_numbers_are_the_stated_ones() -> None:
    geo = PackagedGeolocator(asn_path=db_file("GeoLite2-ASN-Test.mmdb"))
    checked = 0
    for ip, record in stated("GeoLite2-ASN-Test"):
        if not public(ip):
            continue
        info = geo.locate(ip)
        assert (info.asn, info.org) == (
            record["autonomous_system_number"],
            record.get("autonomous_system_organization"),
        ), ip
        checked += 1
    assert checked >= 20


def test_enterprise_database_serves_both_with_the_as_under_traits() -> None:
    enterprise = db_file("GeoIP2-Enterprise-Test.mmdb")
    geo = open_geolocator(mmdb=enterprise, asn_mmdb=enterprise)
    # GeoIP2-Enterprise-Test.json: ::67.43.156.0/120 is BT, traits AS 35908.
    info = geo.locate("67.43.156.1")
    assert (info.country, info.asn) == ("BT", 35908)


@pytest.mark.parametrize(
    ("database_type", "roles"),
    [
        ("GeoIP2-City", {"country"}),
        ("GeoLite2-City", {"country"}),
        ("GeoLite2-Country", {"country"}),
        ("GeoIP2-City-Shield", {"country"}),
        ("GeoIP2-Enterprise", {"country", "asn"}),
        ("GeoIP2-Precision-Enterprise", {"country", "asn"}),
        ("GeoLite2-ASN", {"asn"}),
        ("GeoIP2-ISP", {"asn"}),
        ("DBIP-Country-Lite", {"country"}),
        ("DBIP-City-Lite", {"country"}),
        ("DBIP-ASN-Lite", {"asn"}),
        ("ipinfo country_asn.mmdb", {"country", "asn"}),
        ("GeoIP2-Anonymous-IP", set()),
        ("GeoIP2-Connection-Type", set()),
        ("GeoIP2-Domain", set()),
        ("Test", set()),
    ],
)
def test_roles_of_database_types(database_type: str, roles: set[str]) -> None:
    assert roles_of(database_type) == roles


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"mmdb": "GeoLite2-ASN-Test.mmdb"},
            r"type 'GeoLite2-ASN', which does not hold what --mmdb needs: a country database"
            r".*; it holds AS numbers: give it as --asn-mmdb",
        ),
        (
            {"mmdb": "GeoIP2-City-Test.mmdb", "asn_mmdb": "GeoIP2-City-Test.mmdb"},
            r"type 'GeoIP2-City', which does not hold what --asn-mmdb needs: an AS database"
            r".*; it holds countries: give it as --mmdb",
        ),
        ({"asn_mmdb": "GeoLite2-Country-Test.mmdb"}, r"type 'GeoLite2-Country'.*--asn-mmdb needs"),
        ({"mmdb": "GeoIP2-Anonymous-IP-Test.mmdb"}, r"type 'GeoIP2-Anonymous-IP'.*--mmdb needs"),
    ],
)
def test_a_database_of_the_wrong_type_is_refused(kwargs: dict[str, str], message: str) -> None:
    paths = {key: db_file(name) for key, name in kwargs.items()}
    with pytest.raises(MmdbError, match=message):
        open_geolocator(**paths)  # type: ignore[arg-type]


@pytest.mark.parametrize("member", BAD)
def test_lookups_in_corrupt_databases_raise_mmdb_error_only(member: str) -> None:
    """Below the type check: what the reader does with each corrupt tree, wrapped."""
    path = external("maxminddb", f"{DATA}/bad-data/{member}")
    try:
        reader = maxminddb.open_database(str(path))
    except maxminddb.InvalidDatabaseError:
        return  # refused on open: covered by the CLI test below
    with reader:
        for ip in PROBES:
            if ":" in ip and reader.metadata().ip_version == 4:
                continue
            try:
                lookup(reader, path, ip)
            except MmdbError as exc:
                assert str(exc).startswith(f"{path}: corrupt MaxMind DB: looking up {ip} failed")


def test_corrupt_record_in_a_city_database_is_a_clear_error() -> None:
    # maxminddb's reader_test.py: looking up 2001:220:: in this file raises InvalidDatabaseError
    # ("bad data (unknown data type or corrupt data)"). Its type is GeoIP2-City, so it passes
    # the type check and fails in the lookup.
    geo = open_geolocator(mmdb=db_file("GeoIP2-City-Test-Broken-Double-Format.mmdb"))
    with pytest.raises(MmdbError, match=r"corrupt MaxMind DB: looking up 2001:220:: failed"):
        geo.locate("2001:220::")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from kaitiaki.cli import app as root

    root._register()
    return root.app


def locate(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, ["geo", "locate", *args, *PROBES])


def assert_clear_error(result: Result, path: Path | str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an escaped exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"error: {path}: ")
    assert result.stdout == ""  # no partial answer
    return result.stderr


@pytest.mark.parametrize("member", BAD)
@pytest.mark.parametrize("option", ["--mmdb", "--asn-mmdb"])
def test_every_bad_database_is_a_clear_cli_error(
    app: typer.Typer, member: str, option: str
) -> None:
    path = external("maxminddb", f"{DATA}/bad-data/{member}")
    stderr = assert_clear_error(locate(app, option, str(path)), path)
    assert "not a readable MaxMind DB" in stderr or "type 'Test', which does not hold" in stderr


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("GeoIP2-City-Test-Invalid-Node-Count.mmdb", "not a readable MaxMind DB"),
        ("MaxMind-DB-test-metadata-payload-limit.mmdb", "not a readable MaxMind DB"),
        (
            "GeoIP2-City-Test-Broken-Double-Format.mmdb",
            "corrupt MaxMind DB: looking up 81.2.69.160 failed",
        ),
        ("GeoLite2-ASN-Test.mmdb", "type 'GeoLite2-ASN'"),
    ],
)
def test_test_data_failures_through_the_cli(app: typer.Typer, name: str, reason: str) -> None:
    path = db_file(name)
    assert reason in assert_clear_error(locate(app, "--mmdb", str(path)), path)


def test_missing_path_and_folder_are_clear_cli_errors(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "GeoLite2-City.mmdb"
    assert "no such file" in assert_clear_error(locate(app, "--mmdb", str(missing)), missing)
    stderr = assert_clear_error(locate(app, "--asn-mmdb", str(tmp_path)), tmp_path)
    assert "not a file (given as the asn database, --asn-mmdb)" in stderr


def test_good_databases_through_the_cli(app: typer.Typer) -> None:
    city, asn = db_file("GeoIP2-City-Test.mmdb"), db_file("GeoLite2-ASN-Test.mmdb")
    result = CliRunner().invoke(
        app, ["geo", "locate", "--mmdb", str(city), "--asn-mmdb", str(asn), "81.2.69.160"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["country"] == "GB"

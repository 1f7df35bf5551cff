"""IP canonicalisation, accounts and catalog files, the column-mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest
from records_samples import events, rejects, write_csv

from kaitiaki.records import (
    ColumnMapping,
    MappingError,
    canonical_ip,
    ingest_records,
    load_mapping,
    parse_mapping,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2001:DB8::0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("192.0.2.1", "192.0.2.1"),
        ("::1", "::1"),
        ("010.0.0.1", None),  # leading zero: octal to some parsers, decimal to others
        ("256.0.0.1", None),
        ("fe80::1%eth0", None),
        ("1.2.3.4:80", None),
        ("[2001:db8::1]", None),
        ("example.org", None),
    ],
)
def test_canonical_ip(given: str, expected: str | None) -> None:
    assert canonical_ip(given) == expected


def test_ip_spellings_of_one_address_become_one_in_the_events(tmp_path: Path) -> None:
    spellings = [
        "2001:DB8::0:1",
        "2001:db8:0:0:0:0:0:1",
        " 2001:db8::1 ",
        "::ffff:10.0.0.1",
        "10.0.0.1",
    ]
    rows = [
        ["2024-01-01T00:00:00Z", f"a{i}", "view", "o", ip, ""] for i, ip in enumerate(spellings)
    ]
    ingest_records([write_csv(tmp_path / "ips.csv", rows)], tmp_path / "ws")
    assert [e["ip"] for e in events(tmp_path / "ws")] == [
        "2001:db8::1",
        "2001:db8::1",
        "2001:db8::1",
        "10.0.0.1",
        "10.0.0.1",
    ]


def test_accounts_keep_every_identifier_row(tmp_path: Path) -> None:
    mapping = parse_mapping('[accounts]\naccount_id = "uid"\nemail = "mail"')
    source = write_csv(
        tmp_path / "accounts.csv",
        [
            ["u1", "alice", "Alice@Example.org", "+64 21 000 000", ""],
            ["u1", "alice2", "", "", "dev-9"],  # the same account, more identifiers
            ["", "nobody", "", "", ""],
            ["u1", "alice", "Alice@Example.org", "+64 21 000 000", ""],  # exact repeat
        ],
        header=["uid", "username", "mail", "phone", "device_id"],
    )
    result = ingest_records([source], tmp_path / "ws", kind="accounts", mapping=mapping)
    assert rejects(result) == [("accounts.csv", 3, "missing account_id")]
    assert (result.written, result.duplicates) == (2, 1)
    rows = [
        (r["account_id"], r["username"], r["email"], r["device_id"])
        for r in events(tmp_path / "ws", "accounts")
    ]
    assert rows == [("u1", "alice", "Alice@Example.org", None), ("u1", "alice2", None, "dev-9")]
    assert events(tmp_path / "ws", "records") == []


def test_catalog_hashes_are_checked_and_lowercased(tmp_path: Path) -> None:
    md5 = "D41D8CD98F00B204E9800998ECF8427E"
    sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    source = write_csv(
        tmp_path / "catalog.csv",
        [
            ["o1", md5, sha1, "", ""],
            ["o2", md5[:-1], "", "", ""],
            ["o3", "", "", "", "f" * 63 + "g"],
            ["o4", "", "", "", ""],
            ["", md5, "", "", ""],
        ],
        header=["object_id", "md5", "sha1", "sha256", "pdq"],
    )
    result = ingest_records([source], tmp_path / "ws", kind="catalog")
    assert rejects(result) == [
        ("catalog.csv", 2, "md5 is not 32 hex digits"),
        ("catalog.csv", 3, "pdq is not 64 hex digits"),
        ("catalog.csv", 4, "no hash (md5, sha1, sha256 or pdq)"),
        ("catalog.csv", 5, "missing object_id"),
    ]
    [row] = events(tmp_path / "ws", "catalog")
    assert (row["object_id"], row["md5"], row["sha1"]) == ("o1", md5.lower(), sha1)


def test_mapping_file_reads_every_option(tmp_path: Path) -> None:
    path = tmp_path / "provider.toml"
    path.write_text(
        '[records]\ntimestamp = "t"\ndelimiter = ";"\ntimestamp_format = "epoch_millis"\n'
        '[records.action_values]\nshare = ["LINK", "link_created"]\n'
        '[catalog]\nobject_id = "blob"\n',
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    records = mapping.records
    assert (records.source("timestamp"), records.source("ip")) == ("t", "ip")
    assert (records.delimiter, records.timestamp_format) == (";", "epoch_millis")
    assert records.action_values["link"] == "share"
    assert records.action_values["share-link"] == "share"  # the defaults stay
    assert mapping.catalog.source("object_id") == "blob"
    assert records.fingerprint() != ColumnMapping.default().records.fingerprint()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[record]\n", "unknown section"),
        ('[records]\ntimestmp = "t"\n', "unknown field 'timestmp'"),
        ("[records]\ntimestamp = 3\n", "must name a column"),
        ('[records]\ntimestamp_format = "unix"\n', "timestamp_format 'unix'"),
        ('[records]\ndelimiter = ";;"\n', "delimiter must be one character"),
        ('[records.action_values]\ndelete = "DEL"\n', "unknown action 'delete'"),
        ('[records.action_values]\nview = "x"\nshare = "X"\n', "given for both view and share"),
        ("[records\n", "not valid TOML"),
    ],
)
def test_mapping_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(text, source="m.toml")


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "absent.toml")


def test_semicolon_csv_through_the_mapping(tmp_path: Path) -> None:
    source = tmp_path / "semi.csv"
    source.write_text(
        "timestamp;account_id;action;object_id;ip;port\n2024-01-01T00:00:00Z;a;view;o;192.0.2.1;\n",
        encoding="utf-8",
    )
    mapping = parse_mapping('[records]\ndelimiter = ";"')
    assert ingest_records([source], tmp_path / "ws", mapping=mapping).written == 1

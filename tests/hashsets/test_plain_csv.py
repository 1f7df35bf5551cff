"""Plain hash lists and CSV with a column map."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kaitiaki.hashsets.csvfile import parse_columns, read_csv
from kaitiaki.hashsets.entry import Entry, HashSetError, HashSetFormatError, Hex64UndecidedError
from kaitiaki.hashsets.plain import export_plain, read_plain

MD5 = "D41D8CD98F00B204E9800998ECF8427E"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
PDQ = "f" * 64
P = Path("set.txt")


def plain(text: str, **kw: str) -> list[Entry]:
    return [p.entry for p in read_plain(P, io.StringIO(text), **kw)]  # type: ignore[arg-type]


def test_plain_mixed_kinds_comments_and_blanks() -> None:
    text = f"# a comment\n\n{MD5}\r\n  {SHA1}  \nsha256:{SHA256}\npdq:{PDQ}\n"
    assert plain(text) == [
        Entry(md5=MD5.lower()),
        Entry(sha1=SHA1),
        Entry(sha256=SHA256),
        Entry(pdq=PDQ),
    ]


def test_plain_bare_64_hex_as_pdq() -> None:
    assert plain(f"{PDQ}\nsha256:{SHA256}\n", hex64="pdq") == [
        Entry(pdq=PDQ),
        Entry(sha256=SHA256),
    ]
    assert plain(f"{SHA256}\nPDQ:{PDQ}\n", hex64="sha256") == [
        Entry(sha256=SHA256),
        Entry(pdq=PDQ),
    ]


def test_plain_bare_64_hex_undecided_is_refused_naming_both_readings() -> None:
    with pytest.raises(Hex64UndecidedError) as caught:
        plain(f"{MD5}\n# PDQ or SHA-256?\n{PDQ}\n")
    assert str(caught.value) == (
        "set.txt: line 3: 64 hex digits can be a SHA-256 or a PDQ hash; say which with "
        "--hex64 sha256 or --hex64 pdq (or prefix the value sha256:/pdq:)"
    )


@pytest.mark.parametrize("prefix", ["pdq:", "PDQ:", "Pdq: "])
def test_plain_prefixes_settle_64_hex_in_any_case(prefix: str) -> None:
    assert plain(f"{prefix}{PDQ}\nSHA-256:{SHA256}\n") == [Entry(pdq=PDQ), Entry(sha256=SHA256)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("not-a-hash", "not a hex digest"),
        ("abc", "3 hex digits is no known digest"),
        (f"{MD5} file.jpg", "not a hex digest"),
        (f"crc32:{MD5}", "unknown hash kind"),
        (f"sha1:{MD5}", "not 40 hex digits"),
    ],
)
def test_plain_bad_line_names_its_number(bad: str, reason: str) -> None:
    with pytest.raises(HashSetFormatError, match=reason) as caught:
        plain(f"{MD5}\n# ok\n\n{bad}\n{SHA1}\n")
    assert caught.value.where == "line 4"


def test_plain_export_prefixes_the_64_hex_kinds_and_reads_back() -> None:
    out = io.StringIO()
    entries = [
        Entry(md5="ab" * 16, sha1="cd" * 20),
        Entry(pdq=PDQ),
        Entry(sha256=SHA256),
        Entry(photodna="QUJD"),
    ]
    count = export_plain(entries, out)
    assert count == 3
    assert out.getvalue() == f"{'ab' * 16}\npdq:{PDQ}\nsha256:{SHA256}\n"
    assert plain(out.getvalue()) == [Entry(md5="ab" * 16), Entry(pdq=PDQ), Entry(sha256=SHA256)]


def csv_entries(text: str, columns: str | None = None, **kw: str) -> list[Entry]:
    mapped = parse_columns(columns) if columns else None
    read = read_csv(Path("set.csv"), io.StringIO(text), mapped, **kw)  # type: ignore[arg-type]
    return [p.entry for p in read]


def test_csv_with_column_map() -> None:
    text = f"Id;Hash;Cat;Vic\n1;{MD5};1;yes\n2;sha256:{SHA256};0;False\n\n3;{SHA1};;\n"
    got = csv_entries(text, "media_id=Id,hash=Hash,category=Cat,victim_identified=Vic")
    assert got == [
        Entry(md5=MD5.lower(), media_id="1", category="1", victim_identified=True),
        Entry(sha256=SHA256, media_id="2", category="0", victim_identified=False),
        Entry(sha1=SHA1, media_id="3"),
    ]


def test_csv_headers_recognised_without_map() -> None:
    text = f'MD5,SHA-1,Series Name,Category\n{MD5},{SHA1},"A, B",2\n'
    assert csv_entries(text) == [
        Entry(md5=MD5.lower(), sha1=SHA1, series="A, B", category="2"),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("3,zz,1", "MD5 'zz' is not 32 hex digits"),
        ("3,,1", "no hash in this row"),
        (f"3,{MD5}", "2 fields where the header has 3"),
        (f"3,{MD5},1,extra", "4 fields where the header has 3"),
    ],
)
def test_csv_bad_row_names_row_and_line(row: str, reason: str) -> None:
    text = f"id,md5,cat\n1,{MD5},1\n\n2,{MD5},2\n{row}\n"
    with pytest.raises(HashSetFormatError, match=reason) as caught:
        csv_entries(text, "media_id=id,md5=md5,category=cat")
    assert caught.value.where == "row 4 (line 5)"


def test_csv_map_errors() -> None:
    with pytest.raises(HashSetError, match="unknown field 'colour'"):
        parse_columns("colour=Hash")
    with pytest.raises(HashSetError, match="not FIELD=HEADER"):
        parse_columns("md5")
    with pytest.raises(HashSetFormatError, match="no column 'Digest'"):
        csv_entries("Hash\nab\n", "md5=Digest")
    with pytest.raises(HashSetFormatError, match="no hash column"):
        csv_entries("Name,Size\na,1\n")


def test_csv_bare_64_hex_in_a_hash_column_is_refused_naming_both_readings() -> None:
    text = f"MediaID,Hash\n1,{MD5}\n2,{PDQ}\n"
    with pytest.raises(Hex64UndecidedError) as caught:
        csv_entries(text)
    assert str(caught.value) == (
        "set.csv: row 2 (line 3): 64 hex digits can be a SHA-256 or a PDQ hash; say which with "
        "--hex64 sha256 or --hex64 pdq (or prefix the value sha256:/pdq:, or name the column "
        "sha256 or pdq)"
    )
    assert csv_entries(text, hex64="pdq")[1] == Entry(pdq=PDQ, media_id="2")
    assert csv_entries(f"MediaID,Hash\n2,pdq:{PDQ}\n") == [Entry(pdq=PDQ, media_id="2")]


@pytest.mark.parametrize("header", ["PDQ", "pdq", "Hash,PDQ"])
def test_csv_column_named_pdq_settles_it(header: str) -> None:
    cells = f"{MD5},{PDQ}" if "," in header else PDQ
    got = csv_entries(f"{header}\n{cells}\n")
    assert got[0].pdq == PDQ and got[0].sha256 is None


def test_csv_typed_columns_take_an_agreeing_prefix_only() -> None:
    assert csv_entries(f"sha256,pdq\nSHA256:{SHA256},pdq:{PDQ}\n") == [
        Entry(sha256=SHA256, pdq=PDQ)
    ]
    with pytest.raises(HashSetFormatError, match="pdq column holds a sha256 value"):
        csv_entries(f"pdq\nsha256:{SHA256}\n")


def test_csv_hash_type_column_settles_each_row() -> None:
    text = f"Hash,Hash Type\n{PDQ},PDQ\n{SHA256},SHA-256\n{MD5},\n"
    assert csv_entries(text) == [Entry(pdq=PDQ), Entry(sha256=SHA256), Entry(md5=MD5.lower())]
    mapped = csv_entries(f"Digest,Kind\n{PDQ},pdq\n", "hash=Digest,hash_type=Kind")
    assert mapped == [Entry(pdq=PDQ)]
    with pytest.raises(HashSetFormatError, match="unknown hash_type 'crc'"):
        csv_entries(f"hash,signal_type\n{PDQ},crc\n")
    with pytest.raises(HashSetFormatError, match=r"md5 hash .* is not 32 hex digits"):
        csv_entries(f"hash,hash_type\n{PDQ},md5\n")

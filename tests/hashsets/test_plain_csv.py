"""Plain hash lists and CSV with a column map."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kaitiaki.hashsets.csvfile import parse_columns, read_csv
from kaitiaki.hashsets.entry import Entry, HashSetError, HashSetFormatError
from kaitiaki.hashsets.plain import export_plain, read_plain

MD5 = "D41D8CD98F00B204E9800998ECF8427E"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
PDQ = "f" * 64
P = Path("set.txt")


def plain(text: str, **kw: str) -> list[Entry]:
    return [p.entry for p in read_plain(P, io.StringIO(text), **kw)]  # type: ignore[arg-type]


def test_plain_mixed_kinds_comments_and_blanks() -> None:
    text = f"# a comment\n\n{MD5}\r\n  {SHA1}  \n{SHA256}\npdq:{PDQ}\n"
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


def test_plain_export_prefixes_pdq() -> None:
    out = io.StringIO()
    count = export_plain(
        [Entry(md5="ab" * 16, sha1="cd" * 20), Entry(pdq=PDQ), Entry(photodna="QUJD")], out
    )
    assert count == 2
    assert out.getvalue() == f"{'ab' * 16}\npdq:{PDQ}\n"


def csv_entries(text: str, columns: str | None = None) -> list[Entry]:
    mapped = parse_columns(columns) if columns else None
    return [p.entry for p in read_csv(Path("set.csv"), io.StringIO(text), mapped)]


def test_csv_with_column_map() -> None:
    text = f"Id;Hash;Cat;Vic\n1;{MD5};1;yes\n2;{SHA256};0;False\n\n3;{SHA1};;\n"
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

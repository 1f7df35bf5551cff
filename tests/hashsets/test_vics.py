"""VICS reading and writing, without a store."""

from __future__ import annotations

import io
import json
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashset_samples import V1_CASES, V1_MEDIA, media, photodna, v2_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaitiaki.hashsets.entry import Entry, HashSetFormatError
from kaitiaki.hashsets.vics import (
    entry_to_media,
    export_vics,
    iter_vics_file,
    read_header,
)

WriteVics = Callable[..., Path]


def entries(path: Path) -> list[Entry]:
    return [parsed.entry for parsed in iter_vics_file(path)]


def test_v2_flat_media(write_vics: WriteVics) -> None:
    path = write_vics([media(i) for i in range(1, 4)])
    header = read_header(path)
    assert (header.version, header.region, header.kind) == ("2.0", "US", "Media")
    got = entries(path)
    assert [e.media_id for e in got] == ["1", "2", "3"]


def test_v1_flat_media(write_vics: WriteVics) -> None:
    path = write_vics([media(1), media(2)], context=V1_MEDIA, key="odata.metadata")
    header = read_header(path)
    assert (header.version, header.region, header.kind) == ("1.3", None, "Media")
    assert len(entries(path)) == 2


@pytest.mark.parametrize(
    ("context", "key"), [(V1_CASES, "odata.metadata"), (v2_context("UK", "Cases"), None)]
)
def test_case_exports(write_vics: WriteVics, context: str, key: str | None) -> None:
    kw: dict[str, Any] = {"context": context, "cases": True}
    if key:
        kw["key"] = key
    path = write_vics([media(i) for i in range(5)], **kw)
    assert read_header(path).kind == "Cases"
    assert [e.media_id for e in entries(path)] == ["0", "1", "2", "3", "4"]


def test_utf8_bom(write_vics: WriteVics) -> None:
    path = write_vics([media(1)], bom=True, indent=2)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(entries(path)) == 1


def test_utf16_with_bom(write_vics: WriteVics) -> None:
    path = write_vics([media(1, Series="Série ✓")], encoding="utf-16")
    assert entries(path)[0].series == "Série ✓"


def test_normalisation(write_vics: WriteVics) -> None:
    rnd = random.Random(7)
    pdna = photodna(rnd)
    record = media(
        12,
        Category=0,
        PhotoDNA=pdna,
        VictimIdentified="True",
        OffenderIdentified=False,
        IsDistributed="false",
        IsSuspected="true",
        Series="S-1",
        Tags="t1,t2",
    )
    (entry,) = entries(write_vics([record]))
    assert entry.md5 == record["MD5"].lower() and entry.sha1 == record["SHA1"].lower()
    assert entry.category == "0"  # 0 is a category, not "none"
    assert entry.photodna == pdna  # verbatim
    assert (entry.victim_identified, entry.offender_identified, entry.is_distributed) == (
        True,
        False,
        False,
    )
    assert entry.extra["IsSuspected"] is True and entry.extra["IsPrecategorized"] is False
    assert entry.extra["Tags"] == "t1,t2" and entry.extra["MediaSize"] == record["MediaSize"]
    assert entry.series == "S-1"


def test_null_and_empty_fields(write_vics: WriteVics) -> None:
    (entry,) = entries(
        write_vics([{"MD5": "AB" * 16, "Category": None, "SHA1": "", "VictimIdentified": ""}])
    )
    assert entry.category is None and entry.sha1 is None and entry.victim_identified is None


def test_alternative_hashes_and_odata_annotations(write_vics: WriteVics) -> None:
    record = {
        "odata.id": "Media('x')",
        "MD5": "AB" * 16,
        "Exifs@odata.navigationLinkUrl": "Media('x')/Exifs",
        "AlternativeHashes": [
            {"HashName": "SHA256", "HashValue": "CD" * 32},
            {"HashName": "PDQ", "HashValue": "ef" * 32},
            {"HashName": "PhotoDNA", "HashValue": "QUJD"},
            {"HashName": "Other", "HashValue": "123"},
        ],
    }
    (entry,) = entries(write_vics([record]))
    assert (entry.sha256, entry.pdq, entry.photodna) == ("cd" * 32, "ef" * 32, "QUJD")
    assert entry.extra == {"AlternativeHashes": [{"HashName": "Other", "HashValue": "123"}]}


def test_top_level_sha256_and_pdq(write_vics: WriteVics) -> None:
    (entry,) = entries(write_vics([{"MD5": "AB" * 16, "SHA256": "CD" * 32, "PDQ": "EF" * 32}]))
    assert (entry.sha256, entry.pdq) == ("cd" * 32, "ef" * 32)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"MediaID": 7, "SHA1": "AB" * 20}, "no MD5"),
        ({"MediaID": 7, "MD5": "XY" * 16}, "is not 32 hex digits"),
        ({"MediaID": 7, "MD5": "AB" * 15}, "is not 32 hex digits"),
        ({"MediaID": 7, "MD5": "AB" * 16, "SHA1": "AB" * 16}, "SHA1"),
        ({"MediaID": 7, "MD5": "AB" * 16, "VictimIdentified": "maybe"}, "not a boolean"),
        ({"MediaID": 7, "MD5": "AB" * 16, "Series": "x" * 201}, "longer than 200"),
    ],
)
def test_bad_record_names_its_position(
    write_vics: WriteVics, record: dict[str, Any], reason: str
) -> None:
    path = write_vics([media(1), media(2), record])
    with pytest.raises(HashSetFormatError, match=reason) as caught:
        entries(path)
    assert caught.value.where == "Media record #3 (MediaID 7)"
    assert str(path) in str(caught.value)


def test_bad_json_midway_gives_record_and_exact_byte_offset(tmp_path: Path) -> None:
    good = ",\n".join(json.dumps(media(i)) for i in range(1, 6))
    head = json.dumps({"@odata.context": v2_context()})[:-1]
    text = head + ', "value": [\n' + good + ',\n{"MD5": nonsense}]}'
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(HashSetFormatError, match="invalid JSON") as caught:
        entries(path)
    assert "after Media record #5 (MediaID 5)" in caught.value.where
    offset = int(caught.value.where.rsplit(" ", 1)[1])
    bad = text.index('{"MD5": nonsense}')
    assert bad < offset <= bad + len('{"MD5": nonsense}')


def test_truncated_file(tmp_path: Path, write_vics: WriteVics) -> None:
    data = write_vics([media(i) for i in range(10)]).read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(HashSetFormatError, match="the document ends") as caught:
        entries(path)
    assert caught.value.where.endswith(f"byte offset {len(data) // 2}")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"value": []}', "no @odata.context"),
        ('[{"MD5": "x"}]', "not a JSON object"),
        ('{"@odata.context": "http://example.org/x#Media", "value": []}', "unrecognised"),
        (json.dumps({"@odata.context": v2_context(kind="Things"), "value": []}), "#Things"),
        ('{"@odata.context": "http://x/DataModels/3.0.xml/US/$metadata#Media"}', "version 3.0"),
    ],
)
def test_bad_headers(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "h.json"
    path.write_text(text)
    with pytest.raises(HashSetFormatError, match=reason):
        entries(path)


def test_case_under_media_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    doc = {"@odata.context": v2_context(), "value": [{"CaseID": "1", "Media": [media(1)]}]}
    path.write_text(json.dumps(doc))
    with pytest.raises(HashSetFormatError, match="header says #Media"):
        entries(path)


def test_export_writes_v2_with_uppercase_hashes() -> None:
    entry = Entry(md5="ab" * 16, sha1="cd" * 20, sha256="ef" * 32, pdq="01" * 32, category="0")
    out = io.StringIO()
    assert export_vics([entry], out, region="US") == 1
    doc = json.loads(out.getvalue())
    assert doc["@odata.context"] == v2_context("US")
    (record,) = doc["value"]
    assert record["MD5"] == "AB" * 16 and record["SHA1"] == "CD" * 20
    assert record["Category"] == 0
    assert {a["HashName"]: a["HashValue"] for a in record["AlternativeHashes"]} == {
        "SHA256": "EF" * 32,
        "PDQ": "01" * 32,
    }


def test_export_letter_codes_and_text_media_ids() -> None:
    record = entry_to_media(Entry(md5="ab" * 16, category="A1", media_id="0012"))
    assert record["Category"] == "A1" and record["MediaID"] == "0012"
    assert entry_to_media(Entry(md5="ab" * 16, media_id="12"))["MediaID"] == 12


# --- export -> import gives back exactly the same entries ---------------------------------

_hex = st.text(alphabet="0123456789abcdef", min_size=1, max_size=1)
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20).map(
    str.strip
)
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


def _hexes(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789abcdef", min_size=n, max_size=n)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


entry_strategy = st.builds(
    Entry,
    md5=_hexes(32),
    sha1=_opt(_hexes(40)),
    sha256=_opt(_hexes(64)),
    pdq=_opt(_hexes(64)),
    photodna=_opt(st.text(alphabet=string.ascii_letters + string.digits + "+/=", min_size=1)),
    media_id=_opt(st.integers(0, 10**12).map(str) | st.text(string.ascii_letters, min_size=1)),
    category=_opt(st.sampled_from(["0", "1", "2", "3", "4"])),
    series=_opt(_text.filter(bool)),
    victim_identified=_opt(st.booleans()),
    offender_identified=_opt(st.booleans()),
    is_distributed=_opt(st.booleans()),
    extra=st.fixed_dictionaries(
        {},
        optional={
            "Tags": _text,
            "Comments": _text,
            "MediaSize": st.integers(0, 2**40),
            "IsSuspected": st.booleans(),
            "Exifs": st.lists(st.fixed_dictionaries({"PropertyName": _text, "Value": _json_value})),
            "MediaFiles": st.lists(st.dictionaries(_text.filter(str.isalpha), _json_value)),
        },
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(entry_strategy, max_size=8))
def test_export_then_import_is_identity(tmp_path: Path, original: list[Entry]) -> None:
    path = tmp_path / "roundtrip.json"
    assert export_vics(original, path, region="US") == len(original)
    assert entries(path) == original

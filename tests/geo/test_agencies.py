"""The country -> agency table: complete, named units where known, editable, strict."""

from __future__ import annotations

from pathlib import Path

import pycountry
import pytest

from kaitiaki.geo import UNATTRIBUTED, AgencyTableError, load_agencies

HEADER = "country,country_name,agency,unit,contact_reference\n"


def test_every_iso_country_is_covered() -> None:
    table = load_agencies()
    missing = [c.alpha_2 for c in pycountry.countries if c.alpha_2 not in table]
    assert missing == []
    assert all(a.agency and a.unit for a in table)


@pytest.mark.parametrize(
    ("cc", "words"),
    [
        ("NZ", "Internal Affairs|Digital Child Exploitation"),
        ("AU", "AFP|ACCCE"),
        ("GB", "NCA|CEOP"),
        ("CA", "RCMP|NCECC"),
        ("US", "HSI|FBI|NCMEC"),
        ("DE", "BKA"),
        ("NL", "TBKK"),
        ("FR", "OFMIN"),
    ],
)
def test_named_units(cc: str, words: str) -> None:
    agency = load_agencies().for_country(cc.lower())
    text = f"{agency.agency} {agency.unit}"
    assert all(word in text for word in words.split("|")), text
    assert not agency.is_interpol_default


def test_default_is_interpol_ncb() -> None:
    agency = load_agencies().for_country("MN")
    assert agency.is_interpol_default and "Ulaanbaatar" in agency.unit


@pytest.mark.parametrize("cc", [None, "", "ZZ", "??"])
def test_unknown_is_unattributed(cc: str | None) -> None:
    assert load_agencies().for_country(cc) is UNATTRIBUTED
    assert "INTERPOL" in UNATTRIBUTED.agency


def test_user_csv_overrides_by_country(tmp_path: Path) -> None:
    path = tmp_path / "agencies.csv"
    path.write_text(HEADER + "nz,New Zealand,NZ Police,OCEANZ,liaison desk\n", encoding="utf-8")
    table = load_agencies(path)
    assert table.for_country("NZ").agency == "NZ Police"
    assert "ACCCE" in table.for_country("AU").unit  # untouched rows keep the shipped value
    assert len(table) == len(load_agencies())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "country,agency\nNZ,x\n",
            r":1: missing column\(s\) country_name, unit, contact_reference",
        ),
        (HEADER + "NZ,New Zealand,DIA,DCET,ref\nNZL,x,y,z,w\n", r":3: country 'NZL' is not"),
        (HEADER + "NZ,New Zealand,,DCET,ref\n", r":2: country NZ has no agency"),
        (HEADER + "NZ,a,b,c,d\nnz,a,b,c,d\n", r":3: country NZ is listed twice"),
        (HEADER + "NZ,a,b,c,d,extra\n", r":2: wrong number of fields"),
        (HEADER + "NZ,a,b\n", r":2: wrong number of fields"),
    ],
)
def test_malformed_csv_is_rejected_with_row_and_reason(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "agencies.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(AgencyTableError, match=message):
        load_agencies(path)

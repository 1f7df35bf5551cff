"""Writing a referral package's readable parts: events CSV, HTML and PDF reports, local times.

Local time rule: a country's zone is the first zone listed for it in the tz database's
``zone.tab`` (rows there put the most populous zone first where geography allows), except for a
few countries where the first row is a remote or small zone (``_MAIN_ZONE``). For a country with
several zones the local time is therefore indicative; the UTC time is the record. Subjects with no
attributed country get UTC only.
"""

from __future__ import annotations

import importlib.resources
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fpdf import FPDF

from kaitiaki.exports import csvcells

EVENT_COLUMNS: Final = (
    "subject_id",
    "account_id",
    "action",
    "object_id",
    "ip",
    "port",
    "utc",
    "local_time",
    "local_zone",
)
# zone.tab orders geographically first, so these countries' first rows are not their main zone.
_MAIN_ZONE: Final = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "MX": "America/Mexico_City",
    "NZ": "Pacific/Auckland",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "US": "America/New_York",
}


def _zone_tab() -> str:
    try:
        return importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo/zone.tab")
        return system.read_text() if system.exists() else ""


@cache
def country_zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    for line in _zone_tab().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            zones.setdefault(parts[0], parts[2])
    zones.update(_MAIN_ZONE)
    return zones


def zone_for(country: str | None) -> ZoneInfo | None:
    """The country's main IANA zone, or None (UTC only) when unattributed or unknown."""
    if not country:
        return None
    name = country_zones().get(country.upper())
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def times(moment: datetime, zone: ZoneInfo | None) -> tuple[str, str, str]:
    """(UTC ISO, local ISO, zone name); local fields empty without a zone."""
    utc = moment.isoformat().replace("+00:00", "Z")
    if zone is None:
        return utc, "", ""
    return utc, moment.astimezone(zone).isoformat(), str(zone.key)


def write_events_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    with path.open("w", newline="", encoding="utf-8") as handle:
        return _write_events(handle, rows)


def events_csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """What ``write_events_csv`` would write, as text (to compare with a written package)."""
    buffer = io.StringIO(newline="")
    _write_events(buffer, rows)
    return buffer.getvalue()


def _write_events(handle: TextIO, rows: Iterable[Mapping[str, Any]]) -> int:
    # Partners open events.csv in spreadsheets; file names and user names come from suspects.
    writer = csvcells.DictWriter(handle, fieldnames=EVENT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kaitiaki.refer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(doc: Mapping[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(doc=doc)


def _latin(text: object) -> str:
    # The PDF core fonts are Latin-1; anything else is replaced rather than failing the package.
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 6, f"kaitiaki referral - page {self.page_no()}", align="C")


def _table(pdf: FPDF, header: list[str], rows: Iterable[list[object]], widths: list[int]) -> None:
    pdf.set_font("Helvetica", "B", 7)
    for title, width in zip(header, widths, strict=True):
        pdf.cell(width, 5, _latin(title), border=1)
    pdf.ln()
    pdf.set_font("Courier", size=6)
    for row in rows:
        for value, width in zip(row, widths, strict=True):
            text = _latin(value)
            # Clip to the column: a hash stays whole in package.json and events.csv.
            limit = max(4, int(width / 1.3))
            pdf.cell(width, 4, text if len(text) <= limit else text[: limit - 1] + "~", border=1)
        pdf.ln()
    pdf.ln(2)


def _line(pdf: FPDF, text: object, size: int = 8, style: str = "") -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, 4.5, _latin(text), new_x="LMARGIN", new_y="NEXT")


def render_pdf(doc: Mapping[str, Any], path: Path) -> None:
    """Text and tables only: no images, no embedded fonts beyond the core set."""
    pdf = _Report(orientation="landscape", format="A4")
    # Uncompressed: the content is text anyone can inspect, and no stream can mimic image bytes.
    pdf.compress = False
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    agency = doc["agency"]
    _line(pdf, f"Referral {doc['package_id']}", 14, "B")
    _line(pdf, f"To: {agency['name']} - {agency['unit']} ({agency['country'] or 'unattributed'})")
    _line(
        pdf, f"Built {doc['created_at']} by {doc['built_by']} with kaitiaki {doc['tool_version']}"
    )
    _line(pdf, "Hashes and records only: this package carries no images.", 8, "I")
    for subject in doc["subjects"]:
        pdf.ln(3)
        _line(pdf, f"Subject {subject['subject_id']}", 11, "B")
        att, pri, counts = subject["attribution"], subject["priority"], subject["counts"]
        _line(
            pdf,
            f"Attribution: {att['country'] or 'none'} ({att['confidence']:.2f}) {att['reason']}",
        )
        _line(pdf, f"Priority: {pri['tier'] or pri['status']} score {pri['score']}")
        for factor in pri["factors"]:
            _line(pdf, f"  - {factor.get('reason') or factor.get('factor')}", 7)
        _line(
            pdf, "Counts: " + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "by_category")
        )
        _table(
            pdf,
            ["account", "usernames", "emails", "phones", "devices"],
            (
                [
                    a["account_id"],
                    " ".join(a["usernames"]),
                    " ".join(a["emails"]),
                    " ".join(a["phones"]),
                    " ".join(a["device_ids"]),
                ]
                for a in subject["accounts"]
            ),
            [45, 55, 70, 50, 57],
        )
        _table(
            pdf,
            ["category", "hash set", "series", "victim id", "md5", "sha256"],
            (
                [
                    f["category"],
                    f["hash_set"],
                    f["series"] or "",
                    f["victim_identified"],
                    f["md5"],
                    f["sha256"],
                ]
                for f in subject["flagged_files"]
            ),
            [18, 30, 30, 16, 55, 128],
        )
        _table(
            pdf,
            ["utc", "local time", "zone", "ip", "port", "account", "action"],
            (
                [
                    e["utc"],
                    e["local_time"],
                    e["local_zone"],
                    e["ip"],
                    e["port"],
                    e["account_id"],
                    e["action"],
                ]
                for e in subject["ip_capture_events"]
            ),
            [38, 45, 32, 70, 14, 45, 33],
        )
    pdf.ln(3)
    _line(pdf, "Chain of custody", 11, "B")
    custody = doc["chain_of_custody"]
    _table(
        pdf,
        ["kind", "source", "sha256", "rows"],
        ([i["kind"], i["source"], i["sha256"], i["rows"]] for i in custody["inputs"]),
        [20, 100, 140, 17],
    )
    _table(
        pdf,
        ["hash set", "source", "source sha256", "entries"],
        ([h["name"], h["source"], h["source_sha256"], h["entries"]] for h in custody["hash_sets"]),
        [50, 70, 140, 17],
    )
    pdf.output(str(path))

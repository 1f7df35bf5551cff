"""The triage report as a document: its sections in reading order, for both renderers."""

from __future__ import annotations

from kaitiaki.triage.report import TriageReport
from kaitiaki.triage.sections import (
    Section,
    counts_section,
    custody_section,
    indicators_section,
    new_section,
    series_section,
    victim_id_section,
)
from kaitiaki.triage.sections_metadata import exif_sections, places_sections


def report_sections(report: TriageReport) -> list[Section]:
    """Custody first (what was examined, how), then what matters most: counts, the series met,
    new material for victim identification, production indicators; then the metadata."""
    return [
        custody_section(report),
        counts_section(report),
        series_section(report),
        victim_id_section(report),
        new_section(report),
        indicators_section(report),
        *exif_sections(report),
        *places_sections(report),
    ]

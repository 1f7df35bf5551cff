"""The triage report as one self-contained HTML file (Jinja2, autoescaped, no images)."""

from __future__ import annotations

import jinja2

from kaitiaki.triage.document import report_sections
from kaitiaki.triage.report import TriageReport
from kaitiaki.triage.sections import NOTICE, when


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kaitiaki.triage", "templates"),
        # Paths, series names and EXIF text come from the evidence: never trusted as markup.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: TriageReport) -> str:
    return (
        _environment()
        .get_template("triage.html.j2")
        .render(
            report=report,
            sections=report_sections(report),
            notice=NOTICE,
            generated=when(report.custody.generated_at),
        )
    )

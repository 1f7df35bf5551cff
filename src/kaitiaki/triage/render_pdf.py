"""The triage report as PDF (fpdf2): the same sections as the HTML, text and tables only."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from kaitiaki.triage.document import report_sections
from kaitiaki.triage.report import TriageReport
from kaitiaki.triage.sections import NOTICE, Table, when

# Printable width of landscape A4 at fpdf's default 10 mm margins.
_WIDTH = 277


def _latin(text: object) -> str:
    # The core fonts are Latin-1; other characters are replaced rather than failing the report.
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


class _Report(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.title_line = title

    def header(self) -> None:
        self.set_font("Helvetica", "I", 7)
        self.cell(0, 4, _latin(self.title_line), align="L")
        self.ln(5)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 6, _latin(f"{NOTICE} Page {self.page_no()}/{{nb}}"), align="C")


def _table(pdf: FPDF, table: Table) -> None:
    scale = _WIDTH / sum(table.widths)
    widths = [w * scale for w in table.widths]
    if any(table.header):
        pdf.set_font("Helvetica", "B", 7)
        for title, width in zip(table.header, widths, strict=True):
            pdf.cell(width, 5, _latin(title), border=1)
        pdf.ln()
    for row in table.rows:
        height = 4.0
        # Hashes and long text wrap instead of being clipped: the report must carry them whole.
        lines = []
        for column, (value, width) in enumerate(zip(row, widths, strict=True)):
            pdf.set_font("Courier" if column in table.hashes else "Helvetica", size=6)
            wrapped = pdf.multi_cell(width, height, _latin(value), dry_run=True, output="LINES")
            lines.append(len(wrapped) if isinstance(wrapped, list) else 1)
        row_height = height * max(lines, default=1)
        if pdf.get_y() + row_height > pdf.h - 15:
            pdf.add_page()
        top = pdf.get_y()
        left = pdf.l_margin
        for column, (value, width) in enumerate(zip(row, widths, strict=True)):
            pdf.set_font("Courier" if column in table.hashes else "Helvetica", size=6)
            pdf.set_xy(left, top)
            pdf.multi_cell(width, height, _latin(value), border=0)
            pdf.rect(left, top, width, row_height)
            left += width
        pdf.set_xy(pdf.l_margin, top + row_height)
    pdf.ln(2)


def render_pdf(report: TriageReport, path: Path) -> None:
    custody = report.custody
    pdf = _Report(
        f"kaitiaki triage: {custody.evidence} - manifest {custody.manifest_sha256 or 'none'} - "
        f"generated {when(custody.generated_at)}"
    )
    # Uncompressed: the content is text anyone can inspect, and no stream can mimic image bytes.
    pdf.compress = False
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(
        0, 7, _latin(f"Triage report: {custody.evidence}"), new_x="LMARGIN", new_y="NEXT"
    )
    for section in report_sections(report):
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, _latin(section.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=8)
        for note in section.notes:
            pdf.multi_cell(0, 4.5, _latin(note), new_x="LMARGIN", new_y="NEXT")
        for table in section.tables:
            _table(pdf, table)
    pdf.output(str(path))

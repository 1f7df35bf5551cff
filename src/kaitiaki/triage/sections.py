"""The triage report as titled sections of text and tables, in reading order.

Both renderers (HTML and PDF) draw these same sections, so the two documents say the same
thing by construction. Everything is text: hashes, counts, names, times. No image, thumbnail or
map is ever produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kaitiaki.scan.summary import IDENTIFIED
from kaitiaki.triage.report import TriageReport

NOTICE = "Hashes and records only: this report contains no images."


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    # Relative column widths (the PDF uses them; HTML lays out by itself).
    widths: list[int]
    # Columns holding hashes: monospace, never clipped in HTML.
    hashes: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def when(at: datetime | None) -> str:
    if at is None:
        return ""
    text = at.isoformat(sep=" ", timespec="seconds")
    return text.replace("+00:00", "Z")


def n_(value: int) -> str:
    return f"{value:,}"


def custody_section(report: TriageReport) -> Section:
    c = report.custody
    facts = [
        ["evidence item", c.evidence],
        ["description", c.description],
        ["acquired by", c.acquired_by],
        ["recorded", when(c.created_at)],
        ["manifest SHA-256", c.manifest_sha256 or "(no finished scan)"],
        ["legal basis", c.legal_basis or "(none recorded)"],
        ["report generated", f"{when(c.generated_at)} by {c.generated_by or 'unknown'}"],
        ["tool", f"kaitiaki {c.tool_version}"],
        ["category profile", f"{report.profile} ({report.profile_title})"],
    ]
    scans = [
        [
            str(s.id),
            when(s.started_at),
            when(s.finished_at) or "not finished",
            s.tool_version,
            ", ".join(s.roots),
            ", ".join(s.hash_sets),
        ]
        for s in c.scans
    ]
    sets = [
        [
            h.name,
            h.profile,
            h.source_format,
            n_(h.entries),
            when(h.imported_at),
            h.source_sha256 or ("(removed from the store)" if not h.present else ""),
        ]
        for h in c.hash_sets
    ]
    checks = [
        [
            "MISMATCH" if a.mismatch else a.status,
            a.source,
            a.method,
            a.digests(),
            n_(a.media_size) if a.media_size is not None else "",
            a.detail,
            f"{when(a.checked_at)} by {a.checked_by}",
        ]
        for a in c.acquisition
    ]
    mismatches = [a.source for a in c.acquisition if a.mismatch]
    notes = [
        NOTICE,
        "The report's own SHA-256 is written beside it (.sha256) and into the audit log.",
    ]
    if mismatches:
        notes.append(
            f"ACQUISITION HASH MISMATCH: {', '.join(mismatches)}: what was read is not what was "
            "acquired (see the acquisition checks below)."
        )
    elif not c.acquisition:
        notes.append("No acquisition hash was checked (no E01 image, no --expected-sha256).")
    return Section(
        "Chain of custody",
        notes,
        [
            Table(["", ""], facts, [40, 230], frozenset({1})),
            Table(
                ["scan", "started", "finished", "tool", "roots", "hash sets"],
                scans,
                [12, 38, 38, 18, 100, 64],
            ),
            Table(
                ["hash set", "profile", "format", "entries", "imported", "source SHA-256"],
                sets,
                [40, 30, 15, 20, 38, 127],
                frozenset({5}),
            ),
            Table(
                ["acquisition", "source", "method", "digests", "media bytes", "detail", "checked"],
                checks,
                [22, 45, 28, 75, 18, 52, 30],
                frozenset({3}),
            ),
        ],
    )


def counts_section(report: TriageReport) -> Section:
    o = report.overview
    notes = [
        f"{n_(o.instances)} paths ({n_(o.deleted_instances)} deleted, recovered), "
        f"{n_(o.unique_files)} unique contents, {n_(o.unread_instances)} paths not readable.",
        "Types: " + ", ".join(f"{k} {n_(v)}" for k, v in o.files_by_kind.items()),
    ]
    if o.fs_metadata_instances:
        notes.append(
            f"{n_(o.fs_metadata_instances)} file-system metadata files ($MFT, $UPCASE_TABLE, "
            "volume labels, ...) were hashed and are counted apart: not the user's files."
        )
    rows = [
        [
            c.code or "-",
            c.label,
            "yes" if c.pertinent else "no",
            n_(c.files),
            n_(c.instances),
            n_(c.reviewed_files),
        ]
        for c in report.categories
    ]
    rows.append(
        [
            "",
            "ignorable (non-pertinent)",
            "no",
            n_(report.ignorable[0]),
            n_(report.ignorable[1]),
            "",
        ]
    )
    rows.append(
        [
            "",
            "new (in no hash set, not yet categorised)",
            "",
            n_(o.files_by_verdict.get("new", 0)),
            n_(o.instances_by_verdict.get("new", 0)),
            "",
        ]
    )
    rows.append(
        [
            "",
            "errors (undecodable or unreadable)",
            "",
            n_(report.errors[0]),
            n_(report.errors[1]),
            "",
        ]
    )
    tables = [
        Table(
            ["code", "category", "pertinent", "files", "instances", "by review"],
            rows,
            [14, 150, 20, 25, 25, 25],
        )
    ]
    if report.other_profiles:
        tables.append(
            Table(
                ["profile", "code", "category", "files", "instances"],
                [
                    [p.profile, p.code or "-", p.label, n_(p.files), n_(p.instances)]
                    for p in report.other_profiles
                ],
                [40, 15, 150, 25, 25],
            )
        )
        notes.append("Known material graded under another profile is listed apart, in its codes.")
    d = report.duplicates
    notes.append(
        f"Duplicates: {n_(d.files)} contents found at more than one path "
        f"({n_(d.extra_instances)} extra copies)."
    )
    return Section(f"Counts under {report.profile_title}", notes, tables)


def series_section(report: TriageReport) -> Section:
    rows = []
    for s in report.series:
        status = s.victim_status + (" (sources disagree)" if s.conflicting else "")
        victims = f"{s.victims_identified}/{s.victims}" if s.victims else ""
        rows.append([s.name, status, s.status_source, victims, n_(s.files), n_(s.instances)])
    waiting = sum(1 for s in report.series if s.victim_status != IDENTIFIED)
    notes = [
        f"{len(report.series)} series met; {waiting} with a victim not (known to be) identified, "
        "listed first."
    ]
    table = Table(
        ["series", "victim", "status from", "victims identified", "files", "instances"],
        rows,
        [70, 45, 30, 30, 25, 25],
    )
    return Section("Series met", notes, [table] if rows else [])


def victim_id_section(report: TriageReport) -> Section:
    rows = [
        [
            "no series" if not r.series else ", ".join(r.series),
            r.kind,
            n_(r.group_size),
            r.category or "",
            r.camera,
            r.captured_at,
            "GPS" if r.gps else "",
            r.md5,
            r.sha256,
        ]
        for r in report.victim_id
    ]
    shown = len(rows)
    total = report.victim_id_without_series + report.victim_id_with_series
    notes = [
        f"New images and videos, one row per near-duplicate group: "
        f"{n_(report.victim_id_without_series)} linked to no series (listed first), "
        f"{n_(report.victim_id_with_series)} linked to a series. Within each, files with a GPS "
        "position come first, then files with intact camera EXIF, then the largest groups."
    ]
    if shown < total:
        notes.append(f"First {n_(shown)} of {n_(total)} shown; the export lists every file.")
    table = Table(
        ["series", "kind", "group", "decided", "camera", "captured", "gps", "md5", "sha256"],
        rows,
        [22, 12, 12, 14, 38, 30, 10, 55, 84],
        frozenset({7, 8}),
    )
    return Section("For victim identification", notes, [table] if rows else [])


def new_section(report: TriageReport) -> Section:
    n = report.new
    threshold = (
        f"PDQ distance <= {n.group_threshold}" if n.group_threshold is not None else "not built"
    )
    return Section(
        "New material and near-duplicate groups",
        [
            f"{n_(n.files)} new contents at {n_(n.instances)} paths ("
            + ", ".join(f"{k} {n_(v)}" for k, v in n.files_by_kind.items())
            + ").",
            f"Groups ({threshold}; vPDQ for videos): {n_(n.groups)} groups, {n_(n.grouped_files)} "
            f"files in groups of two or more, {n_(n.undecided_groups)} groups without a decision; "
            f"{n_(n.ungrouped)} new images/videos in no group (PDQ quality under 50 or no usable "
            "frame: reviewed one by one).",
            f"Reviewed: {n_(n.reviewed)} categorised, {n_(n.decided_ignorable)} decided ignorable.",
        ],
    )


def indicators_section(report: TriageReport) -> Section:
    tables = [
        Table(
            ["indicator", "found", "count", "rule"],
            [
                [i.name, "YES" if i.triggered else "no", n_(i.count), i.rule]
                for i in report.indicators
            ],
            [45, 12, 15, 205],
        )
    ]
    examples = [[i.name, e] for i in report.indicators for e in i.examples]
    if examples:
        tables.append(
            Table(["indicator", "example (camera or SHA-256)"], examples, [60, 217], frozenset({1}))
        )
    return Section("Production indicators", [], tables)

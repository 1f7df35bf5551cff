"""The report's metadata sections: cameras, GPS positions, the timeline, folders, duplicates."""

from __future__ import annotations

from kaitiaki.triage.clues import MANY_ORIGINALS
from kaitiaki.triage.report import TOP_DUPLICATES, TOP_FOLDERS, TriageReport
from kaitiaki.triage.sections import Section, Table, n_, when

GPS_ROWS = 500
CAMERA_ROWS = 100


def exif_sections(report: TriageReport) -> list[Section]:
    cams = [
        [
            str(r.camera.make),
            r.camera.model,
            r.camera.serial,
            n_(r.files),
            n_(r.originals),
            n_(r.new_files),
            n_(r.known_files),
            when(r.first_capture),
            when(r.last_capture),
        ]
        for r in report.cameras[:CAMERA_ROWS]
    ]
    gps = [
        [
            f"{p.latitude:.6f}",
            f"{p.longitude:.6f}",
            p.verdict,
            when(p.captured_at),
            p.camera,
            p.sha256,
        ]
        for p in report.gps[:GPS_ROWS]
    ]
    gps_notes = [f"{n_(len(report.gps))} files carry a usable GPS position (new material first)."]
    if len(report.gps) > GPS_ROWS:
        gps_notes.append(f"First {GPS_ROWS} shown.")
    t = report.timeline
    spans = [[s.what, when(s.earliest), when(s.latest), n_(s.count)] for s in t.spans]
    rows = [
        [r.period, n_(r.modified), n_(r.created), n_(r.deleted), n_(r.captured)] for r in t.rows
    ]
    return [
        Section(
            "Cameras (EXIF)",
            [
                f"Originals: files with intact camera EXIF; {MANY_ORIGINALS}+ from one camera with "
                "categorised material among them is a production indicator."
            ],
            [
                Table(
                    [
                        "make",
                        "model",
                        "serial",
                        "files",
                        "originals",
                        "new",
                        "known",
                        "first",
                        "last",
                    ],
                    cams,
                    [35, 40, 35, 18, 20, 15, 15, 40, 40],
                )
            ]
            if cams
            else [],
        ),
        Section(
            "GPS positions (EXIF)",
            gps_notes,
            [
                Table(
                    ["latitude", "longitude", "verdict", "captured", "camera", "sha256"],
                    gps,
                    [22, 22, 18, 38, 50, 127],
                    frozenset({5}),
                )
            ]
            if gps
            else [],
        ),
        Section(
            f"Timeline (per {t.granularity})",
            [
                "File-system times are UTC as the evidence recorded them (paths; deleted paths "
                "also counted apart); capture times are EXIF DateTimeOriginal, the camera's clock "
                "without a zone (unique files)."
            ],
            [
                Table(["times", "earliest", "latest", "count"], spans, [30, 60, 60, 25]),
                *(
                    [
                        Table(
                            ["period", "fs modified", "fs created", "deleted", "EXIF captured"],
                            rows,
                            [30, 30, 30, 30, 30],
                        )
                    ]
                    if rows
                    else []
                ),
            ],
        ),
    ]


def places_sections(report: TriageReport) -> list[Section]:
    folders = [
        [f.path, n_(f.instances), n_(f.known), n_(f.new), n_(f.deleted)] for f in report.folders
    ]
    dups = [[n_(d.instances), d.verdict, d.md5, d.sha256] for d in report.duplicates.top]
    return [
        Section(
            f"Top {TOP_FOLDERS} folders",
            [],
            [Table(["folder", "paths", "known", "new", "deleted"], folders, [190, 22, 22, 22, 22])]
            if folders
            else [],
        ),
        Section(
            f"Most duplicated contents (top {TOP_DUPLICATES})",
            [],
            [
                Table(
                    ["copies", "verdict", "md5", "sha256"],
                    dups,
                    [18, 25, 70, 145],
                    frozenset({2, 3}),
                )
            ]
            if dups
            else [],
        ),
    ]

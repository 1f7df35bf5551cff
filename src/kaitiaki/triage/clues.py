"""What the metadata says beyond the hashes: a timeline, the cameras, GPS positions, and the
production indicators an examiner looks for first.

Production indicators are rules stated in words in the report, so that the examiner can weigh
them; they flag, they never conclude:

* many originals from one camera: one camera (make, model, serial) is the source of
  ``MANY_ORIGINALS`` or more files that still carry intact camera EXIF *and* at least one of them
  is categorised material. (Many originals alone is what any phone's gallery looks like.)
* intact camera EXIF on new material: images no hash set knows that still carry a camera's
  make/model and capture time. Sharing services strip EXIF, so these have probably not been
  shared: they may be first-generation material.
* intact camera EXIF on known material: distributed copies of known material are normally
  stripped; one that still carries camera EXIF may be a producer's original.
* GPS positions on new material: a place, for victim identification.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kaitiaki.triage.exif import Camera, camera, capture_time, gps_position, intact
from kaitiaki.triage.facts import KNOWN, NEW, FileFacts, InstanceFacts

MANY_ORIGINALS = 10
# A timeline longer than this many months is shown by year.
MONTHS_SHOWN = 48
EXAMPLES = 20


@dataclass
class TimelineRow:
    period: str
    modified: int = 0
    created: int = 0
    deleted: int = 0
    captured: int = 0


@dataclass(frozen=True, slots=True)
class Span:
    what: str
    earliest: datetime | None
    latest: datetime | None
    count: int


@dataclass(frozen=True, slots=True)
class Timeline:
    granularity: str  # "month" or "year"
    rows: list[TimelineRow]
    spans: list[Span]


@dataclass
class CameraRow:
    camera: Camera
    files: int = 0
    originals: int = 0  # files with intact camera EXIF
    new_files: int = 0
    known_files: int = 0
    pertinent_files: int = 0
    instances: int = 0
    first_capture: datetime | None = None
    last_capture: datetime | None = None


@dataclass(frozen=True, slots=True)
class GpsPoint:
    sha256: str
    latitude: float
    longitude: float
    verdict: str
    captured_at: datetime | None
    camera: str


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    rule: str
    triggered: bool
    count: int
    examples: list[str] = field(default_factory=list)


def _period(at: datetime, granularity: str) -> str:
    return f"{at.year:04d}" if granularity == "year" else f"{at.year:04d}-{at.month:02d}"


def timeline(files: Mapping[str, FileFacts], instances: Iterable[InstanceFacts]) -> Timeline:
    """Counts per month (or year): file-system modified and created times of every path
    (deleted ones counted apart too) and EXIF capture times of each unique file. File-system
    times are UTC as the evidence recorded them; EXIF times are the camera's clock, no zone."""
    # Naive throughout: file-system times are UTC already, EXIF times have no zone to convert.
    marks: list[tuple[str, datetime]] = []
    for inst in instances:
        if inst.modified_at is not None:
            modified = inst.modified_at.replace(tzinfo=None)
            marks.append(("modified", modified))
            if inst.deleted:
                marks.append(("deleted", modified))
        if inst.created_at is not None:
            marks.append(("created", inst.created_at.replace(tzinfo=None)))
    for facts in files.values():
        taken = capture_time(facts.exif)
        if taken is not None:
            marks.append(("captured", taken))
    spans = []
    for what in ("modified", "created", "deleted", "captured"):
        times = [at for kind, at in marks if kind == what]
        spans.append(Span(what, min(times, default=None), max(times, default=None), len(times)))
    every = [at for _, at in marks]
    if not every:
        return Timeline("month", [], spans)
    first, last = min(every), max(every)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    granularity = "year" if months > MONTHS_SHOWN else "month"
    rows: dict[str, TimelineRow] = {}
    for what, at in marks:
        key = _period(at, granularity)
        row = rows.setdefault(key, TimelineRow(key))
        setattr(row, what, getattr(row, what) + 1)
    return Timeline(granularity, [rows[k] for k in sorted(rows)], spans)


def cameras(files: Mapping[str, FileFacts]) -> list[CameraRow]:
    rows: dict[Camera, CameraRow] = {}
    for facts in files.values():
        found = camera(facts.exif)
        if found is None:
            continue
        row = rows.setdefault(found, CameraRow(found))
        row.files += 1
        row.instances += facts.instances
        row.originals += intact(facts.exif)
        row.new_files += facts.verdict == NEW
        row.known_files += facts.verdict == KNOWN
        row.pertinent_files += facts.pertinent
        taken = capture_time(facts.exif)
        if taken is not None:
            row.first_capture = min(taken, row.first_capture or taken)
            row.last_capture = max(taken, row.last_capture or taken)
    return sorted(rows.values(), key=lambda r: (-r.files, r.camera))


def gps_points(files: Mapping[str, FileFacts]) -> list[GpsPoint]:
    """Every file with a usable position; new material first."""
    out = []
    for facts in files.values():
        position = gps_position(facts.exif)
        if position is None:
            continue
        found = camera(facts.exif)
        out.append(
            GpsPoint(
                facts.sha256,
                round(position[0], 6),
                round(position[1], 6),
                facts.verdict,
                capture_time(facts.exif),
                str(found) if found else "",
            )
        )
    return sorted(out, key=lambda p: (p.verdict != NEW, p.sha256))


def indicators(files: Mapping[str, FileFacts], camera_rows: list[CameraRow]) -> list[Indicator]:
    many = [r for r in camera_rows if r.originals >= MANY_ORIGINALS and r.pertinent_files]
    new_intact = sorted(f.sha256 for f in files.values() if f.verdict == NEW and intact(f.exif))
    known_intact = sorted(
        f.sha256 for f in files.values() if f.verdict == KNOWN and f.pertinent and intact(f.exif)
    )
    new_gps = sorted(
        f.sha256 for f in files.values() if f.verdict == NEW and gps_position(f.exif) is not None
    )
    return [
        Indicator(
            "many originals from one camera",
            f"One camera (same make, model and serial) is the source of {MANY_ORIGINALS} or more "
            "files that still carry intact camera EXIF (make or model, and capture time), and "
            "at least one of them is categorised material. Many originals alone is what any "
            "phone gallery looks like; with categorised material among them, the camera may "
            "have been used to produce it.",
            bool(many),
            len(many),
            [
                f"{r.camera}: {r.originals} originals, {r.pertinent_files} categorised"
                for r in many[:EXAMPLES]
            ],
        ),
        Indicator(
            "intact camera EXIF on new material",
            "Images that no hash set knows still carry a camera's make or model and capture "
            "time. Sharing services and messengers strip this block, so these have probably "
            "not been shared: they may be first-generation material and come first for review "
            "and victim identification.",
            bool(new_intact),
            len(new_intact),
            new_intact[:EXAMPLES],
        ),
        Indicator(
            "intact camera EXIF on known material",
            "Known (categorised) files that still carry intact camera EXIF. Distributed copies "
            "are normally stripped; an intact one may be a producer's original.",
            bool(known_intact),
            len(known_intact),
            known_intact[:EXAMPLES],
        ),
        Indicator(
            "GPS positions on new material",
            "New images carrying a GPS position: a place to start victim identification.",
            bool(new_gps),
            len(new_gps),
            new_gps[:EXAMPLES],
        ),
    ]


def counts_by_kind(files: Iterable[FileFacts]) -> Counter[str]:
    return Counter(f.kind for f in files)

"""The triage report of one evidence item under one category profile, gathered from the store.

Counts are given for unique contents ("files") and for paths ("instances"): charging documents
count images, an examiner also wants to know how many copies lay where. A reviewer's newest
decision sits on top of the scan's verdict. Categories are counted under the chosen profile
only; known material graded under another profile (a set of another scheme) is listed apart
with its own codes, because codes do not translate between schemes (no crosswalk is assumed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select

from kaitiaki.audit import record
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.scan.summary import EvidenceNotFoundError, SeriesMet, series_met
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileInstance
from kaitiaki.triage.clues import (
    CameraRow,
    GpsPoint,
    Indicator,
    Timeline,
    cameras,
    gps_points,
    indicators,
    timeline,
)
from kaitiaki.triage.custody import Custody, gather_custody
from kaitiaki.triage.exif import camera, capture_time, gps_position, intact
from kaitiaki.triage.facts import ERROR, KNOWN, NEW, FileFacts, InstanceFacts, load_facts
from kaitiaki.triage.groups import last_threshold
from kaitiaki.triage.review import IGNORABLE, ReviewError, evidence_profile

TOP_FOLDERS: Final = 20
TOP_DUPLICATES: Final = 20
VICTIM_ID_ROWS: Final = 200
MATERIAL_KINDS: Final = ("image", "video")


@dataclass(frozen=True, slots=True)
class CategoryCount:
    code: str
    label: str
    pertinent: bool
    files: int
    instances: int
    reviewed_files: int  # of ``files``, how many by a reviewer's decision


@dataclass(frozen=True, slots=True)
class OtherProfileCount:
    profile: str
    code: str
    label: str
    files: int
    instances: int


@dataclass(frozen=True, slots=True)
class Overview:
    instances: int
    unique_files: int
    deleted_instances: int
    unread_instances: int  # paths with no content hashed (unreadable, encrypted, ...)
    # The file systems' own files ($MFT, $UPCASE_TABLE, ...): hashed, kept out of every count.
    fs_metadata_instances: int
    files_by_kind: dict[str, int]
    files_by_verdict: dict[str, int]
    instances_by_verdict: dict[str, int]


@dataclass(frozen=True, slots=True)
class NewMaterial:
    files: int
    instances: int
    files_by_kind: dict[str, int]
    reviewed: int  # categorised by a reviewer (any code)
    decided_ignorable: int
    groups: int
    grouped_files: int  # in groups of two or more
    # New images and videos in no group: PDQ quality under 50, or no usable vPDQ frame.
    ungrouped: int
    undecided_groups: int
    group_threshold: int | None


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    sha256: str
    md5: str
    instances: int
    verdict: str


@dataclass(frozen=True, slots=True)
class Duplicates:
    files: int
    extra_instances: int
    top: list[DuplicateRow]


@dataclass(frozen=True, slots=True)
class Folder:
    path: str
    instances: int
    known: int
    new: int
    deleted: int


@dataclass(frozen=True, slots=True)
class VictimIdRow:
    sha256: str
    md5: str
    kind: str
    category: str | None  # a reviewer's decision, when there is one
    group_size: int
    series: list[str]
    camera: str
    captured_at: str
    gps: bool
    intact_exif: bool
    path: str


@dataclass(frozen=True, slots=True)
class TriageReport:
    custody: Custody
    profile: str
    profile_title: str
    overview: Overview
    categories: list[CategoryCount]
    other_profiles: list[OtherProfileCount]
    ignorable: tuple[int, int]  # files, instances
    errors: tuple[int, int]
    new: NewMaterial
    duplicates: Duplicates
    series: list[SeriesMet]
    # New material linked to no series first, then new material of a series.
    victim_id: list[VictimIdRow]
    victim_id_without_series: int
    victim_id_with_series: int
    folders: list[Folder]
    timeline: Timeline
    cameras: list[CameraRow]
    gps: list[GpsPoint]
    indicators: list[Indicator]


def _folder(path: str) -> str:
    head, sep, _ = path.rpartition("/")
    return head if sep and head else "(top level)"


def _categories(
    files: list[FileFacts], profile: str, review_profile: str | None
) -> tuple[list[CategoryCount], list[OtherProfileCount]]:
    chosen = get_profile(profile)
    ours: Counter[str] = Counter()
    ours_instances: Counter[str] = Counter()
    reviewed: Counter[str] = Counter()
    other: Counter[tuple[str, str]] = Counter()
    other_instances: Counter[tuple[str, str]] = Counter()
    for facts in files:
        if facts.verdict != KNOWN:
            continue
        scheme = review_profile if facts.decision is not None else facts.profile
        code = facts.effective_category or ""
        if scheme == profile or (scheme in (None, "none") and not code):
            ours[code] += 1
            ours_instances[code] += facts.instances
            reviewed[code] += facts.decision is not None
        else:
            other[(scheme or "none", code)] += 1
            other_instances[(scheme or "none", code)] += facts.instances
    rows = [
        CategoryCount(
            c.code, c.label, c.pertinent, ours[c.code], ours_instances[c.code], reviewed[c.code]
        )
        for c in chosen.categories
    ]
    if ours[""]:
        rows.append(
            CategoryCount(
                "",
                "known, no category (list without grades)",
                True,
                ours[""],
                ours_instances[""],
                0,
            )
        )
    others = [
        OtherProfileCount(p, c, get_profile(p).label(c or None), n, other_instances[(p, c)])
        for (p, c), n in sorted(other.items())
    ]
    return rows, others


def _victim_id(files: list[FileFacts]) -> tuple[list[VictimIdRow], int, int]:
    sizes = Counter(f.representative for f in files if f.representative)
    rows: list[tuple[tuple[bool, bool, bool, int, str], VictimIdRow]] = []
    without = with_series = 0
    for facts in files:
        if facts.label != NEW or facts.kind not in MATERIAL_KINDS or facts.decision == IGNORABLE:
            continue
        if facts.representative not in (None, facts.sha256):
            continue  # one row per group: the representative stands for its members
        if facts.series:
            with_series += 1
        else:
            without += 1
        found, taken = camera(facts.exif), capture_time(facts.exif)
        has_gps, is_intact = gps_position(facts.exif) is not None, intact(facts.exif)
        row = VictimIdRow(
            sha256=facts.sha256,
            md5=facts.md5,
            kind=facts.kind,
            category=facts.decision,
            group_size=sizes.get(facts.sha256, 1),
            series=sorted(facts.series),
            camera=str(found) if found else "",
            captured_at=taken.isoformat(sep=" ") if taken else "",
            gps=has_gps,
            intact_exif=is_intact,
            path=facts.paths[0] if facts.paths else "",
        )
        key = (bool(facts.series), not has_gps, not is_intact, -row.group_size, facts.sha256)
        rows.append((key, row))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows[:VICTIM_ID_ROWS]], without, with_series


def _folders(files: dict[str, FileFacts], instances: list[InstanceFacts]) -> list[Folder]:
    counts: dict[str, list[int]] = {}
    for inst in instances:
        row = counts.setdefault(_folder(inst.path), [0, 0, 0, 0])
        verdict = files[inst.sha256].verdict if inst.sha256 in files else ERROR
        row[0] += 1
        row[1] += verdict == KNOWN
        row[2] += verdict == NEW
        row[3] += inst.deleted
    top = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_FOLDERS]
    return [Folder(path, *values) for path, values in top]


def build_report(
    store: Store, evidence: str, profile: str | None = None, *, generated_by: str = ""
) -> TriageReport:
    """Gather the report; ``profile`` defaults to the evidence's own (see ``review``)."""
    with store.session() as session:
        row = session.scalar(select(Evidence).where(Evidence.name == evidence))
        if row is None:
            raise EvidenceNotFoundError(f"no evidence item named {evidence!r}")
        try:
            review_profile: str | None = evidence_profile(session, row.id).name
        except ReviewError:
            review_profile = None
        if profile is None:
            if review_profile is None:
                raise ReviewError(
                    f"evidence {evidence!r} was matched against sets of several category "
                    "profiles: choose one for the report (--profile)"
                )
            profile = review_profile
        chosen = get_profile(profile)
        custody = gather_custody(session, row, generated_by)
        files_by_sha, instances = load_facts(session, row.id)
        fs_metadata = session.scalar(
            select(func.count()).where(
                FileInstance.evidence_id == row.id, FileInstance.fs_metadata.is_(True)
            )
        )
        per_file = {sha: set(f.series) for sha, f in files_by_sha.items() if f.series}
        met = series_met(session, row.id, per_file)
        threshold = last_threshold(session, row.id)
    files = sorted(files_by_sha.values(), key=lambda f: f.sha256)
    categories, others = _categories(files, chosen.name, review_profile)
    verdict_files = Counter(f.verdict for f in files)
    verdict_instances: Counter[str] = Counter()
    for f in files:
        verdict_instances[f.verdict] += f.instances
    unread = sum(1 for i in instances if i.sha256 is None)
    verdict_instances[ERROR] += unread
    new_files = [f for f in files if f.label == NEW]
    representatives = Counter(f.representative for f in new_files if f.representative)
    decided = {f.sha256 for f in new_files if f.decision is not None}
    duplicates = [f for f in files if f.instances > 1]
    camera_rows = cameras(files_by_sha)
    victim_rows, without, with_series = _victim_id(files)
    return TriageReport(
        custody=custody,
        profile=chosen.name,
        profile_title=chosen.title,
        overview=Overview(
            instances=len(instances),
            unique_files=len(files),
            deleted_instances=sum(1 for i in instances if i.deleted),
            unread_instances=unread,
            fs_metadata_instances=fs_metadata or 0,
            files_by_kind=dict(sorted(Counter(f.kind for f in files).items())),
            files_by_verdict=dict(sorted(verdict_files.items())),
            instances_by_verdict=dict(sorted(verdict_instances.items())),
        ),
        categories=categories,
        other_profiles=others,
        ignorable=(verdict_files[IGNORABLE], verdict_instances[IGNORABLE]),
        errors=(verdict_files[ERROR], verdict_instances[ERROR]),
        new=NewMaterial(
            files=len(new_files),
            instances=sum(f.instances for f in new_files),
            files_by_kind=dict(sorted(Counter(f.kind for f in new_files).items())),
            reviewed=sum(1 for f in new_files if f.decision not in (None, IGNORABLE)),
            decided_ignorable=sum(1 for f in new_files if f.decision == IGNORABLE),
            groups=len(representatives),
            grouped_files=sum(n for n in representatives.values() if n > 1),
            ungrouped=sum(
                1 for f in new_files if f.kind in MATERIAL_KINDS and f.representative is None
            ),
            undecided_groups=sum(1 for r in representatives if r not in decided),
            group_threshold=threshold,
        ),
        duplicates=Duplicates(
            files=len(duplicates),
            extra_instances=sum(f.instances - 1 for f in duplicates),
            top=[
                DuplicateRow(f.sha256, f.md5, f.instances, f.verdict)
                for f in sorted(duplicates, key=lambda f: (-f.instances, f.sha256))[:TOP_DUPLICATES]
            ],
        ),
        series=met,
        victim_id=victim_rows,
        victim_id_without_series=without,
        victim_id_with_series=with_series,
        folders=_folders(files_by_sha, instances),
        timeline=timeline(files_by_sha, instances),
        cameras=camera_rows,
        gps=gps_points(files_by_sha),
        indicators=indicators(files_by_sha, camera_rows),
    )


def record_report(
    store: Store,
    report: TriageReport,
    *,
    actor: str,
    fmt: str,
    file: str,
    sha256: str,
) -> None:
    """Audit a report once it is written (one entry as ``actor``): which evidence item, the
    file and its SHA-256, and the manifest digest the report stands on."""
    if not actor.strip():
        raise ValueError("a triage report needs the name of who makes it")
    with store.session() as session:
        record(
            session,
            actor=actor,
            action="triage.report",
            target_type="evidence",
            target_id=str(report.custody.evidence_id),
            details={
                "evidence": report.custody.evidence,
                "format": fmt,
                "profile": report.profile,
                "file": file,
                "sha256": sha256,
                "manifest_sha256": report.custody.manifest_sha256,
            },
        )

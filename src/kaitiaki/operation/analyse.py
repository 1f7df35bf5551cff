"""``kaitiaki operation analyse``: every stage of the attribution capability, in order."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from kaitiaki.accounts import (
    AccountIdentifiers,
    Attribution,
    IpActivity,
    IpEvent,
    Resolution,
    Subject,
    attribute_subjects,
    resolve_subjects,
)
from kaitiaki.engines import DuckDBEngine, Engine, write_flagged_accounts
from kaitiaki.engines.spark_engine import SparkEngine
from kaitiaki.engines.spark_session import SparkSettings
from kaitiaki.exports import csvcells
from kaitiaki.geo import IpInfo, load_agencies, open_geolocator
from kaitiaki.operation.flag import SeriesMet, flag_catalog
from kaitiaki.operation.persist import save_results
from kaitiaki.records import IngestResult, Kind, ingest_records, ingested_files
from kaitiaki.store import Store

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")
Step = Callable[[str], None]
# (stage, done, total): what a progress bar shows for the long stages.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AnalysisOptions:
    hash_sets: Sequence[str] | None = None
    mapping: Path | None = None
    assume_tz: str | None = None
    mmdb: Path | None = None
    asn_mmdb: Path | None = None
    hosting_list: Path | None = None
    agencies: Path | None = None
    reviewer_flags: Path | None = None
    weak_links: bool = False
    # Namespaces subject ids to this operation (FollowTheMoney-style keyed ids).
    operation_key: bytes = b"kaitiaki-operation"
    # Where ingest and the event queries run: embedded DuckDB, or Spark (``spark`` settings;
    # the active session when there is one). Results are the same either way.
    engine: EngineName = "duckdb"
    spark: SparkSettings | None = None


@dataclass
class AnalysisResult:
    out: Path
    ingests: list[IngestResult] = field(default_factory=list)
    objects_checked: int = 0
    objects_flagged: int = 0
    flagged_accounts: int = 0
    subjects: int = 0
    links: int = 0
    countries: Counter[str] = field(default_factory=Counter)
    vpn_or_hosting: int = 0
    unattributed: int = 0
    series: tuple[SeriesMet, ...] = ()


def _ingest(
    paths: Sequence[Path],
    kind: Kind,
    workspace: Path,
    options: AnalysisOptions,
    rejects: Path,
    progress: Progress | None,
    engine: Engine,
) -> IngestResult:
    if isinstance(engine, SparkEngine):
        from kaitiaki.records.spark_ingest import spark_ingest_records

        return spark_ingest_records(
            engine.spark,
            paths,
            workspace,
            kind=kind,
            mapping=options.mapping,
            assume_tz=options.assume_tz,
            rejects_path=rejects,
        )
    return ingest_records(
        paths,
        workspace,
        kind=kind,
        mapping=options.mapping,
        assume_tz=options.assume_tz,
        rejects_path=rejects,
        progress=progress,
    )


def open_engine(options: AnalysisOptions) -> DuckDBEngine | SparkEngine:
    """The engine ``options`` names; the caller closes it."""
    if options.engine == "spark":
        return SparkEngine(settings=options.spark)
    if options.engine != "duckdb":
        raise ValueError(f"unknown engine {options.engine!r}; expected one of {ENGINES}")
    return DuckDBEngine()


def _merge_rejects(parts: Iterable[Path], out: Path) -> int:
    count = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csvcells.writer(handle)
        writer.writerow(["file", "row", "reason"])
        for part in parts:
            with part.open(newline="", encoding="utf-8") as source:
                # The parts are already neutralised: restore on reading, or cells get two quotes.
                rows = csvcells.reader(source)
                next(rows, None)
                for row in rows:
                    writer.writerow(row)
                    count += 1
            part.unlink()
    return count


def _geolocate(ips: Sequence[str], options: AnalysisOptions, out: Path) -> dict[str, IpInfo]:
    """Locate the flagged events' addresses; write ``ip_geo`` with the attributable country.

    Hosting/VPN exits and non-public addresses get no country: an exit node's country is the
    server's, not the person's.
    """
    locator = open_geolocator(options.mmdb, options.asn_mmdb, options.hosting_list)
    infos = dict(zip(ips, locator.locate_many(list(ips)), strict=True))
    table = pa.table(
        {
            "ip": list(infos),
            "country": [
                i.country if i.scope == "public" and not i.hosting else None for i in infos.values()
            ],
            "scope": [i.scope for i in infos.values()],
            "hosting": [i.hosting for i in infos.values()],
            "asn": pa.array([i.asn for i in infos.values()], type=pa.int64()),
        }
    )
    pq.write_table(table, out)
    return infos


def _activity(grouped: pa.Table) -> list[IpActivity]:
    """From ``flagged_ip_activity``: its ORDER BY fixes the order, so ties break the same way."""
    return [
        IpActivity(r["account_id"], r["ip"], r["events"], r["first_seen"], r["last_seen"])
        for r in grouped.to_pylist()
    ]


def _home_regions(activity: Sequence[IpActivity], infos: dict[str, IpInfo]) -> dict[str, str]:
    """Each account's most frequent attributable country: the region for national phones."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for item in activity:
        info = infos.get(item.ip)
        if info is not None and info.country and info.scope == "public" and not info.hosting:
            votes[item.account_id][info.country] += item.events
    return {account: counts.most_common(1)[0][0] for account, counts in votes.items()}


def _identifiers(accounts: Sequence[Path], regions: dict[str, str]) -> list[AccountIdentifiers]:
    merged: dict[str, dict[str, set[str]]] = {}
    columns = ["account_id", "username", "email", "phone", "device_id"]
    for batch in ds.dataset([str(p) for p in accounts], format="parquet").to_batches(
        columns=columns, batch_size=100_000
    ):
        for row in batch.to_pylist():
            slot = merged.setdefault(row["account_id"], defaultdict(set))
            for column in columns[1:]:
                if row[column]:
                    slot[column].add(row[column])
    return [
        AccountIdentifiers(
            account_id,
            usernames=tuple(sorted(v["username"])),
            emails=tuple(sorted(v["email"])),
            phones=tuple(sorted(v["phone"])),
            device_ids=tuple(sorted(v["device_id"])),
            region=regions.get(account_id),
        )
        for account_id, v in merged.items()
    ]


def _write_subjects(
    path: Path,
    subjects: Sequence[Subject],
    flagged: set[str],
    attributions: dict[str, Attribution],
    agency_of: Callable[[str | None], str],
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvcells.writer(handle)
        writer.writerow(
            [
                "subject_id",
                "account_ids",
                "country",
                "confidence",
                "agency",
                "vpn_or_hosting",
                "multi_country",
                "countries",
                "flagged_accounts",
                "reason",
            ]
        )
        for subject in subjects:
            a = attributions[subject.subject_id]
            writer.writerow(
                [
                    subject.subject_id,
                    ";".join(subject.account_ids),
                    a.country or "",
                    f"{a.confidence:.3f}",
                    agency_of(a.country),
                    str(a.vpn_or_hosting).lower(),
                    str(a.multi_country).lower(),
                    ";".join(f"{c}:{n}" for c, n in a.countries),
                    ";".join(sorted(flagged.intersection(subject.account_ids))),
                    a.reason,
                ]
            )


def _write_links(path: Path, resolution: Resolution, keep: set[str]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvcells.writer(handle)
        writer.writerow(["account_a", "account_b", "reason"])
        for link in resolution.links:
            if link.account_a in keep:
                writer.writerow([link.account_a, link.account_b, link.reason])
                count += 1
    return count


def analyse_operation(
    store: Store,
    records: Sequence[Path],
    accounts: Path,
    catalog: Path,
    out: Path,
    options: AnalysisOptions | None = None,
    *,
    step: Step | None = None,
    progress: Progress | None = None,
    rejected_links: Sequence[tuple[str, str]] = (),
    actor: str,
) -> AnalysisResult:
    """Run the whole chain; outputs in ``out`` (CSV and Parquet) and the store, whose change
    is audited as ``actor`` (``operation.persist``)."""
    if not actor.strip():
        raise ValueError("actor: an analysis needs the name of who runs it")
    options = options or AnalysisOptions()
    say = step or (lambda _: None)
    out.mkdir(parents=True, exist_ok=True)
    workspace = out / "workspace"
    result = AnalysisResult(out)

    engine = open_engine(options)
    try:
        say("ingesting access records, accounts and catalog")
        parts = []
        inputs: tuple[tuple[Kind, list[Path]], ...] = (
            ("records", list(records)),
            ("accounts", [accounts]),
            ("catalog", [catalog]),
        )
        for kind, paths in inputs:
            part = workspace / f"rejects-{kind}.csv"
            result.ingests.append(_ingest(paths, kind, workspace, options, part, progress, engine))
            parts.append(part)
        _merge_rejects(parts, out / "rejects.csv")
        events = [str(p) for p in ingested_files(workspace, "records")]

        say("matching the catalog against hash sets")
        flags = flag_catalog(
            store,
            ingested_files(workspace, "catalog"),
            workspace / "flagged_objects.parquet",
            hash_sets=options.hash_sets,
            reviewer_flags=options.reviewer_flags,
            progress=(lambda done, total: progress("match catalog", done, total))
            if progress
            else None,
        )
        result.objects_checked, result.objects_flagged = flags.checked, flags.flagged
        result.series = flags.series
        flagged_objects = str(flags.path)

        say("geolocating the addresses of flagged events")
        ips = engine.distinct_flagged_ips(events, flagged_objects).column("ip").to_pylist()
        ip_geo = workspace / "ip_geo.parquet"
        infos = _geolocate([ip for ip in ips if ip], options, ip_geo)

        say("counting flagged accounts")
        write_flagged_accounts(engine, events, flagged_objects, str(ip_geo), out)
        flagged_table = pq.read_table(out / "flagged_accounts.parquet")
        flagged = set(flagged_table.column("account_id").to_pylist())
        result.flagged_accounts = len(flagged)
        activity = _activity(engine.flagged_ip_activity(events, flagged_objects))
        # Single events are needed only for weak links, which compare times at one address.
        ip_events = None
        if options.weak_links:
            ip_events = engine.flagged_ip_events(events, flagged_objects)
    finally:
        engine.close()

    say("resolving accounts into subjects")
    identifiers = _identifiers(
        ingested_files(workspace, "accounts"), _home_regions(activity, infos)
    )
    known = {a.account_id for a in identifiers}
    identifiers += [AccountIdentifiers(a) for a in sorted(flagged - known)]
    weak = None
    if ip_events is not None:
        weak = [
            IpEvent(r["account_id"], r["ip"], r["timestamp"])
            for r in ip_events.select(["account_id", "ip", "timestamp"]).to_pylist()
        ]
    resolution = resolve_subjects(
        identifiers,
        weak_events=weak,
        rejected_links=rejected_links,
        operation_key=options.operation_key,
    )

    say("attributing subjects to countries and agencies")
    subjects = [s for s in resolution.subjects if flagged.intersection(s.account_ids)]
    attributions = {a.subject_id: a for a in attribute_subjects(subjects, activity, infos)}
    agencies = load_agencies(options.agencies)

    def agency_of(country: str | None) -> str:
        return agencies.for_country(country).agency

    _write_subjects(out / "subjects.csv", subjects, flagged, attributions, agency_of)
    members = {a for s in subjects for a in s.account_ids}
    result.links = _write_links(out / "links.csv", resolution, members)
    result.subjects = len(subjects)
    for a in attributions.values():
        if a.country:
            result.countries[a.country] += 1
        result.vpn_or_hosting += a.vpn_or_hosting
        result.unattributed += a.country is None
    save_results(
        store,
        flagged_table,
        subjects,
        attributions,
        resolution,
        members,
        agency_of,
        actor=actor,
        out=str(out),
    )
    return result

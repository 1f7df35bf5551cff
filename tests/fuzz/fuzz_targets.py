"""Every parser of outside data, as the fuzz suite and the hostile corpus call it.

Each target takes one input (a file, or a folder for a referral package) and either returns a
short summary of what it read or raises. The worker (``fuzz_worker.py``) runs targets in a
separate, memory-limited process and sorts what happened into: a result, one of the target's
clear error types, or anything else (a crash). ``Target.position`` is what a clear error's
message must contain: where in the input the problem is.

Targets run in the worker only; the test process imports this module for names and checks.
"""

from __future__ import annotations

import inspect
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz_format_targets import appended, category_map, ewf_chunks, old_tar, virtual_disk

_STORE: Any = None


@dataclass(frozen=True)
class Target:
    run: Callable[[Path], str]
    errors: tuple[str, ...]  # qualified names of the clear error types
    position: str  # a regex a clear error's message must match (where, in the input)


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="kaitiaki-fuzz-"))


# --- hash sets (VICS JSON, plain lists, CSV) -----------------------------------------------


def vics(path: Path) -> str:
    from kaitiaki.hashsets.vics import iter_vics_file

    return f"{sum(1 for _ in iter_vics_file(path))} entries"


def _hashset_lines(path: Path, fmt: str) -> str:
    from kaitiaki.hashsets.source import SourceFile
    from kaitiaki.hashsets.store import open_reader

    with SourceFile(path) as src:
        parsed, _ = open_reader(path, src, fmt, None, None, "sha256")  # type: ignore[arg-type]
        count = sum(1 for _ in parsed)
        src.finish()
    return f"{count} entries"


def hashset_plain(path: Path) -> str:
    return _hashset_lines(path, "list")


def hashset_csv(path: Path) -> str:
    return _hashset_lines(path, "csv")


# --- access records, accounts, catalogs; column mappings -----------------------------------


def _ingest(path: Path, kind: str = "records") -> str:
    from kaitiaki.engines.duckdb_util import DuckDBSettings
    from kaitiaki.records import ingest_records

    workspace = _scratch()
    try:
        result = ingest_records(
            [path],
            workspace,
            kind=kind,  # type: ignore[arg-type]
            settings=DuckDBSettings(memory_limit="512MB", threads=1),
        )
        rejects = result.rejects_path.read_text(encoding="utf-8").splitlines()[1:]
        # Every rejected row names its row number and a reason.
        for line in rejects:
            _, row, reason = _split_reject(line)
            assert row.isdigit() and int(row) >= 1 and reason, f"reject without a place: {line!r}"
        return f"{result.rows_read} read, {result.accepted} accepted, {result.rejected} rejected"
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _split_reject(line: str) -> tuple[str, str, str]:
    import csv

    cells = next(csv.reader([line]))
    assert len(cells) == 3, f"rejects.csv row with {len(cells)} cells: {line!r}"
    return cells[0], cells[1], cells[2]


def records(path: Path) -> str:
    return _ingest(path, "records")


def accounts(path: Path) -> str:
    return _ingest(path, "accounts")


def catalog(path: Path) -> str:
    return _ingest(path, "catalog")


def mapping(path: Path) -> str:
    from kaitiaki.records import load_mapping

    loaded = load_mapping(path)
    return f"records columns {dict(loaded.records.columns)}"


# --- archives, disk images and everything a scan opens -------------------------------------

# Small limits so that a bomb is caught in seconds, not after 32 GiB.
_LIMITS: dict[str, Any] = {
    "max_total_bytes": 256 << 20,
    "max_ratio": 250.0,
    "ratio_floor": 16 << 20,
    "max_members": 50_000,
}


def archive(path: Path) -> str:
    """Every member of the archive read to its end, straight through ``iter_members``."""
    from kaitiaki.content.archives import ArchiveLimits, ExpansionBudget, iter_members
    from kaitiaki.content.kinds import HEADER_SIZE, detect

    with path.open("rb") as stream:
        mime = detect(stream.read(HEADER_SIZE)).mime
        stream.seek(0)
        budget = ExpansionBudget(ArchiveLimits(**_LIMITS), path.stat().st_size)
        members = read = 0
        for member in iter_members(stream, mime, budget):
            members += 1
            assert member.name, "a member without a shown name"
            if member.open is None:
                assert member.error, "a member that cannot be opened must say why"
                continue
            with member.open() as content:
                while chunk := content.read(1 << 20):
                    read += len(chunk)
    return f"{members} members, {read} bytes"


def disk_image(path: Path) -> str:
    """Every file of every file system in a raw disk image, read to its end."""
    from kaitiaki.content.archivebase import MemberError
    from kaitiaki.content.disk import iter_disk_files
    from kaitiaki.content.diskmagic import RAW_DISK_MIME

    files = failed = 0
    with path.open("rb") as stream:
        size = path.stat().st_size
        for member in iter_disk_files(stream, RAW_DISK_MIME, size, path):
            files += 1
            if member.open is None:
                assert member.error, "a file that cannot be read must say why"
                continue
            try:
                with member.open() as content:
                    while content.read(1 << 20):
                        pass
            except MemberError:  # one damaged file: the walk goes on, as a scan records it
                failed += 1
    return f"{files} files, {failed} unreadable"


def scan(path: Path) -> str:
    """What ``kaitiaki scan`` does with one file: every record, nested archives and images."""
    from kaitiaki.content.archives import ArchiveLimits
    from kaitiaki.scan.hasher import hash_path

    records = list(hash_path(path, limits=ArchiveLimits(**_LIMITS)))
    assert records, "a scanned file gives at least its own record"
    for record in records:
        assert record.error or record.sha256, f"record with neither hashes nor error: {record}"
    errors = sum(1 for r in records if r.error)
    return f"{len(records)} records, {errors} with errors"


# --- referral packages, pointer files, partners' outcome and enrichment CSVs ----------------


def package(folder: Path) -> str:
    """A received referral package checked as ``kaitiaki refer verify`` does."""
    from kaitiaki.refer.signing import verify_package

    result = verify_package(folder)
    if not result.ok:
        assert result.problems(), "a package that fails verification must say why"
    shown = [p if len(p) < 120 else f"{p[:50]}...{p[-60:]}" for p in result.problems()]
    return "intact" if result.ok else f"refused: {'; '.join(shown)}"


def pointers(path: Path) -> str:
    from kaitiaki.refer.deconflict import read_pointers

    return f"{len(read_pointers(path).pointers)} pointers"


def _store() -> Any:
    """One SQLite store per worker, holding the subjects and referral partner files name."""
    global _STORE
    if _STORE is None:
        from kaitiaki.store import open_store
        from kaitiaki.store.models import Referral, ReferralSubject, Subject

        _STORE = open_store(f"sqlite:///{_scratch() / 'fuzz.db'}")
        with _STORE.session() as session:
            session.add_all([Subject(id="S1", country="NZ"), Subject(id="S2", country="AU")])
            session.add(
                Referral(id="REF-1", agency="Synthetic Police", country="NZ", status="sent")
            )
            session.add(ReferralSubject(subject_id="S1", referral_id="REF-1"))
    return _STORE


def _call_import(function: Callable[..., Any], path: Path) -> Any:
    # Other work on the application layer may add a required actor; pass it where it exists.
    params = inspect.signature(function).parameters
    extra = {"actor": "fuzz:tester"} if "actor" in params else {}
    return function(_store(), path, **extra)


def outcomes(path: Path) -> str:
    from kaitiaki.refer import outcomes as module

    # The parser of the file; whether a row's referral exists is the application layer's.
    read = getattr(module, "read_outcomes", None)
    if read is not None:
        return f"{len(read(path))} rows"
    return f"{_call_import(module.import_outcomes, path).rows} rows"


def enrichment(path: Path) -> str:
    from kaitiaki.priority.enrichment import import_enrichment

    result = _call_import(import_enrichment, path)
    return f"{result.rows} rows"


_RECEIVER: Any = None


def _receiver() -> tuple[Any, Any]:
    """One receiving store per worker, trusting the worker's own signing key: the fuzzed
    package is signed with it, so the reader gets past the signature to the document."""
    global _RECEIVER
    if _RECEIVER is None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from kaitiaki.refer.signing import public_pem
        from kaitiaki.refer.trust import add_trusted_pem
        from kaitiaki.store import open_store

        key = Ed25519PrivateKey.generate()
        store = open_store(f"sqlite:///{_scratch() / 'receiver.db'}")
        add_trusted_pem(store, "fuzz sender", public_pem(key.public_key()), actor="fuzz:setup")
        _RECEIVER = (store, key)
    return _RECEIVER


def received_package(path: Path) -> str:
    """A received package (a folder, signed here, or a ZIP as it came) imported as a case."""
    from kaitiaki.receive.importing import import_package
    from kaitiaki.refer.signing import write_signed_manifest
    from kaitiaki.users.scope import Scope

    store, key = _receiver()
    if path.is_dir():
        write_signed_manifest(path, key, {"package_id": "fuzz"})
    result = import_package(store, path, actor="fuzz:officer", scope=Scope.operator())
    return f"{result.outcome} case {result.case_id}"


# --- the sandbox's own checks: what a misbehaving parser does -------------------------------


def _swallow_memory(path: Path) -> str:
    hoard = [bytearray(64 << 20) for _ in range(1 << 10)]  # 64 GiB, unless the cap stops it
    return f"{len(hoard)} blocks"


def _hang(path: Path) -> str:
    while True:
        pass


def _segfault(path: Path) -> str:
    import ctypes

    return str(ctypes.string_at(0))


def _wrong_exception(path: Path) -> str:
    raise KeyError(path.name)


# "line 3", "row 2 (line 3)", "Media record #4", "byte offset 17", "header"...: somewhere.
_PLACE = r"(line \d+|row \d+|record #\d+|byte|offset|header|start|position|column)"

TARGETS: dict[str, Target] = {
    "vics": Target(vics, ("kaitiaki.hashsets.entry.HashSetFormatError",), _PLACE),
    "hashset_plain": Target(hashset_plain, ("kaitiaki.hashsets.entry.HashSetFormatError",), _PLACE),
    "hashset_csv": Target(hashset_csv, ("kaitiaki.hashsets.entry.HashSetFormatError",), _PLACE),
    # A file-level ingest error names the file; bad rows are rejected by number, not raised.
    "records": Target(records, ("kaitiaki.records.sources.IngestError",), r"\S"),
    "accounts": Target(accounts, ("kaitiaki.records.sources.IngestError",), r"\S"),
    "catalog": Target(catalog, ("kaitiaki.records.sources.IngestError",), r"\S"),
    "mapping": Target(mapping, ("kaitiaki.records.mapping.MappingError",), r"\S"),
    "archive": Target(archive, ("kaitiaki.content.archivebase.ArchiveError",), r"\S"),
    "disk_image": Target(disk_image, ("kaitiaki.content.archivebase.ArchiveError",), r"\S"),
    "scan": Target(scan, (), r"$^"),  # a scan records every problem; it never raises
    "package": Target(package, (), r"$^"),  # verify reports problems; it never raises
    "pointers": Target(pointers, ("kaitiaki.refer.deconflict.PointerError",), r"\S"),
    "received_package": Target(
        received_package,
        ("kaitiaki.receive.package_reader.PackageError", "kaitiaki.receive.cases.CaseError"),
        r"\S",
    ),
    "outcomes": Target(
        outcomes, ("kaitiaki.refer.outcomes.OutcomesError",), r"(row \d+ \(line \d+\)|: )"
    ),
    "enrichment": Target(
        enrichment, ("kaitiaki.priority.enrichment.EnrichmentError",), r"(row \d+ \(line \d+\)|: )"
    ),
    # Issue 13's parsers (fuzz_format_targets): a chunk walk and a header test never raise.
    "virtual_disk": Target(virtual_disk, ("kaitiaki.content.archivebase.ArchiveError",), r"\S"),
    "ewf_chunks": Target(ewf_chunks, (), r"$^"),
    "appended": Target(appended, ("kaitiaki.content.archivebase.ArchiveError",), r"\S"),
    "old_tar": Target(old_tar, (), r"$^"),
    "category_map": Target(
        category_map, ("kaitiaki.hashsets.summary.CategoryMapError",), r"(byte \d+|\d+ bytes)"
    ),
    "_swallow_memory": Target(_swallow_memory, (), r"$^"),
    "_hang": Target(_hang, (), r"$^"),
    "_segfault": Target(_segfault, (), r"$^"),
    "_wrong_exception": Target(_wrong_exception, (), r"$^"),
}

# Errors that name a file must name this one (the worker passes the input's path).
FILE_NAMED = {"records", "accounts", "catalog", "mapping", "pointers", "outcomes", "enrichment"}
FILE_NAMED |= {"vics", "hashset_plain", "hashset_csv", "category_map"}


def qualified(exc: BaseException) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__]


def clear_error_problem(target: str, path: str, message: str) -> str | None:
    """Why a clear error's message is not clear enough, or None when it is."""
    spec = TARGETS[target]
    if not message.strip():
        return "empty message"
    if target in FILE_NAMED and Path(path).name not in message:
        return f"message does not name the file: {message[:300]!r}"
    if not re.search(spec.position, message):
        return f"message does not say where: {message[:300]!r}"
    return None

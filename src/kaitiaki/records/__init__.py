"""Provider access records, accounts and file catalogs, ingested into columnar storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaitiaki.lazy_exports import lazy_exports
from kaitiaki.records.mapping import (
    ACTIONS,
    KINDS,
    ColumnMapping,
    Kind,
    KindMapping,
    MappingError,
    load_mapping,
    parse_mapping,
)
from kaitiaki.records.validate import NO_ZONE, canonical_ip
from kaitiaki.records.workspace import ManifestEntry, ingested_files, read_manifest

if TYPE_CHECKING:
    from kaitiaki.records.ingest import FileReport, IngestResult, ingest_records
    from kaitiaki.records.passes import Progress
    from kaitiaki.records.sources import Format, IngestError, detect_format

# Loaded on first use: ingest needs DuckDB and PyArrow, which the web server's worker
# processes (which import this package) would otherwise hold in memory for nothing.
_LAZY = {
    "FileReport": "kaitiaki.records.ingest",
    "IngestResult": "kaitiaki.records.ingest",
    "ingest_records": "kaitiaki.records.ingest",
    "Progress": "kaitiaki.records.passes",
    "Format": "kaitiaki.records.sources",
    "IngestError": "kaitiaki.records.sources",
    "detect_format": "kaitiaki.records.sources",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ACTIONS",
    "KINDS",
    "NO_ZONE",
    "ColumnMapping",
    "FileReport",
    "Format",
    "IngestError",
    "IngestResult",
    "Kind",
    "KindMapping",
    "ManifestEntry",
    "MappingError",
    "Progress",
    "canonical_ip",
    "detect_format",
    "ingest_records",
    "ingested_files",
    "load_mapping",
    "parse_mapping",
    "read_manifest",
]

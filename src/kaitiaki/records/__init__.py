"""Provider access records, accounts and file catalogs, ingested into columnar storage."""

from kaitiaki.records.ingest import FileReport, IngestResult, ingest_records
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
from kaitiaki.records.passes import Progress
from kaitiaki.records.sources import Format, IngestError, detect_format
from kaitiaki.records.validate import NO_ZONE, canonical_ip
from kaitiaki.records.workspace import ManifestEntry, ingested_files, read_manifest

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

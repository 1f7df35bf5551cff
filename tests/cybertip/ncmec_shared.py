"""NCMEC's published schema and samples, as kept in the shared folder (/work/shared/ncmec)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from nothing_skips import require

SHARED_NCMEC = Path(__file__).resolve().parents[3] / "shared" / "ncmec"
PACKAGED_XSD = (
    Path(__file__).resolve().parents[2] / "src/kaitiaki/cybertip/xsd/cybertipline-report.xsd"
)


def shared(name: str) -> Path:
    """A file of the shared NCMEC folder: missing, skip here and fail in CI."""
    path = SHARED_NCMEC / name
    require(path.is_file(), f"NCMEC's published material missing at {path}")
    return path


def ncmec_schema() -> etree.XMLSchema:
    """The XSD as NCMEC publishes it, read from the shared folder, not the package."""
    return etree.XMLSchema(etree.parse(str(shared("cybertipline-report.xsd"))))

"""Project VIC VICS JSON: streaming import (v1.x and v2.0, flat Media lists and Case exports)
and a streaming v2.0 export.

A VICS document is one JSON object: the data-model header (``odata.metadata`` in v1.x,
``@odata.context`` in v2.0), then ``value``: Media records (``#Media``) or Cases each holding
``Media[]`` (``#Cases``). National sets are multi-GB single documents, so the header is read
by a short scan and the records one at a time, both through ``kaitiaki.content.boundedjson``
(bounded numbers, nesting, strings and records: a hostile file is refused, never a crash).

VICS has no top-level field for SHA-256 or PDQ. It has ``AlternativeHashes``, a list of
``{"HashName", "HashValue"}`` (PhotoDNA travelled there in 1.x), so our export writes SHA-256
and PDQ as ``AlternativeHashes`` named ``SHA256`` and ``PDQ`` (PDQ as 64 lowercase hex), and our
import reads those names there, and also as top-level ``SHA256`` / ``PDQ`` fields which some
tools write. vPDQ frames of videos travel in a top-level ``VPDQ`` field (non-standard too:
a list of ``[frame, quality, hex, seconds]``). Fields we do not model (Tags, Comments,
MediaSize, Exifs, MediaFiles, ...) are kept in ``Entry.extra`` under their VICS names and
written back; OData control annotations (``odata.id``, ``...@odata.navigationLinkUrl``) are
dropped, as they mean nothing outside the service that wrote them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from kaitiaki.content.boundedjson import (
    ANY_ITEM,
    DEFAULT_LIMITS,
    BoundedJsonError,
    JsonLimits,
    iter_records,
    read_head,
)
from kaitiaki.hashsets.entry import (
    MAX_MEDIA_ID,
    MAX_SERIES,
    Entry,
    EntryError,
    HashSetError,
    HashSetFormatError,
    Parsed,
    bounded_text,
    normalise_hex,
    parse_bool,
    parse_category,
    parse_vpdq,
)
from kaitiaki.hashsets.source import SourceFile, Utf8Recoder

CONTEXT_KEYS = ("@odata.context", "odata.metadata")
REGIONS = ("US", "UK", "CUSTOM", "Default")
_CONTEXT = re.compile(
    r"DataModels/(?P<version>\d+(?:\.\d+)*)\.xml(?:/(?P<region>[A-Za-z]+))?"
    r"(?:/\$metadata)?#(?P<kind>[A-Za-z]+)"
)
_INT_TEXT = re.compile(r"-?[1-9][0-9]*|0")
# A byte count in text: at most 20 digits (a 64-bit size), so int() stays cheap and bounded.
_SIZE_TEXT = re.compile(r"[0-9]{1,20}")
# Fields mapped onto Entry attributes; everything else goes to ``extra``.
_MODELLED = frozenset(
    {
        "MediaID",
        "MD5",
        "SHA1",
        "SHA256",
        "PDQ",
        "VPDQ",
        "PhotoDNA",
        "Category",
        "Series",
        "VictimIdentified",
        "OffenderIdentified",
        "IsDistributed",
        "AlternativeHashes",
    }
)
_FLAGS_IN_EXTRA = ("IsSuspected", "IsPrecategorized")
_ALT_FIELDS: dict[str, Literal["sha256", "pdq", "photodna"]] = {
    "SHA256": "sha256",
    "PDQ": "pdq",
    "PHOTODNA": "photodna",
}


@dataclass(frozen=True, slots=True)
class VicsHeader:
    context: str
    version: str
    region: str | None  # v2.0: US, UK, CUSTOM or Default; v1.x has none
    kind: str  # "Media" or "Cases"


def _json_stream(source: SourceFile) -> io.RawIOBase:
    """The document as UTF-8 bytes, past any byte-order mark."""
    return Utf8Recoder(source) if source.skip_bom() == "utf-16" else source


def read_header(path: Path, limits: JsonLimits = DEFAULT_LIMITS) -> VicsHeader:
    """Find and check the data-model header; it must come before ``value``."""
    with SourceFile(path) as source:
        stream = _json_stream(source)
        try:
            members, _ = read_head(stream, "value", limits, base=source.position)
        except BoundedJsonError as exc:
            if exc.reason.startswith("not a JSON object"):
                raise HashSetFormatError(
                    path, "start", "not a JSON object: not a VICS file"
                ) from None
            where = f"header, {_offset(source, stream, exc)}"
            raise HashSetFormatError(path, where, f"invalid JSON: {exc.reason}") from None
    found_context = next(
        (members[k] for k in CONTEXT_KEYS if isinstance(members.get(k), str)), None
    )
    context: str | None = found_context
    if context is None:
        raise HashSetFormatError(
            path, "header", "no @odata.context or odata.metadata before 'value': not a VICS file"
        )
    found = _CONTEXT.search(context)
    if found is None:
        raise HashSetFormatError(path, "header", f"unrecognised VICS data model {context!r}")
    version, region, kind = found["version"], found["region"], found["kind"]
    if version.split(".")[0] not in ("1", "2"):
        raise HashSetFormatError(path, "header", f"unsupported VICS version {version}")
    if kind not in ("Media", "Cases"):
        raise HashSetFormatError(path, "header", f"unsupported VICS collection #{kind}")
    return VicsHeader(context, version, region, kind)


def read_vics(
    path: Path, source: SourceFile, header: VicsHeader, limits: JsonLimits = DEFAULT_LIMITS
) -> Iterator[Parsed]:
    """Every Media record of the document as an entry, in file order, one at a time.

    The document goes through ``boundedjson``: numbers, nesting, strings and records are
    bounded, so a hostile file is refused with its position instead of crashing the process.
    """
    prefix = (
        ("value", ANY_ITEM) if header.kind == "Media" else ("value", ANY_ITEM, "Media", ANY_ITEM)
    )
    count = 0
    record: Any = None
    stream = _json_stream(source)
    try:
        for item in iter_records(stream, prefix, limits, base=source.position):
            count, record = item.index, item.value
            where = _where(count, record)
            if not isinstance(record, dict):
                raise HashSetFormatError(path, where, "a Media record must be a JSON object")
            if header.kind == "Media" and isinstance(record.get("Media"), list):
                raise HashSetFormatError(
                    path, where, "this is a Case (it holds Media[]) but the header says #Media"
                )
            try:
                entry = media_to_entry(record)
            except EntryError as exc:
                raise HashSetFormatError(path, where, str(exc)) from None
            yield Parsed(entry, where)
    except BoundedJsonError as exc:
        after = f"after {_where(count, record)}" if count else "before the first Media record"
        inside = f", in Media record #{exc.record}" if exc.record is not None else ""
        raise HashSetFormatError(
            path, f"{after}{inside}, {_offset(source, stream, exc)}", f"invalid JSON: {exc.reason}"
        ) from None


def iter_vics_file(path: Path | str) -> Iterator[Parsed]:
    """Read a VICS file without a store (checks, tests, other tools); same errors as import."""
    path = Path(path)
    header = read_header(path)
    with SourceFile(path) as source:
        yield from read_vics(path, source, header)


def media_to_entry(media: dict[str, Any]) -> Entry:
    """One VICS Media record as an entry; EntryError names the offending field."""
    md5 = normalise_hex(media.get("MD5"), "md5", "MD5")
    if md5 is None:
        raise EntryError("no MD5 (the one field VICS requires)")
    found: dict[str, str | None] = {
        "sha256": normalise_hex(media.get("SHA256"), "sha256", "SHA256"),
        "pdq": normalise_hex(media.get("PDQ"), "pdq", "PDQ"),
        "photodna": _photodna(media.get("PhotoDNA")),
    }
    kept_alternatives = _alternative_hashes(media.get("AlternativeHashes"), found)
    extra: dict[str, Any] = {}
    for key, value in media.items():
        if key in _MODELLED or key.startswith("odata.") or "@odata." in key:
            continue
        if key in _FLAGS_IN_EXTRA:
            value = parse_bool(value, key)
        elif key == "MediaSize":
            value = _media_size(value)
        extra[key] = value
    if kept_alternatives:
        extra["AlternativeHashes"] = kept_alternatives
    return Entry(
        md5=md5,
        sha1=normalise_hex(media.get("SHA1"), "sha1", "SHA1"),
        sha256=found["sha256"],
        pdq=found["pdq"],
        photodna=found["photodna"],
        media_id=bounded_text(media.get("MediaID"), "MediaID", MAX_MEDIA_ID),
        category=parse_category(media.get("Category")),
        series=bounded_text(media.get("Series"), "Series", MAX_SERIES),
        victim_identified=parse_bool(media.get("VictimIdentified"), "VictimIdentified"),
        offender_identified=parse_bool(media.get("OffenderIdentified"), "OffenderIdentified"),
        is_distributed=parse_bool(media.get("IsDistributed"), "IsDistributed"),
        vpdq=parse_vpdq(media.get("VPDQ")),
        extra=extra,
    )


def _media_size(value: Any) -> Any:
    """MediaSize is an integer in VICS, but NSRL's CAID files write it as text ("1234"): a
    number in text becomes that integer; anything else is kept as written (the import notes
    it), since a size is descriptive and never worth refusing a whole file over."""
    if isinstance(value, str) and _SIZE_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    return value


def _photodna(value: Any) -> str | None:
    # Kept verbatim (base64 of 144 bytes, some tools write hex): never decoded or recomputed.
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EntryError(f"PhotoDNA must be a string, not {type(value).__name__}")
    return value


def _alternative_hashes(items: Any, found: dict[str, str | None]) -> list[Any]:
    """Take SHA-256, PDQ and PhotoDNA out of AlternativeHashes; return the items left over."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise EntryError("AlternativeHashes must be a list")
    kept: list[Any] = []
    for item in items:
        name = item.get("HashName") if isinstance(item, dict) else None
        attr = _ALT_FIELDS.get(str(name).upper().replace("-", "").replace("_", ""))
        if attr is None:
            kept.append(item)
            continue
        raw = item.get("HashValue")
        value = _photodna(raw) if attr == "photodna" else normalise_hex(raw, attr, str(name))
        if found[attr] is None:
            found[attr] = value
        elif value != found[attr]:
            kept.append(item)  # a second, different value: keep it rather than choose
    return kept


def entry_to_media(entry: Entry) -> dict[str, Any]:
    """An entry as a VICS 2.0 Media record: MD5/SHA1 uppercase, integers where VICS has them."""
    if entry.md5 is None:
        raise HashSetError(
            f"entry {entry.media_id or entry.sha256 or entry.pdq or ''} has no MD5, which VICS "
            "requires; export this set as a list instead"
        )
    media: dict[str, Any] = {}
    if entry.media_id is not None:
        media["MediaID"] = _int_or_text(entry.media_id)
    if entry.category is not None:
        # Numeric codes are integers as VICS defines Category; letter codes (CAID "A", NCMEC
        # "A1") have no VICS integer, so they are written as text, which our import reads back.
        media["Category"] = _int_or_text(entry.category)
    media["MD5"] = entry.md5.upper()
    if entry.sha1 is not None:
        media["SHA1"] = entry.sha1.upper()
    if entry.photodna is not None:
        media["PhotoDNA"] = entry.photodna
    if entry.vpdq is not None:
        # Non-standard, like PDQ: VICS has no video signal; our importer reads it back.
        media["VPDQ"] = entry.vpdq
    for key, value in (
        ("VictimIdentified", entry.victim_identified),
        ("OffenderIdentified", entry.offender_identified),
        ("IsDistributed", entry.is_distributed),
        ("Series", entry.series),
    ):
        if value is not None:
            media[key] = value
    for key, value in entry.extra.items():
        if key not in _MODELLED:
            media[key] = value
    alternatives: list[Any] = []
    if entry.sha256 is not None:
        alternatives.append(
            {"HashName": "SHA256", "HashValue": entry.sha256.upper(), "MD5": media["MD5"]}
        )
    if entry.pdq is not None:
        alternatives.append({"HashName": "PDQ", "HashValue": entry.pdq, "MD5": media["MD5"]})
    alternatives.extend(entry.extra.get("AlternativeHashes") or [])
    if alternatives:
        media["AlternativeHashes"] = alternatives
    return media


def context_url(region: str = "CUSTOM", kind: str = "Media") -> str:
    if region not in REGIONS:
        raise ValueError(f"VICS region must be one of {', '.join(REGIONS)}, not {region!r}")
    return (
        f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{region}/$metadata#{kind}"
    )


def export_vics(entries: Iterable[Entry], out: TextIO | Path, *, region: str = "CUSTOM") -> int:
    """Write ``entries`` as a VICS 2.0 Media list, one record a line; return how many.

    Streams: each entry is written as it arrives, so a set of any size exports in bounded
    memory. The output is ASCII (non-ASCII text is escaped), hence valid UTF-8 without a BOM.
    """
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline="\n") as stream:
            return export_vics(entries, stream, region=region)
    out.write('{"@odata.context":' + json.dumps(context_url(region)) + ',"value":[')
    count = 0
    for entry in entries:
        record = json.dumps(entry_to_media(entry), separators=(",", ":"), allow_nan=False)
        out.write(("," if count else "") + "\n" + record)
        count += 1
    out.write("\n]}\n")
    return count


def _int_or_text(value: str) -> int | str:
    return int(value) if _INT_TEXT.fullmatch(value) else value


def _where(count: int, record: Any) -> str:
    media_id = record.get("MediaID") if isinstance(record, dict) else None
    return f"Media record #{count}" + (f" (MediaID {media_id})" if media_id is not None else "")


def _offset(source: SourceFile, stream: io.RawIOBase, exc: BoundedJsonError) -> str:
    # A UTF-16 file is read re-encoded as UTF-8, so the offset is in those bytes.
    recoded = " of the file re-encoded as UTF-8" if stream is not source else ""
    return f"byte offset {exc.offset}{recoded}"

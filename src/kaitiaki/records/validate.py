"""Row validation as SQL, so it streams through DuckDB; IP addresses in Python, once per value.

Each kind's query turns the raw rows of ``sources.Source.rows`` into ``row_n, reason, <fields>``:
``reason`` is NULL for a good row, else the first problem found, in field order.

Time zones: a timestamp must say its zone (``Z``, ``UTC``/``GMT`` or an offset). One that does
not is read in ``assume_tz`` when the user named one, and rejected otherwise; local times that
fall in a DST gap or overlap are rejected too, because picking one would be a guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from kaitiaki.engines.duckdb_util import sql_literal
from kaitiaki.records.mapping import FIELDS, KindMapping

NO_ZONE = "timestamp without time zone; pass --assume-tz"
_ISO = (
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)"
    r"\s*(Z|z|UTC|GMT|[+-](?:0\d|1[0-4])(?::?[0-5]\d)?)?$"  # real offsets: -12..+14
)
_EPOCH = {
    "epoch_seconds": (r"^-?\d{1,12}(\.\d{1,6})?$", "DECIMAL(38, 6)", 1_000_000),
    "epoch_millis": (r"^-?\d{1,15}(\.\d{1,3})?$", "DECIMAL(38, 3)", 1_000),
}
# Dotted quads without leading zeros are already canonical: no need to send them to Python.
IPV4_CANONICAL = r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$"
_HASH_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
# The catalog's viewed_by_provider: only these spellings (trimmed, any case); empty is "not said".
VIEWED_VALUES = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
}
VIEWED_PROBLEM = "viewed_by_provider is not true/false, yes/no or 1/0: "
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}


def canonical_ip(text: str) -> str | None:
    """The canonical text of an IP address, or None when it is not one.

    IPv6 comes out compressed and lowercase (``2001:DB8::0:1`` -> ``2001:db8::1``); an
    IPv4-mapped IPv6 address becomes the IPv4 address it carries, so one host has one spelling
    for geolocation and linking. Scoped addresses (``fe80::1%eth0``) say nothing outside the
    provider's own network and are rejected, as are IPv4 octets with leading zeros (octal?).
    """
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            return None
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
    return str(addr)


def canonical_ips(values: Iterable[str]) -> tuple[list[str], list[str | None]]:
    given = list(values)
    return given, [canonical_ip(v) for v in given]


def _text(col: str) -> str:
    return f"nullif(trim(CAST({col} AS VARCHAR)), '')"


def _first(*checks: str) -> str:
    return "coalesce(" + ", ".join(("_malformed", *checks)) + ")"


def records_sql(
    raw: str, types: dict[str, str], mapping: KindMapping, assume_tz: str | None, ip_map: str
) -> str:
    """Validated access records.

    Columns: row_n, reason, timestamp, account_id, action, object_id, ip, port.
    """
    when = " ".join(
        f"WHEN {sql_literal(spelling)} THEN {sql_literal(action)}"
        for spelling, action in sorted(mapping.action_values.items())
    )
    port, port_given = _port_exprs("r.port", types.get("port", "VARCHAR").upper())
    base = (
        f"SELECT r.row_n, r._malformed, r.timestamp AS _ts_raw,"
        f" {_text('r.account_id')} AS account_id, {_text('r.object_id')} AS object_id,"
        f" {_text('r.action')} AS _action_given,"
        f" CASE lower({_text('r.action')}) {when} END AS action,"
        f" {_text('r.ip')} AS _ip_given, m.ip AS ip, {port_given} AS _port_given, {port} AS port"
        f" FROM ({raw}) r LEFT JOIN {ip_map} m ON m.given = {_text('r.ip')}"
    )
    stage = _parse_timestamps(base, types.get("timestamp", "VARCHAR").upper(), mapping)
    if assume_tz is None:
        ts = "_zoned"
        local_error = f"WHEN _naive IS NOT NULL THEN {sql_literal(NO_ZONE)}"
    else:
        stage = _local_to_utc(stage, assume_tz)
        ts = "coalesce(_zoned, _local)"
        zone = sql_literal(assume_tz)
        local_error = (
            f"WHEN _gap THEN 'nonexistent local time in ' || {zone} || ' (DST gap)'"
            f" WHEN _ambiguous THEN 'ambiguous local time in ' || {zone} || ' (DST overlap)'"
        )
    return (
        "SELECT row_n, "
        + _first(
            "CASE WHEN _ts_raw IS NULL THEN 'missing timestamp'"
            " WHEN _zoned IS NULL AND _naive IS NULL THEN 'unparseable timestamp'"
            f" {local_error} END",
            "CASE WHEN account_id IS NULL THEN 'missing account_id' END",
            "CASE WHEN object_id IS NULL THEN 'missing object_id' END",
            "CASE WHEN _action_given IS NULL THEN 'missing action'"
            " WHEN action IS NULL THEN 'unknown action: ' || left(_action_given, 40) END",
            # An access record is "who touched what, when, from where": without the address
            # it can neither be attributed nor shown in a report, so it is not an event.
            "CASE WHEN _ip_given IS NULL THEN 'missing IP address'"
            " WHEN ip IS NULL THEN 'invalid IP address' END",
            "CASE WHEN _port_given AND port IS NULL THEN 'invalid port' END",
        )
        + f" AS reason, {ts} AS timestamp, account_id, action, object_id, ip, port FROM ({stage})"
    )


def _port_exprs(col: str, port_type: str) -> tuple[str, str]:
    """(value, given) for the port: an integer 0-65535; anything else given is rejected."""
    if port_type in _INTEGER_TYPES:
        return f"CASE WHEN {col} BETWEEN 0 AND 65535 THEN CAST({col} AS INTEGER) END", (
            f"{col} IS NOT NULL"
        )
    text = _text(col)
    return (
        f"CASE WHEN regexp_full_match({text}, '[0-9]{{1,5}}') AND CAST({text} AS INTEGER) <= 65535"
        f" THEN CAST({text} AS INTEGER) END",
        f"{text} IS NOT NULL",
    )


def _parse_timestamps(base: str, ts_type: str, mapping: KindMapping) -> str:
    """Adds _zoned (an instant, TIMESTAMPTZ) or _naive (a wall time, TIMESTAMP) to ``base``.

    Both NULL with a value given means the value did not parse. _ts_raw becomes trimmed text
    (or stays a typed Parquet timestamp).
    """
    if ts_type == "TIMESTAMP WITH TIME ZONE":
        return f"SELECT *, _ts_raw AS _zoned, CAST(NULL AS TIMESTAMP) AS _naive FROM ({base})"
    if ts_type.startswith("TIMESTAMP"):
        return (
            "SELECT *, CAST(NULL AS TIMESTAMPTZ) AS _zoned, CAST(_ts_raw AS TIMESTAMP) AS _naive"
            f" FROM ({base})"
        )
    text = f"SELECT * REPLACE ({_text('_ts_raw')} AS _ts_raw) FROM ({base})"
    if mapping.timestamp_format in _EPOCH:
        pattern, decimal, scale = _EPOCH[mapping.timestamp_format]
        return (
            "SELECT *, CASE WHEN regexp_full_match(_ts_raw, " + sql_literal(pattern) + ") THEN"
            f" CAST(make_timestamp(try_cast(CAST(_ts_raw AS {decimal}) * {scale} AS BIGINT))"
            " AS TIMESTAMPTZ) END AS _zoned, CAST(NULL AS TIMESTAMP) AS _naive"
            f" FROM ({text})"
        )
    parts = (
        f"SELECT *, regexp_extract(_ts_raw, {sql_literal(_ISO)}, ['d', 't', 'z']) AS _p"
        f" FROM ({text})"
    )
    joined = (
        "SELECT * EXCLUDE (_p), CASE WHEN _p.d <> '' THEN _p.d || ' ' || replace(_p.t, ',', '.')"
        " END AS _dt, CASE WHEN upper(_p.z) IN ('Z', 'UTC', 'GMT') THEN '+00:00' ELSE _p.z END"
        f" AS _zone FROM ({parts})"
    )
    return (
        "SELECT * EXCLUDE (_dt, _zone),"
        " CASE WHEN _zone <> '' THEN try_cast(_dt || _zone AS TIMESTAMPTZ) END AS _zoned,"
        " CASE WHEN _zone = '' THEN try_cast(_dt AS TIMESTAMP) END AS _naive"
        f" FROM ({joined})"
    )


def _local_to_utc(stage: str, tz: str) -> str:
    """Adds _local (the UTC instant of _naive read in ``tz``), _gap and _ambiguous.

    With u0 ICU's reading of the wall time L, the zone's offsets 12 hours either side give two
    candidate instants L - offset; a candidate counts when it reads back as L. Equal offsets:
    no transition near. Both candidates count: an overlap (ambiguous). Neither: a gap (a wall
    time that never happened). Picking one in either case would be a guess, so both are rejected.
    """
    z = sql_literal(tz)
    return (
        "SELECT * EXCLUDE (_u0, _ca, _cb, _va, _vb), CASE WHEN _naive IS NULL THEN NULL"
        " WHEN _ca = _cb OR (_va AND NOT _vb) THEN CAST(_ca AS TIMESTAMPTZ)"
        " WHEN _vb AND NOT _va THEN CAST(_cb AS TIMESTAMPTZ) END AS _local,"
        " coalesce(_ca <> _cb AND _va AND _vb, false) AS _ambiguous,"
        " coalesce(_ca <> _cb AND NOT _va AND NOT _vb, false) AS _gap FROM ("
        f" SELECT *, timezone({z}, CAST(_ca AS TIMESTAMPTZ)) = _naive AS _va,"
        f" timezone({z}, CAST(_cb AS TIMESTAMPTZ)) = _naive AS _vb FROM ("
        f" SELECT *, _naive - (timezone({z}, _u0 - INTERVAL 12 HOUR)"
        " - CAST(_u0 - INTERVAL 12 HOUR AS TIMESTAMP)) AS _ca,"
        f" _naive - (timezone({z}, _u0 + INTERVAL 12 HOUR)"
        " - CAST(_u0 + INTERVAL 12 HOUR AS TIMESTAMP)) AS _cb FROM ("
        f" SELECT *, timezone({z}, _naive) AS _u0 FROM ({stage}))))"
    )


def accounts_sql(raw: str) -> str:
    """Validated account rows: every identifier kept as given, trimmed; account_id required."""
    fields = [name for name, _ in FIELDS["accounts"]]
    cols = ", ".join(f"{_text(f)} AS {f}" for f in fields)
    return (
        "SELECT row_n, "
        + _first("CASE WHEN account_id IS NULL THEN 'missing account_id' END")
        + f" AS reason, {', '.join(fields)} FROM (SELECT row_n, _malformed, {cols} FROM ({raw}))"
    )


def catalog_sql(raw: str) -> str:
    """Validated catalog rows: hashes lowercase hex of the right length; at least one hash;
    ``viewed_by_provider`` a clear yes or no (``VIEWED_VALUES``) or empty (not said)."""
    hashes = list(_HASH_HEX)
    cols = ", ".join(f"lower({_text(h)}) AS {h}" for h in hashes)
    checks = [
        f"CASE WHEN {h} IS NOT NULL AND NOT regexp_full_match({h}, '[0-9a-f]{{{n}}}')"
        f" THEN '{h} is not {n} hex digits' END"
        for h, n in _HASH_HEX.items()
    ]
    none = " AND ".join(f"{h} IS NULL" for h in hashes)
    viewed = " ".join(
        f"WHEN {sql_literal(spelling)} THEN {str(value).upper()}"
        for spelling, value in sorted(VIEWED_VALUES.items())
    )
    return (
        "SELECT row_n, "
        + _first(
            "CASE WHEN object_id IS NULL THEN 'missing object_id' END",
            *checks,
            f"CASE WHEN {none} THEN 'no hash (md5, sha1, sha256 or pdq)' END",
            # A guess here would decide who may open the file: anything unclear is rejected.
            "CASE WHEN _viewed_given IS NOT NULL AND viewed_by_provider IS NULL THEN"
            f" {sql_literal(VIEWED_PROBLEM)} || left(_viewed_given, 40) END",
        )
        + f" AS reason, object_id, {', '.join(hashes)}, viewed_by_provider"
        + f" FROM (SELECT row_n, _malformed, {_text('object_id')} AS object_id, {cols},"
        + f" {_text('viewed_by_provider')} AS _viewed_given,"
        + f" CASE lower({_text('viewed_by_provider')}) {viewed} END AS viewed_by_provider"
        + f" FROM ({raw}))"
    )

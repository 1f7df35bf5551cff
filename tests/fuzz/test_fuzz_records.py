"""Provider files (access records, accounts, catalogs as CSV, JSON Lines, Parquet) and column
mappings: any input ends in an ingest (bad rows rejected by number, with a reason) or an
``IngestError``/``MappingError`` naming the file; never a crash, hang or blow-up."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check_bytes, hostile_text, mutated
from hypothesis import given
from hypothesis import strategies as st

ROWS = [
    ["2024-03-09T13:30:00Z", "acct-1", "upload", "obj-1", "203.0.113.5", "443"],
    ["2024-03-09 14:00:00+13:00", "acct-2", "shared", "obj-2", "2001:db8::1", ""],
    ["1710000000", "acct-3", "view", "obj-3", "198.51.100.7", "80"],
]
HEADER = ["timestamp", "account_id", "action", "object_id", "ip", "port"]
CSV_SEED = ("\n".join(",".join(r) for r in [HEADER, *ROWS]) + "\n").encode()
JSONL_SEED = (
    "\n".join(json.dumps(dict(zip(HEADER, r, strict=True))) for r in ROWS) + "\n"
).encode()
ACCOUNTS_SEED = (
    b"account_id,username,email,phone,device_id\nacct-1,bob,b@example.org,+6421000000,d1\n"
)
CATALOG_SEED = b"object_id,md5,sha256\nobj-1,0123456789abcdef0123456789abcdef,\n"
MAPPING_SEED = b"""[records]
timestamp = "event_time"
account_id = "user"
timestamp_format = "iso8601"
delimiter = ";"

[records.action_values]
upload = "PUT"
share = ["share-link", "LINK_CREATED"]

[accounts]
account_id = "uid"
"""


def _parquet_seed() -> bytes:
    table = pa.table({name: [r[i] for r in ROWS] for i, name in enumerate(HEADER)})
    out = io.BytesIO()
    pq.write_table(table, out, compression="snappy")
    return out.getvalue()


PARQUET_SEED = _parquet_seed()


@FUZZ
@given(data=mutated(CSV_SEED))
def test_records_csv_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "records", data, ".csv")


@FUZZ
@given(rows=st.lists(st.lists(hostile_text(), min_size=1, max_size=8), max_size=8))
def test_records_csv_hostile_cells(sandbox: Sandbox, rows: list[list[str]]) -> None:
    text = "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"
    check_bytes(sandbox, "records", text.encode("utf-8", "surrogateescape"), ".csv")


@FUZZ
@given(data=mutated(JSONL_SEED))
def test_records_jsonl_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "records", data, ".jsonl")


@FUZZ
@given(data=mutated(PARQUET_SEED, max_ops=2))
def test_records_parquet_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "records", data, ".parquet")


@FUZZ
@given(data=mutated(ACCOUNTS_SEED))
def test_accounts_csv_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "accounts", data, ".csv")


@FUZZ
@given(data=mutated(CATALOG_SEED))
def test_catalog_csv_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "catalog", data, ".csv")


@FUZZ
@given(data=mutated(MAPPING_SEED))
def test_mapping_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "mapping", data, ".toml")


@pytest.mark.parametrize(
    ("target", "seed", "suffix", "summary"),
    [
        ("records", CSV_SEED, ".csv", "3 read, 2 accepted, 1 rejected"),
        ("records", JSONL_SEED, ".jsonl", "3 read, 2 accepted, 1 rejected"),
        ("records", PARQUET_SEED, ".parquet", "3 read, 2 accepted, 1 rejected"),
        ("accounts", ACCOUNTS_SEED, ".csv", "1 read, 1 accepted, 0 rejected"),
        ("catalog", CATALOG_SEED, ".csv", "1 read, 1 accepted, 0 rejected"),
    ],
)
def test_seeds_are_read(
    sandbox: Sandbox, target: str, seed: bytes, suffix: str, summary: str
) -> None:
    """The unmutated seeds ingest (the epoch timestamp is rejected: the mapping says ISO)."""
    assert check_bytes(sandbox, target, seed, suffix).summary == summary


def test_mapping_seed_is_read(sandbox: Sandbox) -> None:
    outcome = check_bytes(sandbox, "mapping", MAPPING_SEED, ".toml")
    assert outcome.kind == "ok" and "'timestamp': 'event_time'" in outcome.summary

"""An analysed simulated operation whose flagged objects have content in a scanned evidence item.

The simulated catalog's SHA-256s are random; here each flagged object's is replaced (before the
analysis) by that of a small generated solid-colour PNG, and those PNGs are scanned as evidence,
so ``--include-files`` has real content to read back. Everything is synthetic and benign.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow.compute as pc
import pyarrow.dataset as ds
from PIL import Image
from sqlalchemy import select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
from kaitiaki.records import ingested_files
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Account


@dataclass
class Analysed:
    root: Path
    db: str
    store: Store
    images: dict[str, bytes]  # sha256 -> the PNG scanned as evidence

    @property
    def workspace(self) -> Path:
        return self.root / "results" / "workspace"


def _png(number: int) -> bytes:
    colour = (number % 256, (number // 256) % 256, 91)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def analyse_with_evidence(root: Path, *, seed: int = 11, size: int = 600) -> Analysed:
    sim = root / "sim"
    simulate_operation(sim, accounts=size, flagged_accounts=size // 10, events=size * 20, seed=seed)
    listed = {
        str(entry["MD5"]).lower()
        for entry in json.loads((sim / "hashset.json").read_text())["value"]
    }
    with (sim / "catalog.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    evidence = root / "evidence"
    evidence.mkdir()
    images: dict[str, bytes] = {}
    for number, row in enumerate(rows):
        if row["md5"].lower() not in listed:
            continue
        # Flagged by MD5/SHA-1/PDQ in the set: a new SHA-256 leaves the flag as it was.
        data = _png(number)
        row["sha256"] = hashlib.sha256(data).hexdigest()
        images[row["sha256"]] = data
        (evidence / f"{row['object_id']}.png").write_bytes(data)
    with (sim / "catalog.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    db = f"sqlite:///{root / 'k.db'}"
    store = open_store(db)
    import_hash_set(store, sim / "hashset.json", "operation-set", "vics", actor="cli:tester")
    analyse_operation(
        store,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        root / "results",
        AnalysisOptions(),
        actor="test:setup",
    )
    run_scan(store, [evidence], "provider-export", actor="test:setup", workers=1)
    return Analysed(root, db, store, images)


def busiest_subject_account(store: Store) -> tuple[str, str]:
    """(account id, subject id) of the attributed account with the most flagged files."""
    with store.session() as session:
        row = session.execute(
            select(Account.account_id, Account.subject_id)
            .where(Account.subject_id.is_not(None))
            .order_by(Account.flagged_files.desc(), Account.account_id)
            .limit(1)
        ).one()
    return str(row[0]), str(row[1])


def parquet_rows(
    workspace: Path, kind: Literal["records", "accounts", "catalog"], account_id: str
) -> list[dict[str, Any]]:
    table = ds.dataset([str(p) for p in ingested_files(workspace, kind)]).to_table(
        filter=pc.field("account_id") == account_id
    )
    return list(table.to_pylist())

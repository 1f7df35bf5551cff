"""``fileViewedByEsp`` comes from the provider's own word: the catalog's ``viewed_by_provider``
(or a scanned provider export's viewed list); files with an evidence copy are uploaded and
get ``fileDetails``, the others are listed by hash in the report."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cybertip_samples import Analysed, analyse, subject_accounts
from lxml import etree
from ncmec_shared import ncmec_schema
from sqlalchemy import select

from kaitiaki.cybertip.drafts import draft_report, get_report, report_document, revise_draft
from kaitiaki.cybertip.gather import scanned_viewed
from kaitiaki.cybertip.profile import set_profile
from kaitiaki.scan.provider_views import mark_viewed
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReportFile, Evidence, File, FileInstance

SAYS = ("true", "false", "yes", "0", "")  # what the catalog says, row by row in turn
MEANS = {"true": True, "false": False, "yes": True, "0": False, "": None}


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysed, dict[str, bool | None]]:
    """An analysed operation whose catalog says per object whether the provider viewed it."""
    root = tmp_path_factory.mktemp("cybertip-viewed")
    sim = root / "sim"
    simulate_operation(sim, accounts=1500, flagged_accounts=150, events=30_000, seed=5)
    with (sim / "catalog.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    viewed: dict[str, bool | None] = {}
    with (sim / "catalog.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "viewed_by_provider"])
        writer.writeheader()
        for n, row in enumerate(rows):
            value = SAYS[n % len(SAYS)]
            viewed[row["object_id"]] = MEANS[value]
            writer.writerow({**row, "viewed_by_provider": value})
    a = analyse(root, seed=5, size=1500)
    set_profile(
        a.store,
        actor="test:setup",
        first_name="Ana",
        last_name="Trust",
        email="ana.trust@example.org",
        esp_name="ExampleCloud",
    )
    return a, viewed


def _details(a: Analysed, report_id: int) -> list[Any]:
    with a.store.session() as session:
        rows = session.scalars(
            select(CyberTipReportFile.details).where(CyberTipReportFile.report_id == report_id)
        ).all()
    return [etree.fromstring(d.encode()) for d in rows]


def _object(details: Any) -> str:
    return str(details.findtext("additionalInfo")).removeprefix("Provider object id: ")


def test_file_viewed_by_esp_is_the_catalogs_word(
    said: tuple[Analysed, dict[str, bool | None]],
) -> None:
    a, viewed = said
    reported: dict[str, str] = {}
    for subject in sorted(subject_accounts(a.store)):
        report_id = draft_report(a.store, a.workspace, subject, actor="test:analyst")
        for file in _details(a, report_id):
            reported[_object(file)] = str(file.findtext("fileViewedByEsp"))
    assert reported == {
        object_id: "true" if viewed[object_id] else "false" for object_id in reported
    }
    # The run covers all three: said viewed, said not viewed, not said (reported as not viewed).
    assert {viewed[o] for o in reported} == {True, False, None}


def test_files_with_an_evidence_copy_are_uploaded_not_listed(
    said: tuple[Analysed, dict[str, bool | None]],
) -> None:
    a, _ = said
    subject = sorted(subject_accounts(a.store))[0]
    first = draft_report(a.store, a.workspace, subject, actor="test:analyst")
    files = get_report(a.store, first).files
    assert len(files) >= 1 and all(f.sha256 for f in files)
    held = files[0]
    with a.store.session() as session:
        evidence = Evidence(name=f"provider-copy-{subject}")
        session.add(evidence)
        session.add(
            File(sha256=held.sha256, md5="0" * 32, sha1="0" * 40, size=1, kind="image", mime="x")
        )
        session.flush()
        for path, viewed in (("b.jpg", None), ("a.jpg", True)):
            session.add(
                FileInstance(
                    evidence_id=evidence.id,
                    path=path,
                    source=path,
                    sha256=held.sha256,
                    viewed_by_provider=viewed,
                )
            )
        session.flush()
        preferred = session.scalars(
            select(FileInstance.id).where(
                FileInstance.path == "a.jpg", FileInstance.evidence_id == evidence.id
            )
        ).one()
    report_id = draft_report(a.store, a.workspace, subject, actor="t", include_files=True)
    instances = {f.object_id: f.instance_id for f in get_report(a.store, report_id).files}
    assert instances[held.object_id] == preferred
    assert {v for k, v in instances.items() if k != held.object_id} <= {None}
    listing = etree.fromstring(report_document(a.store, report_id)).findtext("additionalInfo") or ""
    assert held.sha256 not in listing
    assert all(f.sha256 in listing for f in files[1:])
    # Revised to details only: the file is listed again and has nothing to upload from.
    revise_draft(a.store, report_id, actor="t", include_files=False)
    doc = etree.fromstring(report_document(a.store, report_id))
    assert held.sha256 in (doc.findtext("additionalInfo") or "")
    assert ncmec_schema().validate(doc)
    assert all(f.instance_id is None for f in get_report(a.store, report_id).files)


def test_a_scanned_provider_export_speaks_where_the_catalog_does_not(
    store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "a.bin").write_bytes(b"benign file a")
    (root / "b.bin").write_bytes(b"benign file b")
    listing = tmp_path / "viewed.txt"
    listing.write_text("a.bin\n")
    result = run_scan(
        store, [root], "provider-export", workers=1, instances_viewed=False, actor="test:setup"
    )
    mark_viewed(store, result.evidence_id, listing, [root], actor="test:provider")
    a, b = (hashlib.sha256(f"benign file {n}".encode()).hexdigest() for n in "ab")
    unknown = hashlib.sha256(b"never scanned").hexdigest()
    assert scanned_viewed(store, [a, b, unknown]) == {a: True, b: False}

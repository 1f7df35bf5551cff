"""``fileViewedByEsp`` comes from the provider's own word: the catalog's ``viewed_by_provider``
(or a scanned provider export's viewed list), and each ``fileDetails`` is valid against
NCMEC's real schema once it carries a ``reportId``."""

from __future__ import annotations

import copy
import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cybertip_samples import Analysed, analyse, subject_accounts
from lxml import etree

from kaitiaki.refer.cybertip import Reporter, cybertip_report, scanned_viewed
from kaitiaki.scan.provider_views import mark_viewed
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store

REPORTER = Reporter("Ana Trust", "ana.trust@example.org", "ExampleCloud")
NCMEC_XSD = Path(__file__).parent / "ncmec" / "cybertipline-report.xsd"
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
    return analyse(root, seed=5, size=1500), viewed


def _details(a: Analysed) -> list[Any]:
    found = []
    for subject in sorted(subject_accounts(a.store)):
        doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
        found += list(doc.iter("fileDetails"))
    return found


def test_file_viewed_by_esp_is_the_catalogs_word(
    said: tuple[Analysed, dict[str, bool | None]],
) -> None:
    a, viewed = said
    details = _details(a)
    reported = {f.findtext("fileId"): f.findtext("fileViewedByEsp") for f in details}
    assert reported == {
        object_id: "true" if viewed[object_id] else "false" for object_id in reported
    }
    # The run covers all three: said viewed, said not viewed, not said (reported as not viewed).
    assert {viewed[o] for o in reported} == {True, False, None}


def test_each_file_details_is_valid_ncmec(
    said: tuple[Analysed, dict[str, bool | None]],
) -> None:
    schema = etree.XMLSchema(etree.parse(str(NCMEC_XSD)))
    a, _ = said
    details = _details(a)
    assert details
    for file in details:
        # NCMEC's fileDetails is a document of its own (the /fileinfo call), after a reportId.
        document = etree.Element("fileDetails")
        etree.SubElement(document, "reportId").text = "4564654"
        for child in file:
            document.append(copy.deepcopy(child))
        assert schema.validate(document), schema.error_log
        assert document.find("fileViewedByEsp") is not None


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

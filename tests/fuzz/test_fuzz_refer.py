"""What partners send back: referral packages to verify, pointer files, outcome and enrichment
CSVs. A package check reports every problem and never raises; the files end in a result or
their clear error naming the file (and the row, for CSVs); never a crash, hang or blow-up."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check, check_bytes, hostile_text, mutated
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.refer.signing import MANIFEST, write_signed_manifest

KEY = Ed25519PrivateKey.generate()
PACKAGE_FILES = {
    "package.json": b'{"package_id": "KAI-NZ-20240101-1", "subjects": []}\n',
    "events.csv": b"subject_id,account_id,timestamp\nS1,acct-1,2024-01-01T00:00:00Z\n",
    "report.html": b"<html><body>report</body></html>\n",
}


def _package(files: dict[str, bytes] = PACKAGE_FILES) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-package-"))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    write_signed_manifest(folder, KEY, {"package_id": "KAI-NZ-20240101-1", "created": "now"})
    return folder


MANIFEST_SEED = (_package() / MANIFEST).read_bytes()


def _verify(sandbox: Sandbox, folder: Path) -> None:
    try:
        check(sandbox, "package", folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(manifest=mutated(MANIFEST_SEED))
def test_package_manifest_mutations(sandbox: Sandbox, manifest: bytes) -> None:
    folder = _package()
    (folder / MANIFEST).write_bytes(manifest)
    _verify(sandbox, folder)


_listed_names = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "../../../../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "nul\x00byte",
            "",
            ".",
            "sub/",
            "a" * 5000,
            "manifest.sig",
            "link",
            "loop/x",
            "fifo",
        ]
    ),
)
_values = st.one_of(
    st.text(max_size=70),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.just("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
)


def _plant(folder: Path, what: str) -> None:
    """Things a hostile sender puts in a package folder."""
    if what == "link":
        (folder / "link").symlink_to("/etc/passwd")
    elif what == "loop":
        (folder / "loop").symlink_to(".")
    elif what == "fifo":
        os.mkfifo(folder / "fifo")
    elif what == "dir":
        (folder / "sub").mkdir()
        (folder / "sub" / "deep.txt").write_bytes(b"x")
    elif what == "manifest-link":
        (folder / MANIFEST).unlink()
        (folder / MANIFEST).symlink_to("/dev/zero")


@FUZZ
@given(
    listed=st.one_of(
        st.dictionaries(_listed_names, _values, max_size=6),
        st.lists(st.tuples(st.one_of(st.integers(), _listed_names), _values), max_size=4),
        st.sampled_from(["files", 7, None, [[1, 2]]]),
    ),
    planted=st.lists(st.sampled_from(["link", "loop", "fifo", "dir", "manifest-link"]), max_size=3),
    depth=st.sampled_from([0, 0, 50, 100_000]),
)
def test_package_hostile_manifests(
    sandbox: Sandbox, listed: object, planted: list[str], depth: int
) -> None:
    folder = _package()
    text = json.dumps({"package_id": "x", "files": listed})
    if depth:
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    (folder / MANIFEST).write_text(text)
    for what in dict.fromkeys(planted):
        _plant(folder, what)
    _verify(sandbox, folder)


POINTERS_SEED = json.dumps(
    {
        "format": "kaitiaki-pointers",
        "version": 1,
        "algorithm": "HMAC-SHA256",
        "contact_reference": "NZ Police OCEANZ, ref 1",
        "operation": "op",
        "created": "2024-01-01T00:00:00Z",
        "key_id": "abcd",
        "pointers": ["0" * 64, "f" * 64],
    }
).encode()


@FUZZ
@given(data=mutated(POINTERS_SEED))
def test_pointer_file_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "pointers", data, ".json")


OUTCOMES_SEED = (
    b"referral_id,subject_id,status,date,arrested,children_safeguarded,note\n"
    b"REF-1,S1,acknowledged,2021-04-01,,,received\n"
    b'REF-1,S1,,2021-05-02,1,3,"three, safeguarded"\n'
)
ENRICHMENT_SEED = (
    b"subject_id,position_of_trust,access_to_children,prior_offences,notes\n"
    b"S1,Yes,1,false,teacher\n"
)


def _csv(header: str) -> Callable[[list[list[str]]], bytes]:
    def build(rows: list[list[str]]) -> bytes:
        text = "\n".join([header, *(",".join(row) for row in rows)]) + "\n"
        return text.encode("utf-8", "surrogateescape")

    return build


_rows = st.lists(st.lists(hostile_text(), min_size=1, max_size=8), max_size=5)


@FUZZ
@given(data=mutated(OUTCOMES_SEED))
def test_outcome_file_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "outcomes", data, ".csv")


@FUZZ
@given(data=_rows.map(_csv("referral_id,subject_id,status,date,arrested,children_safeguarded")))
def test_outcome_file_hostile_cells(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "outcomes", data, ".csv")


@FUZZ
@given(data=mutated(ENRICHMENT_SEED))
def test_enrichment_file_mutations(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "enrichment", data, ".csv")


@FUZZ
@given(data=_rows.map(_csv("subject_id,position_of_trust,travel,notes")))
def test_enrichment_file_hostile_cells(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "enrichment", data, ".csv")


def test_seeds_are_read(sandbox: Sandbox) -> None:
    """Sound inputs give results, so the mutations start from input the parsers accept."""
    folder = _package()
    try:
        assert check(sandbox, "package", folder).summary == "intact"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert check_bytes(sandbox, "pointers", POINTERS_SEED, ".json").summary == "2 pointers"
    assert check_bytes(sandbox, "outcomes", OUTCOMES_SEED, ".csv").summary == "2 rows"
    assert check_bytes(sandbox, "enrichment", ENRICHMENT_SEED, ".csv").summary == "1 rows"

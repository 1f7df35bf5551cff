"""A bare 64-hex value is a SHA-256 or a PDQ hash: never guessed, and every import says what it
read by signal type, so a list read as the wrong type shows at once (issue 18)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hashset_samples import media, row_counts

from in_process import kaitiaki
from kaitiaki.hashsets import import_hash_set, iter_entries
from kaitiaki.hashsets.entry import Hex64UndecidedError
from kaitiaki.hashsets.precheck import first_undecided
from kaitiaki.store import Store

PDQS = [f"{i:02x}" * 32 for i in range(1, 4)]
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
READINGS = (
    "64 hex digits can be a SHA-256 or a PDQ hash; say which with --hex64 sha256 or "
    "--hex64 pdq (or prefix the value sha256:/pdq:"
)


def _list(tmp_path: Path, lines: list[str], name: str = "pdq.txt") -> Path:
    path = tmp_path / name
    path.write_text("# PDQ hashes from a partner\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_a_plain_pdq_list_is_refused_naming_both_readings(store: Store, tmp_path: Path) -> None:
    path = _list(tmp_path, [MD5, *PDQS])
    refused = kaitiaki("hashset", "import", str(path), "--name", "p", "--db", store.url)
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [f"error: {path}: line 3: {READINGS})"]
    assert row_counts(store) == (0, 0)


def test_hex64_pdq_reads_the_list_as_pdq_and_says_so(store: Store, tmp_path: Path) -> None:
    path = _list(tmp_path, [MD5, *PDQS])
    done = kaitiaki(
        "hashset", "import", str(path), "--name", "p", "--hex64", "pdq", "--db", store.url
    )
    assert done.exit_code == 0, done.output
    assert "read 4 entries: pdq 3, md5 1" in done.stdout.splitlines()
    assert [e.pdq for e in iter_entries(store, "p")][1:] == PDQS


def test_pdq_prefixes_need_no_flag(store: Store, tmp_path: Path) -> None:
    path = _list(tmp_path, ["pdq:" + PDQS[0], "PDQ:" + PDQS[1], "sha256:" + PDQS[2]])
    done = kaitiaki("hashset", "import", str(path), "--name", "p", "--db", store.url)
    assert done.exit_code == 0, done.output
    assert "read 3 entries: pdq 2, sha256 1" in done.stdout
    assert [e.hashes() for e in iter_entries(store, "p")] == [
        {"pdq": PDQS[0]},
        {"pdq": PDQS[1]},
        {"sha256": PDQS[2]},
    ]


def test_a_csv_pdq_header_settles_it_and_a_hash_header_does_not(
    store: Store, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.csv"
    typed.write_text("MediaID,PDQ\n" + "".join(f"{i},{h}\n" for i, h in enumerate(PDQS)))
    done = kaitiaki("hashset", "import", str(typed), "--name", "t", "--db", store.url)
    assert done.exit_code == 0, done.output
    assert "read 3 entries: pdq 3" in done.stdout
    bare = tmp_path / "bare.csv"
    bare.write_text("MediaID,Hash\n" + "".join(f"{i},{h}\n" for i, h in enumerate(PDQS)))
    refused = kaitiaki("hashset", "import", str(bare), "--name", "b", "--db", store.url)
    assert refused.exit_code == 1
    assert f"{bare}: row 1 (line 2): {READINGS}, or name the column sha256 or pdq)" in (
        refused.stderr
    )


def test_hashset_add_refuses_the_same_way_and_counts(store: Store, tmp_path: Path) -> None:
    import_hash_set(store, _list(tmp_path, [MD5]), "bank", "list", actor="test:setup")
    more = _list(tmp_path, PDQS, "more.txt")
    refused = kaitiaki("hashset", "add", "bank", str(more), "--db", store.url)
    assert refused.exit_code == 1 and f"{more}: line 2: {READINGS}" in refused.stderr
    done = kaitiaki("hashset", "add", "bank", str(more), "--hex64", "pdq", "--db", store.url)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == "read 3 entries: pdq 3"


def test_a_vics_import_counts_every_signal_of_its_entries(
    store: Store, write_vics: Callable[..., Path]
) -> None:
    path = write_vics([media(1), media(2)])
    done = kaitiaki("hashset", "import", str(path), "--name", "pv", "--db", store.url)
    assert done.exit_code == 0, done.output
    assert "read 2 entries: sha1 2, md5 2" in done.stdout.splitlines()


def test_the_precheck_finds_what_the_import_would_refuse(tmp_path: Path) -> None:
    path = _list(tmp_path, [MD5, *PDQS])
    found = first_undecided(path)
    assert isinstance(found, Hex64UndecidedError) and found.where == "line 3"
    assert found.told("sent.txt", "X") == (
        "sent.txt: line 3: 64 hex digits can be a SHA-256 or a PDQ hash; say which with X "
        "(or prefix the value sha256:/pdq:)"
    )
    assert first_undecided(path, hex64="pdq") is None
    assert first_undecided(_list(tmp_path, [MD5], "md5.txt")) is None
    # Only the head is read: a value past the limit is left to the import, which refuses it.
    late = _list(tmp_path, [MD5] * 100 + PDQS, "late.txt")
    assert first_undecided(late, limit=1024) is None


def test_the_import_job_takes_hex64_and_returns_the_counts(store: Store, tmp_path: Path) -> None:
    from kaitiaki.jobs import DONE, FAILED, JobParamsError, JobRunner, get_job, submit

    path = _list(tmp_path, [MD5, *PDQS])
    with pytest.raises(JobParamsError, match="hex64: must be one of sha256, pdq"):
        submit(store, "import_hash_set", {"path": str(path), "name": "j", "hex64": "md5"}, by="a")
    taken = submit(
        store, "import_hash_set", {"path": str(path), "name": "j", "hex64": "pdq"}, by="a"
    )
    undecided = submit(store, "import_hash_set", {"path": str(path), "name": "u"}, by="a")
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = [get_job(store, taken), get_job(store, undecided)]
            if all(j is not None and j.status in (DONE, FAILED) for j in jobs):
                break
            time.sleep(0.05)
    finally:
        assert runner.stop()
    done, failed = get_job(store, taken), get_job(store, undecided)
    assert done is not None and done.status == DONE, done and done.error
    assert done.result is not None and done.result["signals"] == {"pdq": 3, "md5": 1}
    assert failed is not None and failed.status == FAILED
    assert failed.error is not None and READINGS in failed.error

"""Hash exchanges through Meta's threatexchange clients: the package's sample exchange and local
list files (never the network); incremental, resumable fetches; credentials encrypted at rest."""

from __future__ import annotations

import hashlib
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, text
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.stop_ncii_api import (
    StopNCIICheckpoint,
    StopNCIISignalExchangeAPI,
)
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from in_process import kaitiaki
from kaitiaki.exchanges import (
    ExchangeError,
    ExchangeExistsError,
    FetchReport,
    add_exchange,
    exchange_status,
    fetch,
    list_exchanges,
    remove_exchange,
)
from kaitiaki.exchanges.apply import apply_operations
from kaitiaki.exchanges.fetch import _plan, redact
from kaitiaki.exchanges.registry import APIS
from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Exchange,
    ExchangeItem,
    HashSet,
    HashSetEntry,
    utcnow,
)

ACTOR = "test:analyst"
SECRET = "analyst-7:correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The credential key file lands in the test's folder, never the user's home.
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.delenv("KAITIAKI_SECRET_KEY", raising=False)


def _pdq(n: int) -> str:
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


def _md5(n: int) -> str:
    return hashlib.md5(f"video-{n}".encode()).hexdigest()


def _write_list(path: Path, pdqs: range, md5s: range = range(0)) -> Path:
    lines = [f"pdq {_pdq(n).upper()}" for n in pdqs] + [f"video_md5 {_md5(n)}" for n in md5s]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _entries(store: Store, hash_set: str) -> list[str]:
    """The set's entries as "pdq:HEX" / "md5:HEX", sorted."""
    with store.session() as session:
        rows = session.execute(
            select(HashSetEntry.pdq, HashSetEntry.md5)
            .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
            .where(HashSet.name == hash_set)
        )
        return sorted(f"pdq:{pdq}" if pdq else f"md5:{md5}" for pdq, md5 in rows)


def _actions(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_sample_exchange_fills_a_hash_set(store: Store) -> None:
    add_exchange(store, "sample", "sample", hash_set="sample-bank", actor=ACTOR)
    report = fetch(store, "sample", actor=ACTOR)

    pdqs = sorted(PdqSignal.get_examples())
    md5s = sorted(VideoMD5Signal.get_examples())
    entries = _entries(store, "sample-bank")
    assert entries == sorted([f"pdq:{p.lower()}" for p in pdqs] + [f"md5:{m}" for m in md5s])
    assert report.result.entries_added == len(entries) == len(pdqs) + len(md5s)
    view = exchange_status(store, "sample")
    assert (view.last_fetch_status, view.items, view.last_error) == ("ok", len(entries), None)
    # The new entries queue a retroactive match of the set, in the fetch's transaction.
    assert _actions(store) == [
        "hashset.imported",
        "exchange.added",
        "exchange.fetched",
        "job_submitted",
    ]

    # Fetching again changes nothing and so writes nothing to the audit log.
    fetch(store, "sample", actor=ACTOR)
    assert _entries(store, "sample-bank") == entries
    assert _actions(store).count("exchange.fetched") == 1
    assert _actions(store).count("job_submitted") == 1
    with store.session() as session:
        count = session.scalar(select(HashSet.entry_count).where(HashSet.name == "sample-bank"))
    assert count == len(entries)


def test_a_list_file_adds_and_its_deleted_lines_remove_entries(
    store: Store, tmp_path: Path
) -> None:
    listing = _write_list(tmp_path / "list.txt", range(5), range(2))
    add_exchange(store, "partner", "local_file", path=str(listing), actor=ACTOR)
    fetch(store, "partner", actor=ACTOR)
    assert _entries(store, "partner") == sorted(
        [f"pdq:{_pdq(n)}" for n in range(5)] + [f"md5:{_md5(n)}" for n in range(2)]
    )

    _write_list(listing, range(3, 7))  # 0-2 and the videos gone, 5-6 new
    report = fetch(store, "partner", actor=ACTOR)
    assert _entries(store, "partner") == sorted(f"pdq:{_pdq(n)}" for n in range(3, 7))
    assert (report.result.entries_added, report.result.entries_removed) == (2, 5)
    assert exchange_status(store, "partner").items == 4

    fetch(store, "partner", actor=ACTOR)  # nothing duplicated by a refetch
    assert _entries(store, "partner") == sorted(f"pdq:{_pdq(n)}" for n in range(3, 7))


def test_an_interrupted_fetch_resumes_to_the_same_entries(store: Store, tmp_path: Path) -> None:
    listing = _write_list(tmp_path / "list.txt", range(7), range(2))
    add_exchange(store, "whole", "local_file", path=str(listing), actor=ACTOR)
    add_exchange(store, "broken", "local_file", path=str(listing), actor=ACTOR)
    fetch(store, "whole", actor=ACTOR, batch_size=2)

    class KilledError(Exception):
        pass

    def kill(report: FetchReport) -> None:
        raise KilledError(f"after batch {report.batches}")

    with pytest.raises(KilledError):
        fetch(store, "broken", actor=ACTOR, batch_size=2, on_progress=kill)
    assert len(_entries(store, "broken")) == 2  # the first batch committed, and only it
    status = exchange_status(store, "broken")
    assert (status.last_fetch_status, status.last_error) == ("error", "KilledError: after batch 1")

    fetch(store, "broken", actor=ACTOR, batch_size=2)
    assert _entries(store, "broken") == _entries(store, "whole")
    assert len(_entries(store, "whole")) == 9
    assert exchange_status(store, "broken").items == 9


def test_opinion_changes_and_deletes_reach_the_hash_set(store: Store) -> None:
    add_exchange(store, "seen", "sample", actor=ACTOR)
    signal = ("pdq", _pdq(1))

    def apply(opinion: str | None) -> tuple[str | None, list[str]]:
        with store.session() as session:
            row = session.scalar(select(Exchange).where(Exchange.name == "seen"))
            bank = session.scalar(select(HashSet).where(HashSet.name == "seen"))
            assert row is not None and bank is not None
            apply_operations(session, row, bank, {signal: opinion}, utcnow())
        with store.session() as session:
            item = session.scalar(select(ExchangeItem.opinion))
            extras = [e.extra["opinion"] for e in session.scalars(select(HashSetEntry))]
        return item, extras

    assert apply("positive") == ("positive", ["positive"])
    assert apply("disputed") == ("disputed", ["disputed"])  # still matches, marked disputed
    assert apply("negative") == ("negative", [])  # a known false positive leaves the set
    assert apply("positive") == ("positive", ["positive"])
    assert apply(None) == (None, [])  # an upstream delete
    with store.session() as session:
        assert session.scalar(select(HashSet.entry_count).where(HashSet.name == "seen")) == 0


def test_a_stale_checkpoint_starts_a_full_fetch() -> None:
    fresh = {"api": {"update_time": 5, "last_fetch_time": int(time.time())}, "full_since": None}
    checkpoint, since = _plan(StopNCIISignalExchangeAPI, fresh)
    assert isinstance(checkpoint, StopNCIICheckpoint) and checkpoint.update_time == 5
    assert since is None  # resumed: an incremental fetch, nothing to sweep

    stale = {"api": {"update_time": 5, "last_fetch_time": 1_000}, "full_since": None}
    assert _plan(StopNCIISignalExchangeAPI, stale)[0] is None
    assert _plan(StopNCIISignalExchangeAPI, stale)[1] is not None
    unreadable = {"api": {"no_such_field": 1}, "full_since": None}
    assert _plan(StopNCIISignalExchangeAPI, unreadable)[0] is None


def test_credentials_are_encrypted_and_never_shown(store: Store, tmp_path: Path) -> None:
    secret_file = tmp_path / "ncmec.txt"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    url = store.engine.url.render_as_string(hide_password=False)
    added = kaitiaki(
        "exchange", "add", "ncmec-ngo", "--api", "ncmec", "--config", '{"environment": "NGO"}',
        "--credentials-file", str(secret_file), "--db", url,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = kaitiaki("exchange", "list", "--db", url)
    shown = kaitiaki("exchange", "status", "ncmec-ngo", "--db", url)
    assert "stored (encrypted)" in shown.stdout and "ncmec-ngo" in listed.stdout
    password = SECRET.split(":")[1]
    for result in (added, listed, shown):
        assert password not in result.output

    with store.session() as session:
        stored = session.scalar(select(Exchange.credentials))
        audit = " ".join(str(d) for d in session.scalars(select(AuditEvent.details)))
        raw = " ".join(str(r) for r in session.execute(text("SELECT * FROM exchanges")).all())
    assert stored is not None and password not in stored and password not in raw
    assert password not in audit and "'credentials': True" in audit
    key = tmp_path / "keys" / "exchange-credentials.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert redact(f"GET https://x/?token={password} failed", SECRET).count(password) == 0

    removed = kaitiaki("exchange", "remove", "ncmec-ngo", "--db", url)
    assert removed.exit_code == 0 and list_exchanges(store) == []


def test_bad_settings_are_refused_before_anything_is_stored(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ExchangeError, match="unknown exchange API 'nope'"):
        add_exchange(store, "x", "nope", actor=ACTOR)
    listing = _write_list(tmp_path / "list.txt", range(1))
    with pytest.raises(ExchangeError, match="'colour' is not a setting of local_file"):
        add_exchange(store, "x", "local_file", path=str(listing), config={"colour": 1}, actor=ACTOR)
    with pytest.raises(ExchangeError, match=r"missing\.txt: no such file"):
        add_exchange(store, "x", "local_file", path=str(tmp_path / "missing.txt"), actor=ACTOR)
    with pytest.raises(ExchangeError, match="ncmec needs credentials"):
        add_exchange(store, "x", "ncmec", config={"environment": "NGO"}, actor=ACTOR)
    with pytest.raises(ExchangeError, match="incomplete or malformed"):
        add_exchange(
            store, "x", "ncmec", config={"environment": "NGO"}, credentials=":", actor=ACTOR
        )
    with pytest.raises(ExchangeError, match="environment"):
        add_exchange(store, "x", "ncmec", credentials=SECRET, actor=ACTOR)
    assert list_exchanges(store) == [] and _actions(store) == []

    add_exchange(store, "x", "sample", actor=ACTOR)
    with pytest.raises(ExchangeExistsError):
        add_exchange(store, "x", "sample", actor=ACTOR)
    assert remove_exchange(store, "x", actor=ACTOR) == 0
    missing = kaitiaki("exchange", "status", "x", "--db", store.url)
    assert missing.exit_code == 1 and "no exchange named 'x'" in missing.stderr


def test_a_fetch_runs_as_a_background_job(sqlite_store: Store) -> None:
    from kaitiaki.jobs import DONE, FAILED, JobParamsError, JobRunner, get_job, submit

    add_exchange(sqlite_store, "sample", "sample", actor=ACTOR)
    with pytest.raises(JobParamsError, match="no exchange named 'nope'"):
        submit(sqlite_store, "fetch_exchange", {"exchange": "nope"}, by="alice")
    runner = JobRunner(sqlite_store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        job_id = submit(sqlite_store, "fetch_exchange", {"exchange": "sample"}, by="alice")
        deadline = time.monotonic() + 120
        while (job := get_job(sqlite_store, job_id)) is None or job.status not in (DONE, FAILED):
            assert time.monotonic() < deadline, "the fetch job did not finish"
            time.sleep(0.02)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result["entries_added"] == len(_entries(sqlite_store, "sample")) > 0
    with sqlite_store.session() as session:
        fetched = session.scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "exchange.fetched")
        )
    assert fetched == "alice"


@dataclass
class _Page(state.FetchCheckpointBase):
    page: int


@dataclass
class _Opinion(state.FetchedSignalMetadata):
    category: state.SignalOpinionCategory

    def get_as_opinions(self) -> list[state.SignalOpinion]:
        return [state.SignalOpinion(False, self.category, set())]


class RecordedAPI(SignalExchangeAPIWithSimpleUpdates[CollaborationConfigBase, _Page, _Opinion]):
    """An incremental exchange replaying recorded pages, one delta (and checkpoint) a page."""

    PAGES: ClassVar[list[dict[tuple[str, str], _Opinion | None]]] = []

    @classmethod
    def get_name(cls) -> str:
        return "recorded"

    @staticmethod
    def get_config_cls() -> type[CollaborationConfigBase]:
        return CollaborationConfigBase

    @staticmethod
    def get_checkpoint_cls() -> type[_Page]:
        return _Page

    @staticmethod
    def get_record_cls() -> type[_Opinion]:
        return _Opinion

    @classmethod
    def for_collab(cls, collab: CollaborationConfigBase) -> RecordedAPI:
        return cls()

    def fetch_iter(
        self, supported_signal_types: Sequence[type[SignalType]], checkpoint: _Page | None
    ) -> Iterator[state.FetchDelta[tuple[str, str], _Opinion, _Page]]:
        for number in range(checkpoint.page if checkpoint else 0, len(self.PAGES)):
            yield state.FetchDelta(dict(self.PAGES[number]), _Page(number + 1))


def test_an_incremental_fetch_applies_deletes_and_opinions_and_resumes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = state.SignalOpinionCategory
    positive, negative = _Opinion(cat.POSITIVE_CLASS), _Opinion(cat.NEGATIVE_CLASS)
    a, b, c = (("pdq", _pdq(n)) for n in range(3))
    pages: list[dict[tuple[str, str], _Opinion | None]] = [
        {a: positive, b: positive},
        {c: negative, a: None},  # c is a known false positive; a deleted upstream
    ]
    monkeypatch.setattr(RecordedAPI, "PAGES", pages)
    monkeypatch.setitem(APIS, "recorded", RecordedAPI)
    add_exchange(store, "feed", "recorded", actor=ACTOR)

    def kill(report: FetchReport) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        fetch(store, "feed", actor=ACTOR, on_progress=kill)
    assert _entries(store, "feed") == sorted([f"pdq:{a[1]}", f"pdq:{b[1]}"])

    # Resumed at page 2, still a full fetch: its sweep keeps what page 1 gave before the kill.
    report = fetch(store, "feed", actor=ACTOR)
    assert report.batches == 1 and report.swept == 0
    assert _entries(store, "feed") == [f"pdq:{b[1]}"]
    with store.session() as session:
        rows = session.execute(select(ExchangeItem.signal_value, ExchangeItem.opinion))
        items = {value: opinion for value, opinion in rows}
    assert items == {b[1]: "positive", c[1]: "negative"}

    pages += [{b: None}, {c: positive}]  # b deleted; c's opinion now positive
    report = fetch(store, "feed", actor=ACTOR)
    assert (report.batches, report.full) == (2, False)  # only the new pages
    assert _entries(store, "feed") == [f"pdq:{c[1]}"]


def test_ncmec_records_map_to_signals_and_record_deletes_are_counted() -> None:
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEntryType, NCMECEntryUpdate
    from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI

    from kaitiaki.exchanges.apply import to_operations
    from kaitiaki.exchanges.registry import collab_config

    api = NCMECSignalExchangeAPI
    collab = collab_config(api, "ncmec", {"environment": "NGO"})

    def update(n: int, kind: NCMECEntryType, hashes: dict[str, str], deleted: bool = False) -> Any:
        return NCMECEntryUpdate(f"e{n}", 7, kind, deleted, "A1", hashes, {})

    ops = to_operations(
        api,
        collab,
        [
            ("7-e1", update(1, NCMECEntryType.image, {"pdq": _pdq(1).upper(), "md5": "x"})),
            ("7-e2", update(2, NCMECEntryType.video, {"md5": _md5(2)})),
            ("7-e3", update(3, NCMECEntryType.image, {}, deleted=True)),
        ],
    )
    assert ops.records == {
        "7-e1": {("pdq", _pdq(1)): "positive"},  # uppercase upstream, lowercase here
        "7-e2": {("video_md5", _md5(2)): "positive"},
        "7-e3": None,  # a delete, by record id alone
    }
    assert (ops.signals, ops.unmapped) == ({}, 0)


class RecordedNCMEC(RecordedAPI):
    """Recorded NCMEC pages: updates keyed by record id, converted by the package's NCMEC API."""

    RECORDS: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def get_name(cls) -> str:
        return "recorded_ncmec"

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: Sequence[type[SignalType]],
        collab: CollaborationConfigBase,
        fetched: Any,
    ) -> Any:
        from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI

        from kaitiaki.exchanges.registry import collab_config

        ncmec = collab_config(NCMECSignalExchangeAPI, "ncmec", {"environment": "NGO"})
        return NCMECSignalExchangeAPI.naive_convert_to_signal_type(signal_types, ncmec, fetched)

    def fetch_iter(self, supported_signal_types: Any, checkpoint: _Page | None) -> Any:
        for number in range(checkpoint.page if checkpoint else 0, len(self.RECORDS)):
            yield state.FetchDelta(dict(self.RECORDS[number]), _Page(number + 1))


def test_ncmec_record_deletes_remove_only_what_no_other_record_carries(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEntryType, NCMECEntryUpdate

    def record(name: str, kind: NCMECEntryType, hashes: dict[str, str]) -> NCMECEntryUpdate:
        return NCMECEntryUpdate(name, 7, kind, False, "A1", hashes, {})

    gone = NCMECEntryUpdate("b", 7, NCMECEntryType.video, True, None, {}, {})
    x, y = _md5(1), _pdq(2)
    pages: list[dict[str, Any]] = [
        # Records a and b both carry md5 x (a in uppercase); c carries pdq y.
        {"7-a": record("a", NCMECEntryType.video, {"md5": x.upper()})},
        {
            "7-b": record("b", NCMECEntryType.video, {"md5": x}),
            "7-c": record("c", NCMECEntryType.image, {"pdq": y.upper()}),
        },
    ]
    monkeypatch.setattr(RecordedNCMEC, "RECORDS", pages)
    monkeypatch.setitem(APIS, "recorded_ncmec", RecordedNCMEC)
    add_exchange(store, "whole", "recorded_ncmec", actor=ACTOR)
    add_exchange(store, "feed", "recorded_ncmec", actor=ACTOR)
    fetch(store, "whole", actor=ACTOR)

    def kill(report: FetchReport) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        fetch(store, "feed", actor=ACTOR, on_progress=kill)
    assert _entries(store, "feed") == [f"md5:{x}"]
    fetch(store, "feed", actor=ACTOR)  # resumed at page 2
    both = sorted([f"md5:{x}", f"pdq:{y}"])
    assert _entries(store, "feed") == _entries(store, "whole") == both

    def items(name: str) -> list[tuple[str | None, str]]:
        with store.session() as session:
            rows = session.execute(
                select(ExchangeItem.record_id, ExchangeItem.signal_value)
                .join(Exchange, Exchange.id == ExchangeItem.exchange_id)
                .where(Exchange.name == name)
            )
            return sorted((r, v) for r, v in rows)

    def count(name: str) -> int | None:
        with store.session() as session:
            found: int | None = session.scalar(
                select(HashSet.entry_count).where(HashSet.name == name)
            )
            return found

    assert items("feed") == [("7-a", x), ("7-b", x), ("7-c", y)]
    assert count("feed") == 2

    pages.append({"7-a": None})  # a deleted: x stays, b still carries it
    report = fetch(store, "feed", actor=ACTOR)
    assert (report.result.deleted, report.result.entries_removed) == (1, 0)
    assert _entries(store, "feed") == both and count("feed") == 2
    assert items("feed") == [("7-b", x), ("7-c", y)]

    pages.append({"7-b": gone})  # b deleted too (a tombstone this time): x goes
    fetch(store, "feed", actor=ACTOR)
    assert _entries(store, "feed") == [f"pdq:{y}"] and count("feed") == 1
    assert items("feed") == [("7-c", y)]

    # Fetching everything again from scratch duplicates nothing.
    with store.session() as session:
        row = session.scalar(select(Exchange).where(Exchange.name == "feed"))
        assert row is not None
        row.checkpoint = None
    report = fetch(store, "feed", actor=ACTOR)
    assert report.full
    assert _entries(store, "feed") == [f"pdq:{y}"] and count("feed") == 1
    assert items("feed") == [("7-c", y)]

    # An updated record replaces its hashes: c now carries w instead of y.
    w = _pdq(3)
    pages.append({"7-c": record("c", NCMECEntryType.image, {"pdq": w})})
    fetch(store, "feed", actor=ACTOR)
    assert _entries(store, "feed") == [f"pdq:{w}"] and count("feed") == 1
    assert items("feed") == [("7-c", w)]


def test_items_without_a_record_stay_one_per_signal(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    add_exchange(store, "seen", "sample", actor=ACTOR)

    def add(record_id: str | None) -> None:
        with store.session() as session:
            row = session.scalar(select(Exchange).where(Exchange.name == "seen"))
            assert row is not None
            session.add(
                ExchangeItem(
                    exchange_id=row.id,
                    record_id=record_id,
                    signal_type="pdq",
                    signal_value=_pdq(1),
                    opinion="positive",
                )
            )

    add("7-a")
    add("7-b")  # one item per record carrying the signal
    add(None)
    with pytest.raises(IntegrityError):
        add(None)  # but only one keyed by the signal alone

"""A reviewer's decision sent back to the exchange that shared the signal: through the package's
``report_opinion`` (a list file; a fake exchange registered for the test) and its NCMEC and
StopNCII clients, whose HTTP requests are answered here (never the network); an exchange that
takes no feedback says so; every decision is recorded and audited as the reviewer."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from sqlalchemy import select
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from in_process import kaitiaki
from kaitiaki.exchanges import ExchangeError, add_exchange, fetch
from kaitiaki.exchanges.feedback import (
    FeedbackUnsupportedError,
    give_feedback,
    list_feedback,
    send_pending,
)
from kaitiaki.exchanges.registry import APIS
from kaitiaki.jobs import DONE, JobRunner, get_job, submit
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Exchange, ExchangeFeedback, ExchangeItem

REVIEWER = "web:reviewer-user"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.delenv("KAITIAKI_SECRET_KEY", raising=False)


def _pdq(n: int) -> str:
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


class Upstream:
    """Answers the package clients' HTTP requests in place of NCMEC's and StopNCII's servers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: str | None = None
        upstream = self

        def request(session: requests.Session, method: str, url: str, **kw: Any) -> Any:
            body = kw.get("json") if kw.get("json") is not None else kw.get("data")
            upstream.calls.append((method, url, body))
            response = requests.Response()
            response.url = url
            response.status_code = 200 if upstream.fail is None else 401
            response.reason = upstream.fail or "OK"
            response._content = b"{}"
            return response

        monkeypatch.setattr(requests.Session, "request", request)


class OpinionAPI(StaticSampleSignalExchangeAPI):
    """The sample exchange, taking opinions as an exchange with feedback would."""

    HEARD: ClassVar[list[tuple[str, str, state.SignalOpinionCategory]]] = []

    @classmethod
    def get_name(cls) -> str:
        return "opinions"

    def report_opinion(
        self, s_type: type[SignalType], signal: str, opinion: state.SignalOpinion
    ) -> None:
        self.HEARD.append((s_type.get_name(), signal, opinion.category))


def _feedback(store: Store) -> list[tuple[str, str, str, str | None]]:
    with store.session() as session:
        rows = session.execute(
            select(
                ExchangeFeedback.opinion,
                ExchangeFeedback.status,
                ExchangeFeedback.actor,
                ExchangeFeedback.error,
            ).order_by(ExchangeFeedback.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _audited(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.details).where(
                AuditEvent.action == "exchange.feedback"
            )
        )
        return [(actor, details["opinion"]) for actor, details in rows]


def test_an_exchange_without_feedback_says_so_and_records_nothing(store: Store) -> None:
    add_exchange(store, "sample", "sample", actor="test:setup")
    fetch(store, "sample", actor="test:setup")
    signal = sorted(PdqSignal.get_examples())[0]
    with pytest.raises(FeedbackUnsupportedError, match="accepts no feedback"):
        give_feedback(store, "sample", "pdq", signal, "positive", actor=REVIEWER)
    refused = kaitiaki(
        "exchange", "feedback", "sample", "--signal-type", "pdq", "--signal", signal,
        "--opinion", "negative", "--db", store.url,
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "'sample' (sample) accepts no feedback" in refused.stderr
    assert _feedback(store) == [] and _audited(store) == []


def test_a_registered_exchange_hears_each_opinion(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(APIS, "opinions", OpinionAPI)
    monkeypatch.setattr(OpinionAPI, "HEARD", [])
    add_exchange(store, "feed", "opinions", actor="test:setup")
    fetch(store, "feed", actor="test:setup")
    signal = sorted(PdqSignal.get_examples())[0]

    sent = give_feedback(store, "feed", "pdq", signal.upper(), "positive", actor=REVIEWER)
    assert (sent.status, sent.error, sent.signal) == ("sent", None, signal.lower())
    assert sent.sent_at is not None
    done = kaitiaki(
        "exchange", "feedback", "feed", "--signal-type", "pdq", "--signal", signal,
        "--opinion", "negative", "--db", store.url, env={"KAITIAKI_USER": "rev"},
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    category = state.SignalOpinionCategory
    assert [
        ("pdq", signal.lower(), category.POSITIVE_CLASS),
        ("pdq", signal.lower(), category.NEGATIVE_CLASS),
    ] == OpinionAPI.HEARD
    assert _audited(store) == [(REVIEWER, "positive"), ("cli:rev", "negative")]
    assert [f.opinion for f in list_feedback(store, "feed")] == ["negative", "positive"]
    with store.session() as session:
        entry = session.scalar(select(ExchangeFeedback.entry_id).order_by(ExchangeFeedback.id))
    assert entry is not None  # the hash-set entry the decision was about

    # Only what the exchange shared, as a valid signal of a known type and opinion.
    for args, message in (
        (("pdq", _pdq(99), "positive"), "has not shared"),
        (("pdq", "nothex", "positive"), "not a valid pdq"),
        (("sha1", signal, "positive"), "signal type"),
        (("pdq", signal, "maybe"), "opinion"),
    ):
        with pytest.raises(ExchangeError, match=message):
            give_feedback(store, "feed", *args, actor=REVIEWER)
    assert len(_feedback(store)) == 2


class PositivesOnlyAPI(OpinionAPI):
    """Takes positives only, as the package's contract lets an exchange (NotImplementedError)."""

    @classmethod
    def get_name(cls) -> str:
        return "positives"

    def report_opinion(
        self, s_type: type[SignalType], signal: str, opinion: state.SignalOpinion
    ) -> None:
        if opinion.category != state.SignalOpinionCategory.POSITIVE_CLASS:
            raise NotImplementedError
        super().report_opinion(s_type, signal, opinion)


def test_an_opinion_the_exchange_does_not_take_ends_unsupported(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(APIS, "positives", PositivesOnlyAPI)
    monkeypatch.setattr(OpinionAPI, "HEARD", [])
    add_exchange(store, "feed", "positives", actor="test:setup")
    fetch(store, "feed", actor="test:setup")
    a, b = sorted(PdqSignal.get_examples())[:2]

    assert give_feedback(store, "feed", "pdq", b, "positive", actor=REVIEWER).status == "sent"
    refused = give_feedback(store, "feed", "pdq", a, "negative", actor=REVIEWER)
    assert refused.status == "unsupported"
    assert refused.error == "positives accepts no negative feedback on pdq signals"
    assert _feedback(store) == [
        ("positive", "sent", REVIEWER, None),
        ("negative", "unsupported", REVIEWER, refused.error),
    ]
    assert len(OpinionAPI.HEARD) == 1


def test_a_list_file_takes_no_feedback(store: Store, tmp_path: Path) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text(f"pdq {_pdq(1)}\n")
    add_exchange(store, "file", "local_file", path=str(listed), actor="test:setup")
    fetch(store, "file", actor="test:setup")
    with pytest.raises(
        FeedbackUnsupportedError, match=r"'file' \(local_file\) accepts no feedback"
    ):
        give_feedback(store, "file", "pdq", _pdq(1), "positive", actor=REVIEWER)
    assert listed.read_text() == f"pdq {_pdq(1)}\n"
    assert _feedback(store) == []


def _ncmec_items(store: Store, name: str, signal: str, records: list[str]) -> None:
    with store.session() as session:
        exchange_id = session.scalar(select(Exchange.id).where(Exchange.name == name))
        for record_id in records:
            session.add(
                ExchangeItem(
                    exchange_id=exchange_id,
                    record_id=record_id,
                    signal_type="pdq",
                    signal_value=signal,
                    opinion="positive",
                )
            )


def test_ncmec_gets_an_up_or_down_vote_on_each_record(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threatexchange.exchanges.clients.ncmec import hash_api

    upstream = Upstream(monkeypatch)
    add_exchange(
        store,
        "ncmec",
        "ncmec",
        config={"environment": "NGO"},
        credentials=f"analyst:{PASSWORD}",
        actor="test:setup",
    )
    signal = _pdq(5)
    _ncmec_items(store, "ncmec", signal, ["7-a1", "12-b2"])

    assert give_feedback(store, "ncmec", "pdq", signal, "positive", actor=REVIEWER).status == "sent"
    assert [(m, u.split("/v2/entries/")[1]) for m, u, _ in upstream.calls] == [
        ("PUT", "12/b2/PDQ/feedback"),
        ("PUT", "7/a1/PDQ/feedback"),
    ]
    assert all(b"<affirmative" in body for _, _, body in upstream.calls)

    # A down vote needs a reason: NCMEC's list of them, here with one, is used.
    def reasons(self: hash_api.NCMECHashAPI, kind: hash_api.FingerprintType) -> dict[str, str]:
        self._feedback_reason_map[kind] = {"guid-not-csam": "Not CSAM"}
        return self._feedback_reason_map[kind]

    monkeypatch.setattr(hash_api.NCMECHashAPI, "feedback_reasons", reasons)
    upstream.calls.clear()
    assert give_feedback(store, "ncmec", "pdq", signal, "negative", actor=REVIEWER).status == "sent"
    assert len(upstream.calls) == 2
    assert all(b"<negative" in b and b"guid-not-csam" in b for _, _, b in upstream.calls)

    # A refused request is recorded as failed, without the credentials it was sent with.
    upstream.fail = f"Unauthorized for analyst:{PASSWORD}"
    failed = give_feedback(store, "ncmec", "pdq", signal, "positive", actor=REVIEWER)
    assert failed.status == "failed" and failed.error and "401" in failed.error
    assert PASSWORD not in failed.error and "***" in failed.error
    assert [s for _, s, _, _ in _feedback(store)] == ["sent", "sent", "failed"]


def test_stopncii_takes_no_feedback_with_the_packages_credentials(store: Store) -> None:
    """Its client has no function key for the feedback endpoint: refused before anything."""
    add_exchange(
        store, "stopncii", "stop_ncii", credentials="fn-key-1,sub-key-2", actor="test:setup"
    )
    with pytest.raises(FeedbackUnsupportedError, match=r"\(stop_ncii\) accepts no feedback"):
        give_feedback(store, "stopncii", "pdq", _pdq(6), "positive", actor=REVIEWER)
    assert _feedback(store) == []


def test_feedback_left_pending_goes_with_the_next_fetch_job(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(APIS, "opinions", OpinionAPI)
    monkeypatch.setattr(OpinionAPI, "HEARD", [])
    add_exchange(sqlite_store, "feed", "opinions", actor="test:setup")
    fetch(sqlite_store, "feed", actor="test:setup")
    signal = sorted(PdqSignal.get_examples())[1]
    pending = give_feedback(
        sqlite_store, "feed", "pdq", signal, "positive", actor=REVIEWER, send=False
    )
    assert pending.status == "pending" and OpinionAPI.HEARD == []

    job_id = submit(sqlite_store, "fetch_exchange", {"exchange": "feed"}, by="alice")
    runner = JobRunner(sqlite_store.url)
    while runner.run_once() not in (job_id, None):
        pass
    runner.stop()
    job = get_job(sqlite_store, job_id)
    assert job is not None and job.status == DONE, job and job.error
    assert job.result is not None and job.result["feedback_attempted"] == 1
    assert [f.status for f in list_feedback(sqlite_store, "feed")] == ["sent"]
    assert len(OpinionAPI.HEARD) == 1
    # Sent once: nothing is left pending to send again.
    assert send_pending(sqlite_store, "feed") == 0

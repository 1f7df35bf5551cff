"""A reviewer's decision on a signal an exchange shared, sent back to the exchange.

Through the package wherever it can: ``SignalExchangeAPI.report_opinion`` for the exchanges
that implement it, and the package's own client for NCMEC, whose exchange class does not yet
(an up or down vote on each record that carried the hash). An exchange that takes no feedback
at all (the sample, ThreatExchange and TAT in this version of the package; a list file and
StopNCII: see ``NO_FEEDBACK``) is refused before anything is stored; one that takes some but
not this opinion ends ``unsupported``, with the reason.

Each decision is one row (``exchange_feedback``) and one audit entry, written before anything
is sent, so a decision is on record even if sending fails or the process dies mid-way; the
row's status then says what came of it (``sent``, ``failed`` with the error, ``unsupported``).
A row is taken for sending by a conditional UPDATE (``pending`` to ``sending``), so the
immediate send and a fetch job sending what is left never both send it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.signal_exchange_api import AnySignalExchangeAPI, SignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

from kaitiaki.audit import record
from kaitiaki.exchanges.api_credentials import exchange_credentials
from kaitiaki.exchanges.apply import normalise
from kaitiaki.exchanges.fetch import MAX_ERROR, redact
from kaitiaki.exchanges.manage import find
from kaitiaki.exchanges.registry import (
    ApiClass,
    Credentials,
    ExchangeError,
    api_class,
    collab_config,
    make_client,
)
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange, ExchangeFeedback, ExchangeItem, utcnow

OPINIONS = ("positive", "negative")


@functools.cache
def signal_types() -> dict[str, type[SignalType]]:
    """The package's signal type names, and kaitiaki's name for a video's MD5.

    Built on first use: threatexchange's PDQ signal loads faiss, which the web server's
    worker processes (which import this module) would otherwise hold for nothing."""
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return {"pdq": PdqSignal, "video_md5": VideoMD5Signal, "md5": VideoMD5Signal}


# Exchanges whose exchange class lacks ``report_opinion`` but whose client takes feedback.
CLIENT_FEEDBACK = frozenset({"ncmec"})
# The package's list-file exchange implements ``report_opinion`` by appending to the file, but
# opens it in mode "wta", which Python refuses (threatexchange 1.2.x), so it can never succeed;
# and a reviewer's click should not rewrite a list the operator keeps by hand anyway.
# StopNCII takes review statuses (Blocked, NotBlocked) at an endpoint with a function key of
# its own, which the package's StopNCII credentials ("fetch key,subscription key") cannot
# carry, so its client refuses before sending (threatexchange 1.2.17).
NO_FEEDBACK = frozenset({"local_file", "stop_ncii"})


class FeedbackUnsupportedError(ExchangeError):
    def __init__(self, name: str, api: str) -> None:
        super().__init__(f"exchange {name!r} ({api}) accepts no feedback: nothing was sent")


@dataclass(frozen=True)
class FeedbackView:
    id: int
    exchange: str
    signal_type: str
    signal: str
    opinion: str
    actor: str
    created_at: datetime
    sent_at: datetime | None
    status: str
    error: str | None


def accepts_feedback(api_cls: ApiClass) -> bool:
    name = api_cls.get_name()
    if name in NO_FEEDBACK:
        return False
    base = cast(Any, SignalExchangeAPI).report_opinion
    return name in CLIENT_FEEDBACK or cast(Any, api_cls).report_opinion is not base


def give_feedback(
    store: Store,
    name: str,
    signal_type: str,
    signal: str,
    opinion: str,
    *,
    actor: str,
    send: bool = True,
) -> FeedbackView:
    """Record ``actor``'s ``opinion`` of a signal the exchange shared and (``send``) send it."""
    if opinion not in OPINIONS:
        raise ExchangeError(f"opinion must be one of {', '.join(OPINIONS)}, not {opinion!r}")
    s_type = signal_types().get(signal_type)
    if s_type is None:
        raise ExchangeError(
            f"signal type must be one of {', '.join(signal_types())}, not {signal_type!r}"
        )
    type_name = s_type.get_name()
    value = normalise(type_name, signal)
    try:
        s_type.validate_signal_str(value)
    except ValueError:
        raise ExchangeError(f"{signal!r} is not a valid {type_name} signal") from None
    with store.session() as session:
        row = find(session, name)
        if not accepts_feedback(api_class(row.api)):
            raise FeedbackUnsupportedError(name, row.api)
        entries = list(
            session.scalars(
                select(ExchangeItem.entry_id).where(
                    ExchangeItem.exchange_id == row.id,
                    ExchangeItem.signal_type == type_name,
                    ExchangeItem.signal_value == value,
                )
            )
        )
        if not entries:
            raise ExchangeError(f"exchange {name!r} has not shared the {type_name} {value}")
        given = ExchangeFeedback(
            exchange_id=row.id,
            entry_id=next((e for e in entries if e is not None), None),
            signal_type=type_name,
            signal_value=value,
            opinion=opinion,
            actor=actor,
            status="pending",
        )
        session.add(given)
        session.flush()
        record(
            session,
            actor=actor,
            action="exchange.feedback",
            target_type="exchange",
            target_id=str(row.id),
            details={
                "name": name,
                "feedback_id": given.id,
                "signal_type": type_name,
                "signal": value,
                "opinion": opinion,
            },
        )
        feedback_id = given.id
    if send:
        send_feedback(store, feedback_id)
    return feedback_view(store, feedback_id)


def feedback_view(store: Store, feedback_id: int) -> FeedbackView:
    with store.session() as session:
        found = session.execute(
            select(ExchangeFeedback, Exchange.name)
            .join(Exchange, Exchange.id == ExchangeFeedback.exchange_id)
            .where(ExchangeFeedback.id == feedback_id)
        ).one()
        return _view(found[0], found[1])


def list_feedback(store: Store, name: str, limit: int = 100) -> list[FeedbackView]:
    """The exchange's newest ``limit`` feedback rows, newest first."""
    with store.session() as session:
        row = find(session, name)
        rows = session.scalars(
            select(ExchangeFeedback)
            .where(ExchangeFeedback.exchange_id == row.id)
            .order_by(ExchangeFeedback.id.desc())
            .limit(limit)
        )
        return [_view(f, name) for f in rows]


def send_pending(store: Store, name: str) -> int:
    """Send the exchange's feedback still pending (an earlier send died); how many were taken."""
    with store.session() as session:
        row = find(session, name)
        pending = list(
            session.scalars(
                select(ExchangeFeedback.id).where(
                    ExchangeFeedback.exchange_id == row.id, ExchangeFeedback.status == "pending"
                )
            )
        )
    return sum(send_feedback(store, feedback_id) for feedback_id in pending)


def send_feedback(store: Store, feedback_id: int) -> bool:
    """Send one pending row; False if another sender had taken it (or it was not pending)."""
    with store.session() as session:
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(ExchangeFeedback)
                .where(ExchangeFeedback.id == feedback_id, ExchangeFeedback.status == "pending")
                .values(status="sending")
                .execution_options(synchronize_session=False)
            ),
        )
        if taken.rowcount != 1:
            return False
        given = session.get(ExchangeFeedback, feedback_id)
        assert given is not None
        row = session.get(Exchange, given.exchange_id)
        assert row is not None
        api_cls = api_class(row.api)
        collab = collab_config(api_cls, row.name, dict(row.config or {}))
        exchange_id = row.id
        records = [
            r
            for r in session.scalars(
                select(ExchangeItem.record_id).where(
                    ExchangeItem.exchange_id == row.id,
                    ExchangeItem.signal_type == given.signal_type,
                    ExchangeItem.signal_value == given.signal_value,
                )
            )
            if r is not None
        ]
        signal = (given.signal_type, given.signal_value, given.opinion)
    credentials: Credentials | None = None
    status, error = "sent", None
    try:
        # Read apart from the claim above, so that credentials that cannot be decrypted fail
        # this row (with a message) rather than leave it "sending".
        with store.session() as session:
            owner = session.get(Exchange, exchange_id)
            credentials = exchange_credentials(session, owner) if owner else None
        client = make_client(api_cls, collab, credentials)
        _send(client, api_cls.get_name(), *signal, records)
    except NotImplementedError:
        status = "unsupported"
        error = f"{api_cls.get_name()} accepts no {signal[2]} feedback on {signal[0]} signals"
    except Exception as exc:
        status = "failed"
        error = redact(f"{type(exc).__name__}: {exc}", credentials)[:MAX_ERROR]
    with store.session() as session:
        session.execute(
            update(ExchangeFeedback)
            .where(ExchangeFeedback.id == feedback_id, ExchangeFeedback.status == "sending")
            .values(status=status, error=error, sent_at=utcnow() if status == "sent" else None)
            .execution_options(synchronize_session=False)
        )
    return True


def _send(
    client: AnySignalExchangeAPI,
    api: str,
    signal_type: str,
    value: str,
    opinion: str,
    records: list[str],
) -> None:
    positive = opinion == "positive"
    if api == "ncmec":
        _send_ncmec(client, signal_type, value, positive, records)
    else:
        category = state.SignalOpinionCategory
        client.report_opinion(
            signal_types()[signal_type],
            value,
            state.SignalOpinion(
                True, category.POSITIVE_CLASS if positive else category.NEGATIVE_CLASS, set()
            ),
        )


def _send_ncmec(
    client: AnySignalExchangeAPI, signal_type: str, value: str, positive: bool, records: list[str]
) -> None:
    """An up or down vote on each NCMEC record (``member-entry``) that carried the hash."""
    from threatexchange.exchanges.clients.ncmec import hash_api

    if not records:
        raise ExchangeError(f"no NCMEC record of {signal_type} {value} is stored to vote on")
    fingerprint = {"pdq": hash_api.FingerprintType.pdq, "video_md5": hash_api.FingerprintType.md5}
    vote = hash_api.FeedbackType.upvote if positive else hash_api.FeedbackType.downvote
    ncmec = cast(Any, client)
    hashes = ncmec.get_client(ncmec.collab.environment)
    for key in sorted(records):
        member, _, entry = key.partition("-")
        if not entry or not member.isdigit():
            raise ExchangeError(f"NCMEC record id {key!r} is not MEMBER-ENTRY")
        hashes.submit_feedback(int(member), entry, fingerprint[signal_type], vote)


def _view(row: ExchangeFeedback, name: str) -> FeedbackView:
    return FeedbackView(
        id=row.id,
        exchange=name,
        signal_type=row.signal_type,
        signal=row.signal_value,
        opinion=row.opinion,
        actor=row.actor,
        created_at=row.created_at,
        sent_at=row.sent_at,
        status=row.status,
        error=row.error,
    )

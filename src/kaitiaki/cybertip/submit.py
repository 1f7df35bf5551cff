"""Sending a reviewed CyberTipline report to NCMEC, one persisted step at a time.

The report's state is written before each call (the step taken, by a conditional UPDATE from
the state read) and after it (what NCMEC answered), so a process killed anywhere leaves a state
that says what is certain and what is not. Whoever holds the report's lock
(``tracking.exclusive``) resumes from it:

- ``draft``: validate, then take ``submitting`` and open the report (/submit).
- ``submitting``: /submit may or may not have opened a report; its id was never seen, so it
  cannot be retracted: open again and audit that one may have been abandoned (NCMEC deletes an
  unfinished report 24 hours after opening).
- ``submitted``: upload each pending file, then send each uploaded file's fileDetails. A file
  left ``uploading`` or ``detailing`` may or may not have reached NCMEC: the report is retracted
  (its id kept in ``abandoned_report_ids``) and opened again, so NCMEC never holds a file twice.
- ``files_uploaded`` and ``finishing``: /finish, again if need be; "already finished" (5102)
  means it was.
- ``finished``: nothing to do, and nothing is sent.

NCMEC's error codes fail the report (``failed``, with the code and words kept), except the
transient ones (1000, and no answer at all) and the account's (2000 authentication, 3xxx
authorisation), which leave a state a retry resumes from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kaitiaki.content.readback import SEPARATOR
from kaitiaki.cybertip import schema
from kaitiaki.cybertip.client import (
    ALREADY_FINISHED,
    ALREADY_RETRACTED,
    CyberTiplineClient,
    CyberTiplineResponseError,
    CyberTiplineTransportError,
)
from kaitiaki.cybertip.errors import CyberTipConflictError, CyberTipError
from kaitiaki.cybertip.reports import ReportView
from kaitiaki.cybertip.sender import (
    IN_FLIGHT_FILE,
    REPORT_MISSING,
    FailureError,
    RestartError,
    Sender,
)
from kaitiaki.cybertip.tracking import ReadFile, evidence_upload, exclusive, load, report_view
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile, FileInstance, utcnow

# More steps than any report needs (open, restart, each file twice, finish): a loop bound.
_MAX_ROUNDS = 10_000
# Reports one call may abandon and open again before it stops and lets a person look: each
# restart leaves a report at NCMEC (retracted, or deleted by NCMEC after 24 hours).
_MAX_RESTARTS = 2


def _check_draft(row: CyberTipReport) -> None:
    if hashlib.sha256(row.document.encode("utf-8")).hexdigest() != row.document_sha256:
        raise CyberTipConflictError(
            f"report {row.id}'s document is not the one reviewed (SHA-256 differs); draft it again"
        )
    schema.validate(row.document, what="report")
    schema.check_rules(row.document)


def _check_evidence(store: Store, row: CyberTipReport, files: list[CyberTipReportFile]) -> None:
    """Every file to upload is still on this server, checked before NCMEC opens a report that
    would otherwise be failed and retracted for a missing disk (a cheap look; the content is
    checked against its SHA-256 when it is streamed)."""
    if not row.include_files:
        return
    with store.session() as session:
        for found in files:
            if found.state != "pending" or found.instance_id is None:
                continue
            instance = session.get(FileInstance, found.instance_id)
            outer = None if instance is None else instance.path.split(SEPARATOR)[0]
            if outer is None or instance is None or instance.sha256 is None:
                raise CyberTipError(f"file {found.object_id}: its evidence record is gone")
            if not Path(outer).is_file():
                raise CyberTipError(
                    f"file {found.object_id}: {outer} is not on this server; "
                    "mount the evidence and submit again"
                )


def submit_report(
    store: Store,
    report_id: int,
    *,
    actor: str,
    client: CyberTiplineClient,
    read_file: ReadFile = evidence_upload,
) -> ReportView:
    """Send report ``report_id`` to NCMEC, or resume sending it; its state afterwards.

    NCMEC's refusals fail the report (the view says why); a transient error or no answer is
    raised (``CyberTiplineError``) with the state left for a retry. ``CyberTipBusyError`` when
    another worker is sending it now."""
    with exclusive(store, report_id):
        return _run(Sender(store, report_id, actor, client, read_file))


def _step(sender: Sender, row: CyberTipReport, files: list[CyberTipReportFile]) -> None:
    """One step from the state read; ``RestartError`` or ``FailureError`` change course."""
    if row.state == "draft":
        try:
            _check_draft(row)
            _check_evidence(sender.store, row, files)
        except CyberTipError as exc:
            raise FailureError(exc) from None
        sender.open(row, files, resumed=False)
    elif row.state == "submitting":
        sender.open(row, files, resumed=True)
    elif row.state == "submitted":
        doubtful = [f for f in files if f.state in IN_FLIGHT_FILE]
        pending = [f for f in files if f.state == "pending"]
        uploaded = [f for f in files if f.state == "uploaded"]
        if doubtful:
            reason = f"file {doubtful[0].object_id} may or may not have reached NCMEC"
            raise RestartError(reason, retract=True)
        if pending:
            sender.upload(row, pending[0])
        elif uploaded:
            sender.detail(row, uploaded[0])
        else:
            with sender.store.session() as session:
                sender.move(session, ("submitted",), "files_uploaded")
                sender.audit(session, "cybertip.files_sent", ncmec_report_id=row.ncmec_report_id)
    elif row.state in ("files_uploaded", "finishing"):
        sender.finish(row, files)
    else:
        raise CyberTipConflictError(f"report {row.id} is in an unknown state {row.state!r}")


def _run(sender: Sender) -> ReportView:
    note, acted, restarts = "", False, 0
    for _ in range(_MAX_ROUNDS):
        row, files = load(sender.store, sender.id)
        if row.state == "finished":
            if not acted:
                note = f"already finished as NCMEC report {row.ncmec_report_id}; nothing sent"
            return report_view(sender.store, sender.id, note or "finished")
        if row.state in ("retracted", "failed"):
            if acted:
                return report_view(sender.store, sender.id, note or row.state)
            raise CyberTipConflictError(
                f"report {row.id} is {row.state}; draft a new one to report again"
            )
        acted = True
        try:
            _step(sender, row, files)
        except FailureError as failure:
            # A draft refused here was never opened: it stays a draft to be fixed.
            if row.state == "draft" and not isinstance(failure.cause, CyberTiplineResponseError):
                raise failure.cause from None
            sender.fail(failure.cause, row.ncmec_report_id)
            note = f"failed: {failure}"
        except RestartError as restart:
            restarts += 1
            if restarts > _MAX_RESTARTS:
                raise CyberTipConflictError(
                    f"report {sender.id}: NCMEC's report was abandoned {_MAX_RESTARTS} times in "
                    f"one call ({restart.reason}); stopped for a person to look"
                ) from None
            try:
                sender.restart(row, restart.reason, retract=restart.retract)
            except FailureError as failure:
                sender.fail(failure.cause, None)
                note = f"failed: {failure}"
                continue
            note = f"NCMEC report {row.ncmec_report_id} abandoned ({restart.reason}); reopened"
    raise CyberTipConflictError(f"report {sender.id}: too many steps; stopped")


def retract_report(
    store: Store, report_id: int, *, actor: str, client: CyberTiplineClient | None
) -> ReportView:
    """Cancel report ``report_id``: at NCMEC when it was opened there, here in any case. A
    finished report cannot be retracted (NCMEC's rule)."""
    with exclusive(store, report_id):
        sender = Sender(store, report_id, actor, client, evidence_upload)
        row, _files = load(store, report_id)
        if row.state == "retracted":
            return report_view(store, report_id, "already retracted")
        if row.state == "finished":
            raise CyberTipConflictError(
                f"report {report_id} is finished at NCMEC (report {row.ncmec_report_id}); "
                "a finished report cannot be retracted"
            )
        ncmec_id, sent = row.ncmec_report_id, False
        if ncmec_id is not None and row.retracted_at is None:
            try:
                sender.client.retract(ncmec_id)
                sent = True
            except CyberTiplineTransportError as exc:
                sender.transient(exc, "retract", ncmec_id)
                raise
            except CyberTiplineResponseError as exc:
                if exc.code == ALREADY_FINISHED:
                    with store.session() as session:
                        sender.move(session, (row.state,), "finished", finished_at=utcnow())
                        sender.audit(
                            session,
                            "cybertip.finished",
                            ncmec_report_id=ncmec_id,
                            found_on="retract",
                        )
                    raise CyberTipConflictError(
                        f"NCMEC says report {ncmec_id} is finished; it cannot be retracted"
                    ) from exc
                if exc.code not in (ALREADY_RETRACTED, REPORT_MISSING):
                    sender.transient(exc, "retract", ncmec_id)
                    raise
        with store.session() as session:
            sender.move(
                session, (row.state,), "retracted", retracted_at=row.retracted_at or utcnow()
            )
            sender.audit(session, "cybertip.retracted", ncmec_report_id=ncmec_id, sent=sent)
    return report_view(store, report_id, "retracted")


def status_check(client: CyberTiplineClient) -> str:
    """NCMEC's answer to GET /status: who the server sees, from where."""
    return client.status()

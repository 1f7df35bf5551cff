"""The steps of sending a CyberTipline report (``kaitiaki.cybertip.submit`` runs them).

Each step writes the report's state before its call to NCMEC (a conditional UPDATE from the
state it read, so a step is taken once) and after it (what NCMEC answered), each change with
its audit entry in the same transaction. ``RestartError`` and ``FailureError`` tell the
runner to abandon the open NCMEC report or to fail the report.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from sqlalchemy import update
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.content.readback import ContentUnavailableError
from kaitiaki.cybertip import schema
from kaitiaki.cybertip.client import (
    ALREADY_FINISHED,
    ALREADY_RETRACTED,
    PRODUCTION_URL,
    TEST_URL,
    CyberTiplineClient,
    CyberTiplineResponseError,
    CyberTiplineTransportError,
)
from kaitiaki.cybertip.errors import CyberTipConflictError, CyberTipError
from kaitiaki.cybertip.tracking import ReadFile
from kaitiaki.legal.holds import place_report_hold
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile, File, FileInstance, utcnow

REPORT_MISSING = 5001
IN_FLIGHT_FILE = ("uploading", "detailing")


class RestartError(Exception):
    """The open NCMEC report is unusable (a file in doubt, or deleted by NCMEC): start over."""

    def __init__(self, reason: str, *, retract: bool) -> None:
        super().__init__(reason)
        self.reason, self.retract = reason, retract


def _environment(base_url: str) -> str:
    return {PRODUCTION_URL: "production", TEST_URL: "test"}.get(base_url, "stand-in")


class Sender:
    """One worker's steps on one report; it holds the report's lock meanwhile."""

    def __init__(
        self,
        store: Store,
        report_id: int,
        actor: str,
        client: CyberTiplineClient | None,
        read: ReadFile,
    ) -> None:
        self.store, self.id, self.actor, self.read = store, report_id, actor, read
        self._client = client

    @property
    def client(self) -> CyberTiplineClient:
        if self._client is None:
            raise CyberTipError("this needs NCMEC's server: set `kaitiaki report credentials`")
        return self._client

    # -- persisting -----------------------------------------------------------------------
    def audit(self, session: Session, action: str, **details: Any) -> None:
        record(
            session,
            actor=self.actor,
            action=action,
            target_type="cybertip_report",
            target_id=str(self.id),
            details=details,
        )

    def move(self, session: Session, src: tuple[str, ...], dst: str, **values: Any) -> None:
        """The conditional UPDATE that takes a step; losing it means someone else changed the
        report under us (which the lock should make impossible): stop, change nothing."""
        done = session.execute(
            update(CyberTipReport)
            .where(CyberTipReport.id == self.id, CyberTipReport.state.in_(src))
            .values(state=dst, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise CyberTipConflictError(f"report {self.id} changed while it was being sent")
        if dst == "finished":
            # A provider must preserve what it reported for a year (18 U.S.C. 2258A(h)): the
            # hold is placed in the transaction that records the report finished, so there is
            # never a finished report that retention could delete.
            row = session.get(CyberTipReport, self.id, populate_existing=True)
            assert row is not None
            place_report_hold(session, report=row, actor=self.actor)

    def move_file(self, session: Session, file_id: int, src: str, dst: str, **values: Any) -> None:
        done = session.execute(
            update(CyberTipReportFile)
            .where(CyberTipReportFile.id == file_id, CyberTipReportFile.state == src)
            .values(state=dst, **values)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise CyberTipConflictError(f"a file of report {self.id} changed while being sent")
        self.move(session, ("submitted",), "submitted")  # the report's updated_at

    def fail(self, exc: CyberTiplineResponseError | CyberTipError, ncmec_id: int | None) -> None:
        """``failed`` with NCMEC's code and words; a report NCMEC opened is retracted, so it
        does not wait 24 hours half-made."""
        code = exc.code if isinstance(exc, CyberTiplineResponseError) else None
        message = exc.description if isinstance(exc, CyberTiplineResponseError) else str(exc)
        retracted = False
        if ncmec_id is not None:
            try:
                self.client.retract(ncmec_id)
                retracted = True
            except CyberTiplineResponseError as again:
                retracted = again.code in (ALREADY_RETRACTED, REPORT_MISSING)
            except CyberTiplineTransportError:
                pass
        with self.store.session() as session:
            row = session.get(CyberTipReport, self.id)
            assert row is not None
            row.state, row.error_code, row.error_message = "failed", code, message[:2000]
            row.updated_at = utcnow()
            if retracted:
                row.retracted_at = utcnow()
            self.audit(
                session,
                "cybertip.failed",
                code=code,
                message=message[:500],
                call=getattr(exc, "call", None),
                request_id=getattr(exc, "request_id", None),
                ncmec_report_id=ncmec_id,
                retracted=retracted,
            )

    def transient(self, exc: Exception, step: str, ncmec_id: int | None) -> None:
        with self.store.session() as session:
            self.audit(
                session,
                "cybertip.call_failed",
                step=step,
                code=getattr(exc, "code", None),
                request_id=getattr(exc, "request_id", None),
                ncmec_report_id=ncmec_id,
                # Whether NCMEC may have carried the call out: no answer at all.
                uncertain=isinstance(exc, CyberTiplineTransportError),
            )

    # -- the steps --------------------------------------------------------------------------
    def open(self, row: CyberTipReport, files: list[CyberTipReportFile], resumed: bool) -> None:
        document = row.document.encode("utf-8")
        with self.store.session() as session:
            if resumed:
                self.audit(
                    session,
                    "cybertip.open_uncertain",
                    reason="an earlier /submit got no answer; a report NCMEC may have opened "
                    "then was abandoned and is deleted by NCMEC 24 hours after opening",
                )
                self.move(session, ("submitting",), "submitting")
            else:
                self.move(
                    session,
                    ("draft",),
                    "submitting",
                    submitted_by=self.actor,
                    environment=_environment(self.client.base_url),
                    base_url=self.client.base_url,
                    error_code=None,
                    error_message=None,
                )
                for found in files:
                    # fileinfo needs an uploaded file: a file that is not uploaded is not sent.
                    if found.state == "pending" and (
                        found.instance_id is None or not row.include_files
                    ):
                        self.move_file_plain(session, found.id, "pending", "skipped")
        try:
            ncmec_id = self.client.submit(document)
        except CyberTiplineResponseError as exc:
            if exc.retryable:
                with self.store.session() as session:
                    self.move(session, ("submitting",), "draft")
                self.transient(exc, "submit", None)
                raise
            raise FailureError(exc) from exc
        except CyberTiplineTransportError as exc:
            self.transient(exc, "submit", None)
            raise
        with self.store.session() as session:
            self.move(
                session,
                ("submitting",),
                "submitted",
                ncmec_report_id=ncmec_id,
                submitted_at=utcnow(),
            )
            self.audit(session, "cybertip.submitted", ncmec_report_id=ncmec_id)

    def move_file_plain(self, session: Session, file_id: int, src: str, dst: str) -> None:
        session.execute(
            update(CyberTipReportFile)
            .where(CyberTipReportFile.id == file_id, CyberTipReportFile.state == src)
            .values(state=dst)
            .execution_options(synchronize_session=False)
        )

    def restart(self, row: CyberTipReport, reason: str, *, retract: bool) -> None:
        """Give up the open NCMEC report (retracted first when it may still exist) and go back
        to ``draft``, every file pending again: the next round opens a new report."""
        ncmec_id = row.ncmec_report_id
        if retract and ncmec_id is not None:
            try:
                self.client.retract(ncmec_id)
            except CyberTiplineResponseError as exc:
                if exc.code == ALREADY_FINISHED:
                    raise CyberTipConflictError(
                        f"NCMEC says report {ncmec_id} is finished; check it before resending"
                    ) from exc
                if exc.code not in (ALREADY_RETRACTED, REPORT_MISSING):
                    if exc.retryable:
                        self.transient(exc, "retract", ncmec_id)
                        raise
                    raise FailureError(exc) from exc
            except CyberTiplineTransportError as exc:
                self.transient(exc, "retract", ncmec_id)
                raise
        abandoned = [*(row.abandoned_report_ids or []), *([ncmec_id] if ncmec_id else [])]
        with self.store.session() as session:
            session.execute(
                update(CyberTipReportFile)
                .where(
                    CyberTipReportFile.report_id == self.id,
                    CyberTipReportFile.state != "skipped",
                )
                .values(state="pending", ncmec_file_id=None, received_md5=None)
                .execution_options(synchronize_session=False)
            )
            self.move(
                session,
                ("submitted", "files_uploaded", "finishing"),
                "draft",
                ncmec_report_id=None,
                abandoned_report_ids=abandoned,
            )
            self.audit(session, "cybertip.restarted", abandoned_report_id=ncmec_id, reason=reason)

    def upload(self, row: CyberTipReport, found: CyberTipReportFile) -> None:
        ncmec_id = row.ncmec_report_id
        assert ncmec_id is not None and found.instance_id is not None
        with self.store.session() as session:
            instance = session.get(FileInstance, found.instance_id)
            blob = (
                None
                if instance is None or instance.sha256 is None
                else session.get(File, instance.sha256)
            )
            if instance is None or blob is None:
                raise FailureError(CyberTipError(f"file {found.object_id}: its evidence is gone"))
            path, sha256, md5 = instance.path, blob.sha256, blob.md5.lower()
        try:
            source = self.read(path, sha256)
        except ContentUnavailableError as exc:
            raise FailureError(CyberTipError(f"file {found.object_id}: {exc}")) from None
        with self.store.session() as session:
            self.move_file(session, found.id, "pending", "uploading")
        try:
            file_id, received = self.client.upload(
                ncmec_id, source.name, source.chunks(), source.size
            )
        except CyberTiplineResponseError as exc:
            if exc.code == REPORT_MISSING:
                raise RestartError(
                    "NCMEC no longer holds the report (5001)", retract=False
                ) from exc
            if not exc.retryable:
                raise FailureError(exc) from exc
            with self.store.session() as session:  # a refusal: NCMEC kept nothing
                self.move_file(session, found.id, "uploading", "pending")
            self.transient(exc, "upload", ncmec_id)
            raise
        except CyberTiplineTransportError as exc:
            self.transient(exc, "upload", ncmec_id)
            raise
        with self.store.session() as session:
            self.move_file(
                session,
                found.id,
                "uploading",
                "uploaded",
                ncmec_file_id=file_id,
                received_md5=received,
            )
            self.audit(
                session,
                "cybertip.file_uploaded",
                ncmec_report_id=ncmec_id,
                ncmec_file_id=file_id,
                object_id=found.object_id,
                md5=received,
                md5_matches=received == md5,
            )
        if received != md5:
            raise FailureError(
                CyberTipError(
                    f"file {found.object_id}: NCMEC received content with MD5 {received}, "
                    f"the evidence's is {md5}; the report was retracted"
                )
            )

    def detail(self, row: CyberTipReport, found: CyberTipReportFile) -> None:
        ncmec_id = row.ncmec_report_id
        assert ncmec_id is not None and found.ncmec_file_id is not None
        try:
            details = _fill_details(found.details, ncmec_id, found.ncmec_file_id)
            schema.validate(details, what="fileDetails")
            schema.check_rules(details)
        except CyberTipError as exc:
            raise FailureError(CyberTipError(f"file {found.object_id}: {exc}")) from None
        with self.store.session() as session:
            self.move_file(session, found.id, "uploaded", "detailing")
        try:
            self.client.fileinfo(details)
        except CyberTiplineResponseError as exc:
            if exc.code == REPORT_MISSING:
                raise RestartError(
                    "NCMEC no longer holds the report (5001)", retract=False
                ) from exc
            if not exc.retryable:
                raise FailureError(exc) from exc
            with self.store.session() as session:
                self.move_file(session, found.id, "detailing", "uploaded")
            self.transient(exc, "fileinfo", ncmec_id)
            raise
        except CyberTiplineTransportError as exc:
            self.transient(exc, "fileinfo", ncmec_id)
            raise
        with self.store.session() as session:
            self.move_file(session, found.id, "detailing", "detailed")
            self.audit(
                session,
                "cybertip.file_detailed",
                ncmec_report_id=ncmec_id,
                ncmec_file_id=found.ncmec_file_id,
            )

    def finish(self, row: CyberTipReport, files: list[CyberTipReportFile]) -> None:
        ncmec_id = row.ncmec_report_id
        assert ncmec_id is not None
        with self.store.session() as session:
            self.move(session, ("files_uploaded", "finishing"), "finishing")
        already = False
        try:
            file_ids = self.client.finish(ncmec_id)
        except CyberTiplineResponseError as exc:
            if exc.code == REPORT_MISSING:
                raise RestartError(
                    "NCMEC no longer holds the report (5001)", retract=False
                ) from exc
            if exc.code == ALREADY_RETRACTED:
                with self.store.session() as session:
                    self.move(session, ("finishing",), "retracted", retracted_at=utcnow())
                    self.audit(session, "cybertip.retracted", ncmec_report_id=ncmec_id, by="NCMEC")
                return
            if exc.code != ALREADY_FINISHED:
                if exc.retryable:
                    self.transient(exc, "finish", ncmec_id)
                    raise
                raise FailureError(exc) from exc
            already, file_ids = True, []
        except CyberTiplineTransportError as exc:
            self.transient(exc, "finish", ncmec_id)
            raise
        ours = sorted(f.ncmec_file_id for f in files if f.ncmec_file_id and f.state == "detailed")
        with self.store.session() as session:
            self.move(session, ("finishing",), "finished", finished_at=utcnow())
            self.audit(
                session,
                "cybertip.finished",
                ncmec_report_id=ncmec_id,
                file_ids=sorted(file_ids) if not already else ours,
                already_finished=already,
                files_match=already or sorted(file_ids) == ours,
            )


class FailureError(Exception):
    def __init__(self, cause: CyberTiplineResponseError | CyberTipError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _fill_details(details: str, report_id: int, file_id: str) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(details.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise CyberTipError(f"the fileDetails is not well-formed XML: {exc}") from None
    for tag, value in (("reportId", str(report_id)), ("fileId", file_id)):
        element = root.find(tag)
        if element is None:
            raise CyberTipError(f"the fileDetails has no <{tag}>")
        element.text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

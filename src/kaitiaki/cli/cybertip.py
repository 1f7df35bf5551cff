"""``kaitiaki report submit|retract|list|show|credentials|status|stand-in``: sending CyberTipline
reports to NCMEC and following them.

The commands attach to ``report_app`` (``kaitiaki.cli.provider``) when this module is imported.
Credentials are read from standard input only, never from the command line (where ``ps`` and
shell history would keep them), and are never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import err, user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.cli.provider import report_app

if TYPE_CHECKING:
    from kaitiaki.cybertip.client import CyberTiplineClient
    from kaitiaki.cybertip.reports import ReportView

# soft_wrap: the lines `report show` prints are read by scripts; never broken mid-line.
console = Console(highlight=False, soft_wrap=True)
ReportId = Annotated[int, typer.Argument(help="The report's id in kaitiaki (see report list).")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for each answer from NCMEC.")
]


def register(root: typer.Typer) -> None:
    """Nothing to add: the commands live on ``report_app``, which ``provider`` registers."""


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _show(view: ReportView) -> None:
    console.print(f"report {view.id} (subject {escape(view.subject_id)}): [bold]{view.state}[/]")
    where = view.base_url or "not sent yet"
    console.print(f"  environment: {view.environment}, {escape(where)}")
    if view.ncmec_report_id is not None:
        console.print(f"  NCMEC report id: {view.ncmec_report_id}")
    if view.error_code is not None or view.error_message:
        console.print(f"  error: {view.error_code} {escape(view.error_message or '')}")
    if view.abandoned_report_ids:
        ids = ", ".join(str(i) for i in view.abandoned_report_ids)
        console.print(f"  abandoned NCMEC reports (retracted or left to expire): {ids}")
    for f in view.files:
        ncmec = f" NCMEC file {f.ncmec_file_id}" if f.ncmec_file_id else ""
        console.print(f"  file {escape(f.object_id)}: {f.state}{ncmec}")
    if view.note:
        console.print(escape(view.note))


def _client(db: str | None, timeout: float) -> CyberTiplineClient:
    from kaitiaki.cybertip.credentials import load_connection

    return load_connection(store_from(db)).client(timeout=timeout)


def send_reports(reports: list[int], *, timeout: float, db: str | None) -> None:
    """Send each report in turn (``report submit``, ``report cybertipline --submit``); exit 1
    after the last if any failed, so a script sees it while every report still got its try."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.cybertip.client import CyberTiplineError
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.cybertip.submit import submit_report

    failed = 0
    with user_errors(CyberTipError, CyberTiplineError), _client(db, timeout) as client:
        for report in reports:
            view = submit_report(store_from(db), report, actor=cli_actor(), client=client)
            _show(view)
            failed += view.state == "failed"
    if failed:
        raise typer.Exit(1)


@report_app.command("submit")
def submit(report: ReportId, timeout: TimeoutOption = 120.0, db: DbOption = None) -> None:
    """Send a drafted report to NCMEC, or resume sending it after a failure or a crash."""
    send_reports([report], timeout=timeout, db=db)


@report_app.command("retract")
def retract(report: ReportId, timeout: TimeoutOption = 60.0, db: DbOption = None) -> None:
    """Cancel a report that NCMEC has not finished (a finished report cannot be retracted)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.cybertip.client import CyberTiplineError
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.cybertip.submit import retract_report
    from kaitiaki.cybertip.tracking import load

    store = store_from(db)
    with user_errors(CyberTipError, CyberTiplineError):
        row, _files = load(store, report)
        if row.ncmec_report_id is None:
            # Nothing at NCMEC to cancel: no credentials needed, nothing is sent.
            view = retract_report(store, report, actor=cli_actor(), client=None)
        else:
            with _client(db, timeout) as client:
                view = retract_report(store, report, actor=cli_actor(), client=client)
    _show(view)


@report_app.command("list")
def list_cmd(
    state: Annotated[
        str | None, typer.Option("--state", help="Only reports in this state.")
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject's.")] = None,
    db: DbOption = None,
) -> None:
    """CyberTipline reports, with their state and NCMEC's report id."""
    from kaitiaki.cybertip.reports import list_reports

    views = list_reports(store_from(db), state=state, subject_id=subject)
    if not views:
        console.print("no CyberTipline reports")
        return
    table = Table(title=f"{len(views)} CyberTipline report(s)")
    for column in ("id", "subject", "state", "NCMEC id", "files", "environment", "error"):
        table.add_column(column)
    for v in views:
        error = f"{v.error_code or ''} {v.error_message or ''}".strip()
        table.add_row(
            str(v.id),
            escape(v.subject_id),
            v.state,
            str(v.ncmec_report_id or ""),
            str(len(v.files)),
            v.environment,
            escape(error[:60]),
        )
    console.print(table)


@report_app.command("show")
def show(report: ReportId, db: DbOption = None) -> None:
    """A report's state, NCMEC's ids, its files and any error."""
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.cybertip.reports import get_report

    with user_errors(CyberTipError):
        _show(get_report(store_from(db), report))


@report_app.command("credentials")
def credentials(
    production: Annotated[
        bool,
        typer.Option("--production", help="For NCMEC's production server (default: its test one)."),
    ] = False,
    clear: Annotated[bool, typer.Option("--clear", help="Forget the stored credentials.")] = False,
    db: DbOption = None,
) -> None:
    """Store NCMEC's username and password, read as JSON from standard input
    ({"username": ..., "password": ...}), encrypted at rest."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.cybertip.credentials import (
        clear_credentials,
        parse_credentials,
        set_credentials,
    )
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.exchanges.registry import ExchangeError

    store = store_from(db)
    if clear:
        gone = clear_credentials(store, actor=cli_actor())
        console.print("credentials cleared" if gone else "no credentials were set")
        return
    if sys.stdin.isatty():
        err.print('reading {"username": ..., "password": ...} from standard input')
    with user_errors(CyberTipError, ExchangeError):
        username, password = parse_credentials(sys.stdin.read())
        environment = set_credentials(
            store, username, password, production=production, actor=cli_actor()
        )
    console.print(f"credentials stored for NCMEC's {environment} environment")


@report_app.command("status")
def status(timeout: TimeoutOption = 30.0, db: DbOption = None) -> None:
    """Check that NCMEC's server answers and takes the stored credentials (GET /status)."""
    from kaitiaki.cybertip.client import CyberTiplineError
    from kaitiaki.cybertip.errors import CyberTipError
    from kaitiaki.cybertip.submit import status_check

    with user_errors(CyberTipError, CyberTiplineError), _client(db, timeout) as client:
        answer = status_check(client)
        console.print(f"{escape(client.base_url)}: {escape(answer)}")


@report_app.command("stand-in")
def stand_in(
    username: Annotated[str, typer.Option("--username", help="The user it accepts.")],
    password_file: Annotated[
        Path, typer.Option("--password-file", help="File holding the password it accepts.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8790,
) -> None:
    """Serve a local stand-in for NCMEC's CyberTipline API (for demonstrations and tests);
    point kaitiaki at it with KAITIAKI_CYBERTIP_URL=http://HOST:PORT."""
    import uvicorn

    from kaitiaki.cybertip.standin import StandIn

    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{password_file}: cannot read the password ({type(exc).__name__})")
    if not password:
        _fail(f"{password_file} is empty")
    err.print(f"CyberTipline stand-in on http://{host}:{port} (not NCMEC; nothing leaves here)")
    uvicorn.run(StandIn(username, password).app, host=host, port=port, log_level="warning")

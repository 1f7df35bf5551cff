"""``kaitiaki jobs list|show|cancel``: the background jobs the web queued (as ``/api/jobs``);
a cancel is audited as the operator at the keyboard."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

app = typer.Typer(name="jobs", help="Background jobs: list, show, cancel.", no_args_is_help=True)
console = Console(highlight=False)

JobId = Annotated[int, typer.Argument(help="The job's id.", min=0, max=2**31 - 1)]


class JobNotFoundError(LookupError):
    pass


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 50,
    db: DbOption = None,
) -> None:
    """The newest jobs with their status and progress."""
    from kaitiaki.jobs import list_jobs

    table = Table(show_header=True)
    for column in ("id", "kind", "status", "progress", "by", "created", "message"):
        table.add_column(column)
    for job in list_jobs(store_from(db), limit=limit):
        progress = f"{job.done:,}/{job.total:,}" if job.total else f"{job.done:,}"
        table.add_row(
            str(job.id),
            job.kind,
            job.status,
            progress,
            Text(job.created_by),
            f"{job.created_at:%Y-%m-%d %H:%M}",
            Text(job.error or job.message or ""),
        )
    console.print(table)


@app.command("show")
def show(job_id: JobId, db: DbOption = None) -> None:
    """One job: status, progress, error and result."""
    from kaitiaki.jobs import get_job

    with user_errors(JobNotFoundError):
        job = get_job(store_from(db), job_id)
        if job is None:
            raise JobNotFoundError(f"no job {job_id}")
    console.print(Text(f"job {job.id} ({job.kind}): {job.status}, by {job.created_by}"))
    console.print(Text(f"progress {job.done:,}/{job.total if job.total else '?'}: {job.message}"))
    if job.error:
        console.print(Text(f"error: {job.error}"))
    if job.result:
        console.print(Text(f"result: {job.result}"))


@app.command("cancel")
def cancel(job_id: JobId, db: DbOption = None) -> None:
    """Cancel a queued or running job (a running one stops at its next progress report);
    audited as ``cli:$KAITIAKI_USER`` (else the login name)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.jobs import cancel as cancel_job
    from kaitiaki.jobs import get_job

    store = store_from(db)
    with user_errors(JobNotFoundError, ValueError):
        if get_job(store, job_id) is None:
            raise JobNotFoundError(f"no job {job_id}")
        if not cancel_job(store, job_id, by=cli_actor()):
            raise ValueError(f"job {job_id} has already finished")
    console.print(f"job {job_id} cancelled")


def register(root: typer.Typer) -> None:
    root.add_typer(app)

"""``kaitiaki exchange``: hash exchanges (NCMEC, StopNCII, ThreatExchange, TAT, files) feeding
hash sets, through Meta's ``threatexchange`` clients.

Credentials are read from a file (or standard input), never from the command line, where the
shell's history and the process list would keep them; no command prints them.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.exchanges import ExchangeView

console = Console(highlight=False)
app = typer.Typer(
    name="exchange",
    help="Hash exchanges, each feeding one hash set: add, list, fetch, schedule, status, "
    "feedback, credentials, remove.",
    no_args_is_help=True,
)


def _config(text: str | None) -> dict[str, Any]:
    from kaitiaki.exchanges import ExchangeError

    if text is None:
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExchangeError(f"--config is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise ExchangeError("--config must be a JSON object")
    return found


def _credentials(path: Path | None) -> str | None:
    from kaitiaki.exchanges import ExchangeError

    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExchangeError(f"{path}: cannot read credentials ({type(exc).__name__})") from None
    return text.strip() or None


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="A name for the exchange.")],
    api: Annotated[
        str,
        typer.Option(help="local_file, sample, ncmec, fb_threatexchange, stop_ncii or tat."),
    ],
    path: Annotated[
        str | None, typer.Option(help="The list file (local_file: 'TYPE HASH' a line).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(help='The exchange\'s settings as JSON, e.g. \'{"environment": "NGO"}\'.'),
    ] = None,
    hash_set: Annotated[
        str | None, typer.Option(help="The hash set it feeds (created if missing).")
    ] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option(help="File holding the credentials in the API's form ('-': stdin)."),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Fetch on a schedule, e.g. 15m, 1h, 1d; 'off': by hand only. Default: every "
            "hour for network exchanges, by hand for local_file and sample.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Register an exchange; its credentials are stored encrypted."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError, add_exchange
    from kaitiaki.exchanges.manage import DEFAULT
    from kaitiaki.hashsets import HashSetError

    with user_errors(ExchangeError, HashSetError):
        schedule = DEFAULT if every is None else _every(every)
        view = add_exchange(
            store_from(db),
            name,
            api,
            hash_set=hash_set,
            path=path,
            config=_config(config),
            credentials=_credentials(credentials_file),
            every=schedule,
            actor=cli_actor(),
        )
    console.print(
        f"added exchange {escape(view.name)} ({view.api}) feeding {escape(view.hash_set)}, "
        f"fetched {_schedule(view.fetch_every_s)}"
    )


def _every(text: str) -> int | None:
    from kaitiaki.exchanges.timing import parse_every

    return None if text.strip().lower() in ("off", "none", "never") else parse_every(text)


def _schedule(every: int | None) -> str:
    from kaitiaki.exchanges.timing import describe

    return "by hand" if every is None else f"every {describe(every)}"


def _job(view: ExchangeView) -> str:
    job = view.job
    if job is None:
        return ""
    return f"job {job.id} {job.status}" + (f": {job.message}" if job.status == "running" else "")


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """Show every exchange and its last fetch."""
    from kaitiaki.exchanges import list_exchanges

    rows = list_exchanges(store_from(db))
    if not rows:
        typer.echo("no exchanges")
        return
    table = Table(
        "name", "api", "hash set", "items", "last fetch", "status", "next fetch", "job", "error"
    )
    for row in rows:
        table.add_row(
            escape(row.name),
            row.api + ("" if row.enabled else " (disabled)"),
            escape(row.hash_set),
            str(row.items),
            _when(row.last_fetch_finished or row.last_fetch_started),
            row.last_fetch_status or "never",
            _next(row),
            escape(_job(row)),
            escape((row.last_error or "")[:60]),
        )
    # A console made now reads the terminal's width now (the module's was fixed at import).
    Console(highlight=False).print(table)


@app.command("fetch")
def fetch_cmd(
    name: Annotated[
        str | None, typer.Argument(help="The exchange to fetch (even a disabled one).")
    ] = None,
    due: Annotated[
        bool,
        typer.Option(
            "--due",
            help="Instead of one exchange, every enabled one whose scheduled fetch is due "
            "(for cron); a fetch a server or another cron run has taken is left to it.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Fetch what is new (resuming where the last fetch stopped) into the exchange's hash set."""
    from kaitiaki.exchanges import ExchangeError

    with user_errors(ExchangeError):
        if due == (name is not None):
            raise ExchangeError("give either an exchange's name or --due")
    if name is not None:
        _fetch_one(name, db)
        return
    from kaitiaki.exchanges.schedule import take_due

    taken = take_due(store_from(db))
    if not taken:
        console.print(f"no exchange is due: {_none_due(db)}", soft_wrap=True)
    failed = []
    for each in taken:
        try:
            _fetch_one(each.name, db)
        except typer.Exit:
            failed.append(each.name)
    if failed:
        raise typer.Exit(1)


def _none_due(db: str | None) -> str:
    """Why ``fetch --due`` found nothing to fetch."""
    from kaitiaki.exchanges import list_exchanges

    views = list_exchanges(store_from(db))
    if not views:
        return "there are no exchanges (add one with 'kaitiaki exchange add')"
    scheduled = [v for v in views if v.enabled and v.next_fetch_at is not None]
    if not scheduled:
        return (
            "none is enabled with a schedule (set one with 'kaitiaki exchange schedule NAME "
            "--every 1h')"
        )
    taken = [v for v in scheduled if v.job is not None]
    waiting = [v for v in scheduled if v.job is None]
    if not waiting:
        return f"the fetch of {', '.join(escape(v.name) for v in taken)} is already queued"
    soonest = min(waiting, key=lambda v: v.next_fetch_at or datetime.max)
    return f"the next is {escape(soonest.name)} at {_when(soonest.next_fetch_at)} UTC"


def _fetch_one(name: str, db: str | None) -> None:
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError, FetchReport, fetch

    err = Console(stderr=True, highlight=False)

    def progress(report: FetchReport) -> None:
        err.print(f"batch {report.batches}: {report.updates} updates", end="\r")

    with user_errors(ExchangeError):
        try:
            report = fetch(store_from(db), name, actor=cli_actor(), on_progress=progress)
        except ExchangeError:
            raise
        except Exception:
            # The client's error is stored (credentials redacted) on the exchange's status.
            from kaitiaki.exchanges import exchange_status

            status = exchange_status(store_from(db), name)
            raise ExchangeError(f"fetch of {name!r} failed: {status.last_error}") from None
    done = report.result
    console.print(
        f"fetched {escape(name)}: {report.updates} updates in {report.batches} batches; "
        f"{done.entries_added} entries added, {done.entries_removed} removed"
        + (" (full fetch)" if report.full else "")
    )
    if done.unmapped_deletes:
        console.print(
            f"note: {done.unmapped_deletes} upstream deletes named neither a hash nor a "
            "record, and were not applied"
        )


@app.command("status")
def status_cmd(
    name: Annotated[str, typer.Argument(help="The exchange.")],
    db: DbOption = None,
) -> None:
    """The exchange's settings (never its credentials) and its last fetch."""
    from kaitiaki.exchanges import ExchangeError, exchange_status

    with user_errors(ExchangeError):
        view = exchange_status(store_from(db), name)
    lines = {
        "name": view.name,
        "api": view.api,
        "hash set": view.hash_set,
        "config": json.dumps(view.config, sort_keys=True),
        # Without its own, a fetch uses the API's (`kaitiaki exchange credentials API`).
        "credentials": "stored (encrypted)" if view.has_credentials else "none of its own",
        "items": str(view.items),
        "last fetch started": _when(view.last_fetch_started),
        "last fetch finished": _when(view.last_fetch_finished),
        "status": view.last_fetch_status or "never fetched",
        "updates": "" if view.last_fetch_items is None else str(view.last_fetch_items),
        "error": view.last_error or "",
        "enabled": "yes" if view.enabled else "no (not scheduled; fetch by hand)",
        "schedule": _schedule(view.fetch_every_s),
        "next fetch": _next(view),
        "job": _job(view),
    }
    for key, value in lines.items():
        console.print(f"{key}: {escape(value)}")


@app.command("remove")
def remove_cmd(
    name: Annotated[str, typer.Argument(help="The exchange.")],
    db: DbOption = None,
) -> None:
    """Forget an exchange, its credentials and checkpoint; the hash set it fed stays."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError, remove_exchange

    with user_errors(ExchangeError):
        dropped = remove_exchange(store_from(db), name, actor=cli_actor())
    console.print(f"removed exchange {escape(name)} ({dropped} items)")


@app.command("schedule")
def schedule_cmd(
    name: Annotated[str, typer.Argument(help="The exchange.")],
    every: Annotated[
        str | None, typer.Option(help="How often to fetch it, e.g. 15m, 1h, 1d.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Fetch it by hand only.")] = False,
    db: DbOption = None,
) -> None:
    """Fetch an exchange on a schedule (run by `kaitiaki serve`, or `exchange fetch --due`)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError
    from kaitiaki.exchanges.schedule import set_schedule

    with user_errors(ExchangeError):
        if off == (every is not None):
            raise ExchangeError("give either --every DURATION or --off")
        seconds = None if off else _every(every or "")
        view = set_schedule(store_from(db), name, seconds, actor=cli_actor())
    console.print(f"{escape(view.name)}: fetched {_schedule(view.fetch_every_s)}")
    if view.fetch_every_s is not None and not view.enabled:
        console.print("note: the exchange is disabled, so it is not fetched until enabled")


@app.command("feedback")
def feedback_cmd(
    name: Annotated[str, typer.Argument(help="The exchange that shared the signal.")],
    signal_type: Annotated[str, typer.Option(help="pdq or video_md5.")],
    signal: Annotated[str, typer.Option(help="The hash, as the exchange shared it.")],
    opinion: Annotated[
        str, typer.Option(help="positive (a true match) or negative (a false one).")
    ],
    db: DbOption = None,
) -> None:
    """Send a reviewer's decision on a signal back to the exchange that shared it."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError
    from kaitiaki.exchanges.feedback import give_feedback

    with user_errors(ExchangeError):
        view = give_feedback(store_from(db), name, signal_type, signal, opinion, actor=cli_actor())
        if view.status != "sent":
            raise ExchangeError(f"feedback {view.id} recorded but {view.status}: {view.error}")
    console.print(f"feedback {view.id} sent to {escape(name)}: {view.opinion}")


@app.command("credentials")
def credentials_cmd(
    api: Annotated[str, typer.Argument(help="The exchange API, e.g. ncmec, stop_ncii, tat.")],
    clear: Annotated[bool, typer.Option("--clear", help="Forget the API's credentials.")] = False,
    db: DbOption = None,
) -> None:
    """Set an API's credentials, used by its exchanges that have none of their own: the
    credential fields as a JSON object on standard input, e.g. {"user": ..., "password": ...}
    for ncmec (`GET /c/exchanges/api/API/schema` lists them)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.exchanges import ExchangeError
    from kaitiaki.exchanges.api_credentials import set_api_credentials

    with user_errors(ExchangeError):
        data = None if clear else _credential_json()
        view = set_api_credentials(store_from(db), api, data, actor=cli_actor())
    console.print(f"{api}: credentials {'set' if view.has_set_authentification else 'cleared'}")


def _credential_json() -> dict[str, Any]:
    from kaitiaki.exchanges import ExchangeError

    if sys.stdin.isatty():
        raise ExchangeError("give the credentials as a JSON object on standard input")
    try:
        found = json.loads(sys.stdin.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        # The decoder's message quotes the text around the fault: part of a secret.
        raise ExchangeError("standard input is not JSON") from None
    if not isinstance(found, dict) or not found:
        raise ExchangeError(
            "give the credentials as a non-empty JSON object (--clear forgets them)"
        )
    return found


def _next(view: ExchangeView) -> str:
    from kaitiaki.store.models import utcnow

    if view.next_fetch_at is None:
        return "by hand" if view.enabled else "disabled"
    if view.job is not None:
        return "after the queued fetch"
    return "due now" if view.next_fetch_at <= utcnow() else _when(view.next_fetch_at)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="exchange")

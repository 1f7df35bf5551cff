"""The receiving agency's commands: ``referral import``, ``case ...``, ``outcomes export``;
and the sender's ``referral revise`` (a newer version of a package already sent)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import err, user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.cli.tracking import named_group, outcomes_app, referral_app

console = Console()
case_app = typer.Typer(
    name="case",
    help="Received cases: referral packages other agencies sent us, worked here.",
    no_args_is_help=True,
)
EXIT_UNKNOWN_SENDER = 3  # as `kaitiaki verify`

CaseRef = Annotated[str, typer.Argument(metavar="CASE", help="Case number or sender's reference.")]


def _errors() -> tuple[type[Exception], ...]:
    from kaitiaki.receive.cases import CaseError
    from kaitiaki.receive.package_reader import PackageError
    from kaitiaki.refer.signing import SigningKeyError

    return (CaseError, PackageError, SigningKeyError, OSError)


def import_cmd(
    package: Annotated[Path, typer.Argument(metavar="PACKAGE_DIR_OR_ZIP")],
    accept_unknown_sender: Annotated[
        bool, typer.Option(help="Accept a package signed by a key not in the trust store.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why an unknown sender is accepted (audited).")
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(help="Our own records workspace, to deconflict on emails, phones, devices."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Verify a referral package another kaitiaki sent and create (or update) its received
    case. Exit status 3: signed by a key not in the trust store (refused)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.importing import import_package
    from kaitiaki.receive.package_reader import UnknownSenderError
    from kaitiaki.users.scope import Scope

    if accept_unknown_sender and not (reason or "").strip():
        raise typer.BadParameter("--accept-unknown-sender needs --reason TEXT")
    with user_errors(*_errors()):
        try:
            result = import_package(
                store_from(db),
                package,
                actor=cli_actor(),
                scope=Scope.operator(),
                accept_unknown_reason=reason if accept_unknown_sender else None,
                workspace=workspace,
            )
        except UnknownSenderError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_UNKNOWN_SENDER) from None
    if accept_unknown_sender:
        console.print(
            f"[yellow]accepted from an unknown sender[/] ({result.key_fingerprint}): "
            f"{escape(reason or '')}",
            highlight=False,
        )
    else:
        console.print(
            f"verified: signed by {escape(result.sender)} ({result.key_fingerprint})",
            highlight=False,
            soft_wrap=True,
        )
    head = f"case {result.case_id}: {result.reference} v{result.package_version}"
    if result.outcome == "unchanged":
        console.print(f"{head} already imported; nothing changed", highlight=False)
    elif result.outcome == "merged":
        console.print(f"{head} merged: {len(result.differences)} difference(s)", highlight=False)
        table = Table(title="Differences from the version held")
        for column in ("subject", "change", "detail"):
            table.add_column(column)
        for d in result.differences:
            table.add_row(d["subject_id"], d["change"], escape(d["detail"]))
        console.print(table)
    else:
        console.print(
            f"{head} received: {result.subjects} subject(s), {result.ip_capture_events} IP "
            f"capture event(s), {result.flagged_files} flagged file(s)"
            + (f" as hash set {escape(repr(result.hash_set))}" if result.hash_set else ""),
            highlight=False,
        )
    for hit in result.hits:
        other = "our subject" if hit.other_type == "subject" else "received case"
        console.print(
            f"[bold]deconfliction[/]: {hit.subject_id} shares {hit.kind} with {other} "
            f"{escape(hit.other_id)}",
            highlight=False,
        )


def revise(
    referral: Annotated[str, typer.Argument(metavar="REF")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the new package.")],
    analysis: Annotated[Path | None, typer.Option(help="Folder of `operation analyse`.")] = None,
    workspace: Annotated[Path | None, typer.Option(help="Records workspace to read.")] = None,
    key: Annotated[Path | None, typer.Option(help="Private key.")] = None,
    agencies: Annotated[Path | None, typer.Option(help="Country -> agency CSV.")] = None,
    db: DbOption = None,
) -> None:
    """Rebuild a sent referral's package about the same subjects as its next version."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.revise import NothingNewError, revise_referral
    from kaitiaki.refer.signing import SigningKeyError, default_key_path

    if workspace is None:
        if analysis is None:
            raise typer.BadParameter("give --analysis DIR or --workspace DIR")
        workspace = analysis / "workspace"
    with user_errors(SigningKeyError, LookupError, FileNotFoundError, ValueError):
        try:
            built = revise_referral(
                store_from(db),
                workspace,
                out,
                referral,
                key_path=key or default_key_path(),
                built_by=cli_actor(),
                agencies=agencies,
            )
        except NothingNewError as exc:
            # Nothing to do is no error (as elsewhere): said on stderr, exit status 0.
            typer.echo(str(exc), err=True)
            return
    console.print(
        f"referral {built.referral_id}: new version in {built.folder} "
        f"({len(built.subjects)} subject(s), {built.events} event(s))",
        highlight=False,
    )


@case_app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """Received cases, highest priority first."""
    from kaitiaki.receive.cases import list_cases
    from kaitiaki.users.scope import Scope

    table = Table(title="Received cases")
    for column in (
        "case",
        "reference",
        "from",
        "priority",
        "status",
        "assigned",
        "subjects",
        "hits",
    ):
        table.add_column(column)
    for c in list_cases(store_from(db), scope=Scope.operator()):
        table.add_row(
            str(c.id),
            c.reference,
            escape(c.sender),
            f"{c.priority_tier or '-'} {c.priority_score or ''}".strip(),
            c.status,
            escape(c.assigned_to or ""),
            str(c.subjects),
            str(c.hits),
        )
    console.print(table)


@case_app.command("show")
def show(case: CaseRef, db: DbOption = None) -> None:
    """One case: sender, subjects, steps, deconfliction hits, versions (the look is audited)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.work import view_case
    from kaitiaki.users.scope import Scope

    with user_errors(*_errors()):
        c = view_case(store_from(db), case, actor=cli_actor(), scope=Scope.operator())
    console.print(
        f"case {c.id}: {c.reference} v{c.package_version} from {escape(c.sender)} "
        f"({c.sender_fingerprint[:16]}...), to {escape(c.agency)} ({c.country or '-'})\n"
        f"status {c.status}; assigned to {escape(c.assigned_to or 'nobody')}; "
        f"priority {c.priority_tier or '-'}; sender's contact {escape(c.contact_reference)}",
        highlight=False,
    )
    if c.unknown_sender_reason:
        console.print(
            f"[yellow]accepted from an unknown sender[/]: {escape(c.unknown_sender_reason)}"
        )
    subjects = Table(title="Subjects")
    for column in ("subject", "country", "priority", "accounts", "events", "flagged files"):
        subjects.add_column(column)
    for s in c.subject_docs:
        subjects.add_row(
            s["subject_id"],
            str(s["attribution"].get("country") or "-"),
            f"{s['priority'].get('tier') or '-'} {s['priority'].get('score') or ''}".strip(),
            str(len(s["accounts"])),
            str(len(s["ip_capture_events"])),
            str(len(s["flagged_files"])),
        )
    console.print(subjects)
    steps = Table(title="Steps")
    for column in ("date", "step", "subject", "count", "reason / detail", "by"):
        steps.add_column(column)
    for st in c.steps:
        steps.add_row(
            f"{st.on:%Y-%m-%d}",
            st.kind,
            st.subject_id or "",
            "" if st.count is None else str(st.count),
            escape(" / ".join(x for x in (st.reason, st.detail) if x)),
            escape(st.by),
        )
    console.print(steps)
    for h in c.hits_found:
        other = "our subject" if h.other_type == "subject" else "received case"
        console.print(f"deconfliction: {h.subject_id} shares {h.kind} with {other} {h.other_id}")
    for m in c.evidence_matches:
        console.print(f"evidence {escape(m.evidence)}: {m.files} file(s) match the sender's hashes")


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@case_app.command("step")
def step(
    case: CaseRef,
    kind: Annotated[str, typer.Argument(metavar="STEP", help="e.g. legal_request, arrest.")],
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today).")] = None,
    count: Annotated[
        int | None, typer.Option(help="How many (arrested, devices, children).")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="The subject it concerns.")] = None,
    reason: Annotated[str, typer.Option(help="Why (no further action); sent back.")] = "",
    detail: Annotated[str, typer.Option(help="Details kept here only (ISP, warrant no.).")] = "",
    db: DbOption = None,
) -> None:
    """Record a step of the investigation (audited)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.cases import case_detail
    from kaitiaki.receive.work import add_step
    from kaitiaki.users.scope import Scope

    store = store_from(db)
    with user_errors(*_errors()):
        done = add_step(
            store,
            case,
            kind,
            actor=cli_actor(),
            scope=Scope.operator(),
            on=_date(on),
            count=count,
            subject_id=subject,
            reason=reason,
            detail=detail,
        )
        status = case_detail(store, case, scope=Scope.operator()).status
    console.print(f"{done.kind} on {done.on:%Y-%m-%d} recorded; case status {status}")


@case_app.command("note")
def note(case: CaseRef, text: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Add a note (kept here; never sent back)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.work import add_step
    from kaitiaki.users.scope import Scope

    with user_errors(*_errors()):
        add_step(
            store_from(db), case, "note", actor=cli_actor(), scope=Scope.operator(), detail=text
        )
    console.print("note recorded")


@case_app.command("assign")
def assign(case: CaseRef, user: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Give the case to an investigator."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.work import assign_case
    from kaitiaki.users.scope import Scope

    with user_errors(*_errors()):
        done = assign_case(store_from(db), case, user, actor=cli_actor(), scope=Scope.operator())
    console.print(f"case {done.case_id} assigned to {escape(done.assigned_to)}")


def export_cmd(
    referral: Annotated[str, typer.Option("--referral", metavar="REF", help="The case.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Outcome file to write.")],
    key: Annotated[Path | None, typer.Option(help="Our private key.")] = None,
    db: DbOption = None,
) -> None:
    """Write the signed outcome file of a received case for its sender."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.receive.report import export_outcomes
    from kaitiaki.refer.signing import default_key_path
    from kaitiaki.users.scope import Scope

    with user_errors(*_errors(), ValueError):
        done = export_outcomes(
            store_from(db),
            referral,
            out,
            key_path=key or default_key_path(),
            actor=cli_actor(),
            scope=Scope.operator(),
        )
    totals = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in done.totals.items())
    console.print(
        f"wrote {out}: referral {done.referral_id}, {done.steps} step(s); {totals}; "
        f"sha256 {done.sha256}",
        highlight=False,
        soft_wrap=True,
    )


def register(root: typer.Typer) -> None:
    group = named_group(root, "referral", referral_app)
    group.command("import")(import_cmd)
    group.command("revise")(revise)
    named_group(root, "outcomes", outcomes_app).command("export")(export_cmd)
    root.add_typer(case_app)

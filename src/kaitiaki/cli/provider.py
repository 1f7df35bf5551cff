"""``kaitiaki report cybertipline|profile set|profile show`` and
``kaitiaki deconflict export|check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import err, user_errors
from kaitiaki.cli.options import DbOption, store_from

report_app = typer.Typer(name="report", help="Reports for providers.", no_args_is_help=True)
deconflict_app = typer.Typer(
    name="deconflict",
    help="Find subjects shared with other agencies without sharing identifiers.",
    no_args_is_help=True,
)
console = Console()

if TYPE_CHECKING:
    from kaitiaki.cybertip.document import Reporter

AnalysisOption = Annotated[
    Path | None,
    typer.Option("--analysis", "-a", help="Folder of an operation analysis (holds workspace/)."),
]
WorkspaceOption = Annotated[
    Path | None, typer.Option("--workspace", help="The analysis workspace folder itself.")
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the secret agreed with partner agencies; else $KAITIAKI_POINTER_KEY.",
    ),
]


def _workspace(analysis: Path | None, workspace: Path | None) -> Path:
    if (analysis is None) == (workspace is None):
        err.print("[bold red]error:[/] give exactly one of --analysis or --workspace")
        raise typer.Exit(2)
    folder = workspace if workspace is not None else analysis / "workspace"  # type: ignore[operator]
    if not folder.is_dir():
        err.print(f"[bold red]error:[/] no analysis workspace at {folder}")
        raise typer.Exit(1)
    return folder


profile_app = typer.Typer(
    name="profile",
    help="Who the provider is in its CyberTipline reports.",
    no_args_is_help=True,
)
report_app.add_typer(profile_app)


def _override(
    name: str | None, email: str | None, esp_name: str | None, db: str | None, profile: str
) -> Reporter | None:
    """The reporter for a draft from the override flags, over the stored profile; None when
    no flag is given (the draft reads the profile itself)."""
    # Imported here, as the other commands do: ``kaitiaki --help`` loads no lxml or pyarrow.
    from kaitiaki.cybertip import ProfileMissingError
    from kaitiaki.cybertip.document import Reporter
    from kaitiaki.cybertip.profile import SET_COMMAND, get_profile

    given = {k: v.strip() for k, v in (("name", name), ("email", email), ("esp", esp_name)) if v}
    if not given:
        return None
    try:
        base: Reporter | None = get_profile(store_from(db), profile).reporter()
    except ProfileMissingError:
        base = None
    if base is None:
        missing = [
            flag
            for flag, key in (
                ("--reporter-name", "name"),
                ("--reporter-email", "email"),
                ("--esp-name", "esp"),
            )
            if key not in given
        ]
        if missing:
            err.print(
                f"[bold red]error:[/] no provider profile {profile!r} and missing "
                f"{', '.join(missing)}: set the profile with `{SET_COMMAND}` or give all three"
            )
            raise typer.Exit(2)
        base = Reporter("", given["name"], given["email"], given["esp"])
    first, last = base.first_name, base.last_name
    if "name" in given:
        head, _, tail = given["name"].rpartition(" ")
        first, last = head.strip(), tail.strip()
    return Reporter(
        first,
        last,
        given.get("email", base.email),
        given.get("esp", base.esp_name),
        *(base.phone, base.esp_service, base.platform, base.company_template),
        *(base.terms_of_service, base.legal_url),
    )


@report_app.command("cybertipline")
def cybertipline(
    subjects: Annotated[
        list[str], typer.Option("--subject", help="Subject id (S-...); repeatable.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the <report> XML here.")
    ] = None,
    analysis: AnalysisOption = None,
    workspace: WorkspaceOption = None,
    escalate: Annotated[
        str | None,
        typer.Option(help="Escalate to high priority, with the reason (immediate risk, ...)."),
    ] = None,
    annotate: Annotated[
        list[str] | None,
        typer.Option("--annotate", help="A report annotation (e.g. sextortion); repeatable."),
    ] = None,
    file_annotations: Annotated[
        list[str] | None,
        typer.Option(
            "--file-annotation",
            metavar="OBJECT=NAME",
            help="A file annotation a person set (e.g. obj-17=generativeAi); repeatable.",
        ),
    ] = None,
    files: Annotated[
        bool,
        typer.Option(
            "--files/--no-files", help="Upload the files the evidence holds when it is sent."
        ),
    ] = False,
    profile: Annotated[str, typer.Option(help="The provider profile to report as.")] = "default",
    reporter_name: Annotated[
        str | None,
        typer.Option(envvar="KAITIAKI_REPORTER_NAME", help="Reporting person (over the profile)."),
    ] = None,
    reporter_email: Annotated[
        str | None, typer.Option(envvar="KAITIAKI_REPORTER_EMAIL", help="Their email.")
    ] = None,
    esp_name: Annotated[
        str | None, typer.Option(envvar="KAITIAKI_ESP_NAME", help="The provider's name.")
    ] = None,
    submit: Annotated[
        bool,
        typer.Option(
            "--submit",
            help="Send each report to NCMEC once drafted (`kaitiaki report submit ID` resumes "
            "one that stopped).",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for NCMEC per call.")] = 120.0,
    db: DbOption = None,
) -> None:
    """Draft a CyberTipline report per subject, valid against NCMEC's schema; with --submit,
    send each to NCMEC (the test environment unless production is configured)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.cybertip import CyberTipError
    from kaitiaki.cybertip.drafts import draft_report, get_report, report_document

    if out is not None and len(subjects) > 1:
        err.print("[bold red]error:[/] --out takes one subject's report; give one --subject")
        raise typer.Exit(2)
    per_file: dict[str, list[str]] = {}
    for given in file_annotations or ():
        object_id, sep, name = given.rpartition("=")
        if not sep or not object_id.strip() or not name.strip():
            err.print(
                f"[bold red]error:[/] --file-annotation {escape(repr(given))}: expected OBJECT=NAME"
            )
            raise typer.Exit(2)
        per_file.setdefault(object_id.strip(), []).append(name.strip())
    folder = _workspace(analysis, workspace)
    override = _override(reporter_name, reporter_email, esp_name, db, profile)
    store = store_from(db)
    drafted: list[int] = []
    for subject in subjects:
        with user_errors(CyberTipError, FileNotFoundError):
            report_id = draft_report(
                store,
                folder,
                subject,
                actor=cli_actor(),
                profile=profile,
                escalate=escalate,
                annotations=annotate or (),
                include_files=files,
                reporter_override=override,
                file_annotations=per_file or None,
            )
        view = get_report(store, report_id)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_bytes(report_document(store, report_id))
            tmp.replace(out)  # never a half-written report where a reader looks
        # Plain echo: a line scripts read is never wrapped or read as markup.
        typer.echo(
            f"drafted CyberTipline report {report_id} for {subject} ({len(view.files)} files), "
            "valid against NCMEC's schema"
        )
        drafted.append(report_id)
    if submit:
        from kaitiaki.cli.cybertip import send_reports

        send_reports(drafted, timeout=timeout, db=db)


@profile_app.command("set")
def profile_set(
    first_name: Annotated[str, typer.Option(help="The reporting person's first name.")],
    last_name: Annotated[str, typer.Option(help="Their last name.")],
    email: Annotated[str, typer.Option(help="Their email (NCMEC's notices go there).")],
    esp_name: Annotated[str, typer.Option(help="The provider's (company's) name.")],
    phone: Annotated[str | None, typer.Option(help="Their phone.")] = None,
    esp_service: Annotated[
        str | None, typer.Option(help="The product the reported users used (espService).")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="The full application name.")] = None,
    company_template: Annotated[
        str | None,
        typer.Option(help="Words for every report: legal process, retention, 24-hour contacts."),
    ] = None,
    terms_of_service: Annotated[
        str | None, typer.Option(help="Terms of service relevant to reports.")
    ] = None,
    legal_url: Annotated[str | None, typer.Option(help="A URL with further information.")] = None,
    name: Annotated[str, typer.Option(help="The profile's name.")] = "default",
    db: DbOption = None,
) -> None:
    """Set (create or replace) the provider profile every report is filed as."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.cybertip import CyberTipError
    from kaitiaki.cybertip.profile import set_profile

    with user_errors(CyberTipError):
        set_profile(
            store_from(db),
            actor=cli_actor(),
            name=name,
            first_name=first_name,
            last_name=last_name,
            email=email,
            esp_name=esp_name,
            phone=phone,
            esp_service=esp_service,
            platform=platform,
            company_template=company_template,
            terms_of_service=terms_of_service,
            legal_url=legal_url,
        )
    typer.echo(f"provider profile {name} set")


@profile_app.command("show")
def profile_show(
    name: Annotated[str, typer.Option(help="The profile's name.")] = "default",
    db: DbOption = None,
) -> None:
    """Show a provider profile."""
    from rich.markup import escape

    from kaitiaki.cybertip import CyberTipError
    from kaitiaki.cybertip.profile import FIELDS, get_profile

    with user_errors(CyberTipError):
        view = get_profile(store_from(db), name)
    table = Table(title=f"provider profile {escape(name)}")
    table.add_column("field")
    table.add_column("value")
    for field in FIELDS:
        table.add_row(field.replace("_", " "), escape(getattr(view, field) or ""))
    table.add_row("updated by", escape(view.updated_by))
    table.add_row("updated at", view.updated_at.isoformat(timespec="seconds"))
    console.print(table)


@deconflict_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Pointer file (JSON) to write.")],
    contact: Annotated[
        str, typer.Option(help="How the other side reaches you (all they will learn).")
    ],
    operation: Annotated[str, typer.Option(help="Operation name shown to the other side.")] = "",
    key_file: KeyFileOption = None,
    analysis: AnalysisOption = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Write keyed pointers (HMAC) to the identifiers of every subject's accounts."""
    from kaitiaki.refer.deconflict import PointerError, export_pointers, load_key

    folder = _workspace(analysis, workspace)
    with user_errors(PointerError):
        key = load_key(key_file)
        count = export_pointers(
            store_from(db),
            folder,
            out,
            key=key,
            contact_reference=contact,
            operation=operation or folder.resolve().parent.name,
        )
    console.print(f"wrote {count:,} pointers to {out}")


@deconflict_app.command("check")
def check(
    other: Annotated[Path, typer.Argument(help="The other side's pointer file.")],
    key_file: KeyFileOption = None,
    analysis: AnalysisOption = None,
    workspace: WorkspaceOption = None,
    db: DbOption = None,
) -> None:
    """Which of our subjects the other side also holds, and whom to contact about them."""
    from kaitiaki.refer.deconflict import PointerError, check_pointers, load_key

    folder = _workspace(analysis, workspace)
    with user_errors(PointerError):
        key = load_key(key_file)
        hits = check_pointers(store_from(db), folder, other, key=key)
    if not hits:
        console.print(f"no hits against {other}")
        return
    table = Table(title=f"{len(hits)} hit(s) against {other}")
    for column in ("our subject", "our account", "identifier kind", "their contact", "operation"):
        table.add_column(column)
    for hit in hits:
        table.add_row(
            hit.subject_id, hit.account_id, hit.kind, hit.contact_reference, hit.operation
        )
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(report_app)
    root.add_typer(deconflict_app)

"""``kaitiaki report cybertipline`` and ``kaitiaki deconflict export|check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
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


@report_app.command("cybertipline")
def cybertipline(
    subject: Annotated[str, typer.Option("--subject", help="Subject id (S-...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="XML file to write.")],
    analysis: AnalysisOption = None,
    workspace: WorkspaceOption = None,
    reporter_name: Annotated[
        str | None, typer.Option(envvar="KAITIAKI_REPORTER_NAME", help="Reporting person.")
    ] = None,
    reporter_email: Annotated[
        str | None, typer.Option(envvar="KAITIAKI_REPORTER_EMAIL", help="Their email.")
    ] = None,
    esp_name: Annotated[
        str | None, typer.Option(envvar="KAITIAKI_ESP_NAME", help="The provider's name.")
    ] = None,
    db: DbOption = None,
) -> None:
    """A CyberTipline-shaped XML report (one <report> per flagged account), XSD-validated."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.cybertip import Reporter, ReportError, write_cybertip_report

    folder = _workspace(analysis, workspace)
    missing = [
        flag
        for flag, value in (
            ("--reporter-name", reporter_name),
            ("--reporter-email", reporter_email),
            ("--esp-name", esp_name),
        )
        if not (value or "").strip()
    ]
    if missing:
        err.print(f"[bold red]error:[/] missing {', '.join(missing)}")
        raise typer.Exit(2)
    reporter = Reporter(str(reporter_name), str(reporter_email), str(esp_name))
    with user_errors(ReportError, FileNotFoundError):
        write_cybertip_report(
            store_from(db), folder, subject, out, reporter=reporter, actor=cli_actor()
        )
    console.print(f"wrote {out} (validated against cybertip-subset-v1.xsd)")


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

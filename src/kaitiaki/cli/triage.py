"""``kaitiaki triage`` (the examiner's report) and ``kaitiaki review`` (a reviewer's decision)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.store import Store

console = Console()
FORMATS = ("html", "pdf")


def _write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside ``target``: no half-written report is left."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_name(evidence: str) -> str:
    """An evidence name made safe as part of a file name (names may hold / or spaces)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in evidence).strip(".") or "_"


def triage(
    evidence: Annotated[str, typer.Option("--evidence", "-e", help="Evidence item name.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Report file to write; an existing folder gets triage-EVIDENCE.FORMAT in it.",
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="html or pdf.")] = "html",
    profile: Annotated[
        str | None,
        typer.Option(help="Category profile to count in (default: the evidence's own)."),
    ] = None,
    group_threshold: Annotated[
        int | None,
        typer.Option(
            min=0, max=256, help="PDQ distance for near-duplicate groups (rebuilds them; 31)."
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Who makes the report, when not you (you are the actor).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the triage report of an evidence item (HTML or PDF; no images in it)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.hashsets import UnknownProfileError
    from kaitiaki.scan.summary import EvidenceNotFoundError, evidence_id
    from kaitiaki.triage.groups import ensure_groups
    from kaitiaki.triage.render_html import render_html
    from kaitiaki.triage.render_pdf import render_pdf
    from kaitiaki.triage.report import build_report, record_report
    from kaitiaki.triage.review import ReviewError

    if fmt not in FORMATS:
        console.print(f"[red]error:[/] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(1)
    if output.is_dir():  # an operation folder's reports folder: one report per evidence item
        output = output / f"triage-{_file_name(evidence)}.{fmt}"
    # The audit actor is always the operator; ``--by`` only names the report's author.
    actor = cli_actor()
    store = store_from(db)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        user_errors(EvidenceNotFoundError, ReviewError, UnknownProfileError, OSError),
        Progress(*columns, console=console) as progress,
    ):
        task = progress.add_task("near-duplicate groups", total=3)
        eid = evidence_id(store, evidence)
        built = ensure_groups(
            store,
            eid,
            group_threshold,
            actor=actor,
            on_stage=lambda text: progress.update(task, description=text),
        )
        progress.update(task, advance=1, description="gathering the report")
        report = build_report(store, evidence, profile, generated_by=by or actor)
        progress.update(task, advance=1, description=f"writing {fmt.upper()}")
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "html":
            text = render_html(report)
            _write_atomically(output, lambda p: p.write_text(text, encoding="utf-8"))
        else:
            _write_atomically(output, lambda p: render_pdf(report, p))
        progress.update(task, advance=1, description="done")
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    sidecar = output.with_name(output.name + ".sha256")
    sidecar.write_text(f"{digest}  {output.name}\n", encoding="utf-8")
    record_report(store, report, actor=actor, fmt=fmt, file=output.name, sha256=digest)
    if built is not None:
        console.print(
            f"groups: {built.groups:,} from {built.files:,} new images and videos "
            f"(threshold {built.threshold})"
        )
    n = report.new
    console.print(
        f"{report.overview.instances:,} paths, {report.overview.unique_files:,} contents; "
        f"new {n.files:,} in {n.groups:,} groups; {len(report.series)} series met; "
        f"{report.victim_id_without_series:,} new files/groups linked to no series"
    )
    console.print(f"wrote {output} (SHA-256 {digest}, also in {sidecar.name})", soft_wrap=True)
    if not report.overview.files_by_verdict.get("known"):
        console.print(_nothing_known(store, evidence), highlight=False, soft_wrap=True)


def _nothing_known(store: Store, evidence: str) -> str:
    """Why a triage report lists no known material."""
    from kaitiaki.hashsets.enabled import NO_ENABLED_SET, no_enabled_set

    why = (
        NO_ENABLED_SET
        if no_enabled_set(store)
        else "a hash set imported later is matched against its files"
    )
    return f"note: no file of evidence {evidence!r} matched a hash set as known material; {why}"


def review(
    evidence: Annotated[str, typer.Option("--evidence", "-e", help="Evidence item name.")],
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the file decided on.")],
    category: Annotated[
        str, typer.Argument(help="A code of the evidence's profile, 'ignorable' or 'skip'.")
    ],
    by: Annotated[
        str | None,
        typer.Option(help="The reviewer whose call it is, when not you (you are the actor)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
    single: Annotated[
        bool, typer.Option("--single", help="Decide this file only, not its group.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Record a reviewer's category for a file and (by default) its near-duplicate group."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.scan.summary import EvidenceNotFoundError, evidence_id
    from kaitiaki.triage.review import ReviewError, decide

    store = store_from(db)
    with user_errors(EvidenceNotFoundError, ReviewError):
        decided = decide(
            store,
            evidence_id=evidence_id(store, evidence),
            sha256=sha256,
            category=category,
            by=cli_actor(),
            decided_by=by,
            reason=reason,
            apply_to_group=not single,
        )
    console.print(f"decided {len(decided):,} file(s): {category}")


def register(app: typer.Typer) -> None:
    app.command("triage")(triage)
    app.command("review")(review)

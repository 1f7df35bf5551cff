"""``kaitiaki evidence legal-basis``: record the authority to examine an evidence item's content
(as ``POST /api/evidence/{id}/legal-basis``), audited as the operator at the keyboard."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

app = typer.Typer(name="evidence", help="Evidence items.", no_args_is_help=True)
console = Console(highlight=False)


@app.command("legal-basis")
def legal_basis(
    evidence: Annotated[str, typer.Argument(help="Evidence item name.")],
    basis: Annotated[
        str, typer.Argument(help='The authority, in words (e.g. "warrant 2026/118 of ...").')
    ],
    db: DbOption = None,
) -> None:
    """Record why this evidence's content may be examined: a file the provider did not view is
    revealed only once a basis is recorded. Audited with the value it replaces, as
    ``cli:$KAITIAKI_USER`` (else the login name)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.audit.reasons import ReasonError
    from kaitiaki.scan.legal_basis import EvidenceNotFoundError, set_legal_basis
    from kaitiaki.scan.summary import evidence_id

    store = store_from(db)
    with user_errors(EvidenceNotFoundError, ReasonError):
        change = set_legal_basis(store, evidence_id(store, evidence), basis, actor=cli_actor())
    replaced = f" (was: {escape(change.previous)})" if change.previous else ""
    console.print(f"evidence {escape(change.evidence)}: legal basis recorded{replaced}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)

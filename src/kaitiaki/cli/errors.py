"""How commands fail: one clear line on standard error, exit status 1, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

# soft_wrap: an error is one line however narrow the terminal, so scripts and logs can match
# the file name and reason in it (Rich would otherwise break a long path mid-name).
err = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def user_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Turn the listed exception types (the user's mistakes, bad input) into a clean exit."""
    try:
        yield
    except kinds as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None

"""The whole ``kaitiaki`` command line run in the test's own process.

A ``python -m kaitiaki`` process costs one to two seconds of interpreter start-up and imports
before it does anything; a test making a dozen calls pays that a dozen times, and CI runs near
its time limit. Tests run most calls through Click's runner here, keeping one real process
where the test is about the process itself (its exit status, a signal, standard error).

Typer's ``CliRunner.invoke`` also rebuilds the Click command tree of the whole application on
every call (~0.1-0.2 s for kaitiaki's seventy-odd commands); here it is built once.
"""

from __future__ import annotations

import sys
from functools import cache
from types import TracebackType
from typing import Any

import typer
from typer.testing import CliRunner, Result


@cache
def _command() -> Any:
    from kaitiaki.cli.app import _register, app

    if not app.registered_groups:  # register once: each call would add the groups again
        _register()
    return typer.main.get_command(app)


def kaitiaki(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """``kaitiaki ARGS`` with ``env`` added to the environment for the call; standard output
    and standard error apart, as a shell sees them. ``COLUMNS`` is wide so that Rich does not
    wrap the lines the tests look for. What ``CliRunner.invoke`` does, on the built command."""
    runner = CliRunner()
    environment = {"COLUMNS": "200", **(env or {})}
    code = 0
    exception: BaseException | None = None
    exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = None
    with runner.isolation(input=input, env=environment) as (out, err, both):
        try:
            _command().main(args=list(args), prog_name="kaitiaki")
        except SystemExit as exit_:
            status = 0 if exit_.code is None else exit_.code
            if status != 0:
                exception = exit_
                exc_info = sys.exc_info()  # type: ignore[assignment]
            if not isinstance(status, int):  # sys.exit("message"): printed, status 1
                sys.stdout.write(f"{status}\n")
                status = 1
            code = status
        except Exception as error:
            code, exception = 1, error
            exc_info = sys.exc_info()  # type: ignore[assignment]
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            streams = out.getvalue(), err.getvalue(), both.getvalue()
    return Result(runner, *streams, None, code, exception, exc_info)

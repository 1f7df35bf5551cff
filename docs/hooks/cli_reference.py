"""MkDocs hook: the command-line reference, generated from the ``kaitiaki`` command tree.

Written at build time from the commands themselves (usage, arguments, options, help), so the page
can never disagree with ``kaitiaki ... --help``; nothing generated is committed.
"""

from __future__ import annotations

import html
import re
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "reference/cli.md"


def _text(value: str) -> str:
    """Help text as Markdown prose: code spans (``x`` or `x`) kept as code, the rest
    HTML-escaped with Markdown's emphasis, link and table marks escaped. A ``\\[`` that keeps
    Rich from reading ``[name]`` as markup in the terminal is a plain ``[`` here."""
    parts = re.split(r"``?([^`]+?)``?", value.strip().replace("\\[", "["))
    out = []
    for index, part in enumerate(parts):
        if index % 2:  # inside a code span
            out.append(f"`{part}`")
        else:
            out.append(re.sub(r"([\\*_\[\]|])", r"\\\1", html.escape(part, quote=False)))
    return "".join(out)


def _cell(value: str) -> str:
    return _text(" ".join(value.split())) or " "


def _command_section(command: Any, ctx: Any, path: str) -> list[str]:
    lines = [f"## {path}", ""]
    if command.help:
        for paragraph in re.split(r"\n\s*\n", command.help.replace("\b", "")):
            lines += [_text(" ".join(paragraph.split())), ""]
    lines += ["```text", command.get_usage(ctx).strip(), "```", ""]
    rows = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        # The pair --help prints: names with metavar, and help with its [default: ...],
        # [required] and [env var: ...] notes, so the page says exactly what the terminal does.
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        kind = "argument" if param.param_type_name == "argument" else "option"
        rows.append(f"| `{names}` | {kind} | {_cell(help_text)} |")
    if rows:
        lines += ["| name | kind | help |", "| --- | --- | --- |", *rows, ""]
    return lines


def _walk(command: Any, ctx: Any, path: str) -> list[str]:
    """Every command under ``command``, depth first in the order ``--help`` lists them."""
    # Typer 0.29 carries its own copy of Click; the command tree is made of its classes.
    from typer._click.core import Context

    lines = _command_section(command, ctx, path)
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = Context(sub, info_name=name, parent=ctx)
            lines += _walk(sub, sub_ctx, f"{path} {name}")
    return lines


def cli_reference() -> str:
    """The whole reference page as Markdown."""
    from typer._click.core import Context
    from typer.main import get_command

    from kaitiaki.cli.app import _register, app

    if not app.registered_groups:  # once: `mkdocs serve` rebuilds in the same process
        _register()
    root = get_command(app)
    ctx = Context(root, info_name="kaitiaki")
    head = [
        "# Command-line reference",
        "",
        "Generated when this site is built, from the `kaitiaki` command itself: each command's",
        "usage, arguments, options and help, exactly as `kaitiaki COMMAND --help` prints them.",
        "",
    ]
    return "\n".join(head + _walk(root, ctx, "kaitiaki"))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, PAGE, content=cli_reference()))
    return files

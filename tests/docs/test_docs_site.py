"""The documentation site builds (strict: a broken link or anchor fails it), its reference pages
are generated from the code, and every command its pages show runs on the demo operation.

"Done" for the docs is "the site builds in CI with every example run": this module is how
``make test`` does both. The conventions for runnable examples are in ``doc_examples``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from doc_examples import (
    DOCS,
    REPO,
    Example,
    all_examples,
    fill,
    nav_pages,
    unknown_placeholders,
    words,
)

from in_process import _command, kaitiaki

BIN = Path(sys.executable).parent  # the environment's `kaitiaki` and `mkdocs`
COMMAND_TIMEOUT_S = 120
# Shell operators (pipes, redirections, lists, subshells, background) as shlex splits them
# outside quotes; and expansions anywhere. What has any of them runs in bash.
OPERATOR = set("|&;<>()")
EXPANSION = set("$`")


def _environment(home: Path) -> dict[str, str]:
    """A reader's shell: the project's tools first on PATH, a home of the test's own (nothing
    lands in the real one), and no store, keys or settings leaking in from the developer's
    environment: the operation folder's kaitiaki.toml is what the pages are about."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KAITIAKI_") or key == "KAITIAKI_INDEX_CACHE"
    }
    environment.update(
        PATH=f"{BIN}{os.pathsep}{environment.get('PATH', '')}",
        HOME=str(home),
        KAITIAKI_USER="demo.user",  # the audit actor, cli:demo.user
        COLUMNS="100",
        NO_COLOR="1",
        NO_MKDOCS_2_WARNING="1",  # Material's end-of-life banner, not a build problem
    )
    return environment


def test_site_builds_strict_with_generated_references(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=_environment(tmp_path / "home"),
    )
    assert built.returncode == 0, built.stderr[-6000:]
    assert "WARNING" not in built.stderr, built.stderr[-6000:]
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    # Every command the CLI registers has its section, generated from the command tree.
    root = _command()
    for name, command in root.commands.items():
        if command.hidden:  # left out of --help, so out of the reference too
            continue
        assert f">kaitiaki {name}<" in cli, name
        for sub, leaf in getattr(command, "commands", {}).items():
            assert leaf.hidden or f">kaitiaki {name} {sub}<" in cli, f"{name} {sub}"
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "/api/auth/login" in api and "/m/raw_lookup" in api
    for page in nav_pages():
        html = site / Path(page).with_suffix("") / "index.html"
        if page == "index.md":
            html = site / "index.html"
        assert html.exists(), f"{page} was not built"


def test_examples_follow_the_convention() -> None:
    """Cheap and early: the build is strict about links and anchors, every page of the nav
    exists or is generated, every placeholder has a rule, the walk-throughs run something."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    assert config["theme"]["font"] is False  # nothing fetched from Google, at build or view
    for check in ("not_found", "anchors", "unrecognized_links", "omitted_files"):
        assert config["validation"][check] == "warn", check  # strict makes each an error
    generated = {"reference/cli.md", "reference/api.md"}
    for page in nav_pages():
        assert (DOCS / page).exists() or page in generated, f"nav names a missing page {page}"
    examples = all_examples()
    pages = {example.page for example in examples}
    assert {"getting-started.md", "roles/examiner.md", "roles/investigator.md"} <= pages
    for example in examples:
        assert not unknown_placeholders(example.command), f"{example.where()}: {example.command}"


@pytest.mark.slow
def test_every_documented_command_runs_on_the_demo(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    environment = _environment(home)
    made = subprocess.run(
        [str(BIN / "kaitiaki"), "demo", "--out", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert made.returncode == 0, made.stdout[-4000:] + made.stderr[-4000:]
    demo = tmp_path / "demo"
    for example in all_examples():
        where = tmp_path / example.folder
        assert where.is_dir(), f"{example.where()}: no folder {example.folder} beside the demo"
        code, output = _run(example, fill(example.command, demo), where, environment)
        assert code == example.expected_exit, (
            f"{example.where()}: `{example.command}` exited {code}, "
            f"the page says {example.expected_exit}:\n{output[-4000:]}"
        )
        missing = words("\n".join(example.shown), tables=False) - words(output)
        assert not missing, (
            f"{example.where()}: the page shows words `{example.command}` no longer prints: "
            f"{sorted(missing)}\nit printed:\n{output[-4000:]}"
        )


def _run(
    example: Example, command: str, where: Path, environment: dict[str, str]
) -> tuple[int, str]:
    """Run one documented command in ``where``: its exit status and what it printed.

    A plain ``kaitiaki ...`` runs in this process through Click (in_process: a new interpreter
    costs one to two seconds, and the pages hold some seventy commands); anything needing a
    shell (a pipe, a redirection, ``VAR=value``) runs in bash, as the reader's would."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)  # a `# exit N` comment is dropped, as bash drops it
    operators = any(word and set(word) <= OPERATOR for word in words)
    if words[:1] == ["kaitiaki"] and not operators and not EXPANSION & set(command):
        unset = {key: None for key in os.environ if key not in environment}
        changed = {k: v for k, v in environment.items() if os.environ.get(k) != v}
        here = Path.cwd()
        os.chdir(where)
        try:
            result = kaitiaki(*words[1:], env={**unset, **changed})  # type: ignore[dict-item]
        finally:
            os.chdir(here)
        return result.exit_code, result.stdout + result.stderr
    ran = subprocess.run(
        ["bash", "-c", command],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    return ran.returncode, ran.stdout + ran.stderr


def test_shown_output_is_compared_by_its_words_only() -> None:
    """What the loose output check keeps: words, never the values another run changes."""
    shown = "drafted CyberTipline report 1 for S-f7d579538642ae3a (27 files), valid: NCMEC's"
    assert words(shown) == {"drafted", "cybertipline", "report", "for", "files", "valid", "ncmec's"}
    row = "│ 1    │ KAI-US-20261204… │ NZ lead unit │ high 37.18 │"
    assert words(row, tables=False) == set()
    paths_and_times = "wrote reports/tip-42.txt at 2026-12-04T10:11Z in kaitiaki.toml"
    assert words(paths_and_times) == {"wrote", "at", "in"}

"""The runnable examples of the documentation site, read from its Markdown pages.

The convention (docs/testing-docs.md says it for writers):

- a fenced block opened with ```` ```console ```` is a terminal session; each line starting with
  ``$ `` is a command (a trailing ``\\`` continues it on the next line), every other line is
  what the command printed, shown to the reader and not compared (ids, times and keys differ
  from run to run);
- commands run in page order, in the nav's order of pages, each in the demo operation's folder
  ``demo/``, through bash (pipes and ``VAR=value`` prefixes work as a reader types them); a
  prompt naming a folder, ``partner$ ``, runs in that folder beside ``demo/`` (``../partner``
  seen from the demo, made by an earlier ``kaitiaki init ../partner``);
- a command documented to fail ends with the comment ``# exit N``: it must exit with N;
- the output shown is checked loosely: every word of its message lines (letters only, so no
  id, count, hash, time or path; table rows left out, as Rich truncates and folds their cells
  to the terminal's width) must be in what the command printed, so a message reworded in the
  program fails the page that still shows the old one;
- ``{name}`` stands for a value a reader reads off their own data (a subject id, a referral id):
  the test fills it from the demo folder by the rule ``PLACEHOLDERS`` names, and a name with no
  rule fails. Other blocks (```` ```bash ````, ```` ```text ````) are shown, never run.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)```console\s*$")
PROMPT = re.compile(r"^(?P<folder>[a-z][a-z0-9-]*)?\$ ")
DEMO = "demo"
EXIT_MARK = re.compile(r"#\s*exit\s+(?P<code>\d+)\b[^#]*$")
PLACEHOLDER = re.compile(r"(?<![$\\])\{(?P<name>[a-z_]+)\}")


@dataclass(frozen=True)
class Example:
    page: str  # relative to docs/
    line: int  # 1-based line of the ``$ `` in the page
    command: str  # as bash gets it, placeholders still in
    expected_exit: int
    folder: str  # where it runs: "demo", or a folder beside it the prompt names
    shown: tuple[str, ...] = ()  # the output lines the page shows after it

    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def nav_pages() -> list[str]:
    """The pages in the order the site's nav lists them (generated pages included)."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))

    def walk(entry: object) -> Iterator[str]:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from walk(value)
        elif isinstance(entry, list):
            for item in entry:
                yield from walk(item)

    return list(walk(config["nav"]))


def _commands(
    lines: list[str], start: int, indent: str
) -> Iterator[tuple[int, str, str, tuple[str, ...]]]:
    """(line number, folder, command, output shown) for each prompt line of the block opened
    at ``start``."""
    index = start + 1
    found: list[tuple[int, str, str, list[str]]] = []
    while index < len(lines):
        text = lines[index].removeprefix(indent)
        if text.strip() == "```":
            for number, folder, command, shown in found:
                yield number, folder, command, tuple(shown)
            return
        prompt = PROMPT.match(text)
        if prompt is not None:
            first = index
            command = text[prompt.end() :]
            while command.endswith("\\") and index + 1 < len(lines):
                index += 1
                command = command[:-1] + " " + lines[index].removeprefix(indent).strip()
            found.append((first + 1, prompt["folder"] or DEMO, command.strip(), []))
        elif found:
            found[-1][3].append(text)
        index += 1
    raise ValueError(f"a console block opened at line {start + 1} is never closed")


WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]")
EDGES = ".,;:!?()[]{}\"'`…"


TABLE = re.compile("[\u2500-\u257f]")  # box drawing: a Rich table's borders and rows


def words(text: str, *, tables: bool = True) -> set[str]:
    """The plain words of ``text``, lower-cased: tokens of letters only (an id, a number, a
    hash, a path or a time has a digit, a slash or a dot inside and is left out), so the words
    of a shown excerpt survive another run's values and Rich's rewrapping; without
    ``tables``, the lines of a table are left out."""
    found = set()
    for line in text.splitlines():
        if not tables and TABLE.search(line):
            continue
        for token in line.split():
            token = token.strip(EDGES)
            if WORD.fullmatch(token):
                found.add(token.lower())
    return found


def examples(page: str) -> list[Example]:
    path = DOCS / page
    if not path.exists():  # a page the build generates (the references): nothing to run
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        opened = FENCE_OPEN.match(line)
        if opened is None:
            continue
        try:
            for number, folder, command, shown in _commands(lines, index, opened["indent"]):
                mark = EXIT_MARK.search(command)
                code = int(mark["code"]) if mark else 0
                found.append(Example(page, number, command, code, folder, shown))
        except ValueError as exc:
            raise ValueError(f"docs/{page}: {exc}") from exc
    return found


def all_examples() -> list[Example]:
    return [example for page in nav_pages() for example in examples(page)]


# Placeholder rules: each reads the demo folder as it is when the command runs.
def _us_package(folder: Path) -> Path:
    """The demo's referral to the United States (the simulation always attributes some
    subjects there): the one the liaison's walk-through receives."""
    packages = sorted(folder.glob("referrals/KAI-US-*/package.json"))
    if not packages:
        raise LookupError(f"no referral package to the US under {folder / 'referrals'}")
    return packages[0]


def _package(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_us_package(folder).read_text(encoding="utf-8"))
    return document


def _subject_row(folder: Path) -> dict[str, str]:
    with (folder / "analysis" / "subjects.csv").open(encoding="utf-8", newline="") as handle:
        return next(csv.DictReader(handle))


def _new_file(folder: Path) -> str:
    """The SHA-256 of a picture the demo scan found new (no hash set knows it)."""
    with (folder / "results.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["classification"] == "new" and row["type"] == "image":
                return row["sha256"]
    raise LookupError("the demo scan found no new picture")


PLACEHOLDERS: dict[str, Callable[[Path], str]] = {
    "subject": lambda folder: _subject_row(folder)["subject_id"],
    "account": lambda folder: _subject_row(folder)["account_ids"].split(";")[0],
    "referral": lambda folder: _us_package(folder).parent.name,
    "referred_subject": lambda folder: str(_package(folder)["subjects"][0]["subject_id"]),
    "agency": lambda folder: str(_package(folder)["agency"]["name"]),
    "new_file": _new_file,
}


def fill(command: str, folder: Path) -> str:
    """``command`` with each ``{name}`` replaced by its value from the demo folder."""

    def value(match: re.Match[str]) -> str:
        return PLACEHOLDERS[match["name"]](folder)

    return PLACEHOLDER.sub(value, command)


def unknown_placeholders(command: str) -> set[str]:
    return {match["name"] for match in PLACEHOLDER.finditer(command)} - set(PLACEHOLDERS)

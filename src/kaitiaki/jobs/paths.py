"""Where a job submitted from the web may read and write on the server.

The web server is started with evidence folders (``--evidence-root``, read only) and a work
folder (``--work-root``, the jobs' outputs). A job submitted through the web carries these
roots in its parameters (``CONFINEMENT``, set by the server, never by the request), and every
path parameter is checked against them twice: when the job is submitted, and again when it
runs, so that a link swapped in while the job waited in the queue is caught. A job with no
confinement (the CLI's, run by the operator) reads and writes where it is told.

A path is checked after the file system has followed its links and ``..``; a relative path is
taken below a root. Refusals say the same thing whether or not the path exists, and nothing a
job is refused ever opens the file, so neither its existence nor its content can be learnt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

# The reserved parameter that holds the roots; ``params.only`` always lets it through.
from kaitiaki.jobs.params import CONFINEMENT, JobParamsError

NO_EVIDENCE_ROOTS = (
    "this server reads no files of its own: it was started without an evidence folder "
    "(kaitiaki serve --evidence-root DIR); scan or analyse from the command line instead"
)


class Area(Enum):
    """What a path parameter is for, and so below which roots it may lie."""

    # Evidence to read: a scan's roots, an analysis's input files.
    EVIDENCE = "evidence"
    # A folder a job writes: below the work root only.
    OUTPUT = "output"
    # A job's earlier output read back (an analysis folder, a workspace, an upload): the work
    # root, or an evidence folder where a finished analysis was handed in.
    RESULTS = "results"


Kind = Literal["file", "dir", "any", "output"]


@dataclass(frozen=True)
class Confinement:
    """Resolved roots: ``evidence`` may be read, ``work`` read and written."""

    evidence: tuple[Path, ...]
    work: Path

    @classmethod
    def of(cls, evidence: Iterable[Path | str], work: Path | str) -> Confinement:
        return cls(tuple(_real(Path(p)) for p in evidence), _real(Path(work)))

    def to_params(self) -> dict[str, Any]:
        return {"evidence": [str(p) for p in self.evidence], "work": str(self.work)}

    def bases(self, area: Area) -> tuple[Path, ...]:
        if area is Area.EVIDENCE:
            return self.evidence
        if area is Area.OUTPUT:
            return (self.work,)
        return (self.work, *self.evidence)


def confinement_of(params: dict[str, Any]) -> Confinement | None:
    """The roots a job was submitted under; None for a job submitted by the operator."""
    value = params.get(CONFINEMENT)
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("work"), str)
        or not isinstance(value.get("evidence"), list)
        or not all(isinstance(p, str) for p in value["evidence"])
    ):
        raise JobParamsError(CONFINEMENT, "malformed; it is set by the server, not the request")
    return Confinement.of(value["evidence"], value["work"])


def with_confinement(params: dict[str, Any], confinement: Confinement | None) -> dict[str, Any]:
    """``params`` to store: checked values plus the roots, so ``run`` can check again."""
    if confinement is None:
        return params
    return {**params, CONFINEMENT: confinement.to_params()}


def _real(path: Path) -> Path:
    # realpath rather than Path.resolve: the same call as the scan's walk, never strict.
    return Path(os.path.realpath(path))


def require_evidence(confinement: Confinement | None, field: str) -> None:
    """Fail closed: a web job that reads evidence needs the server to name its evidence."""
    if confinement is not None and not confinement.evidence:
        raise JobParamsError(field, NO_EVIDENCE_ROOTS)


def _outside(field: str, area: Area) -> JobParamsError:
    # One text whether the path exists or not, and no trace of where its links lead.
    where = {
        Area.EVIDENCE: "the server's evidence folders (--evidence-root)",
        Area.OUTPUT: "the server's work folder (--work-root)",
        Area.RESULTS: "the server's work folder (--work-root) or evidence folders",
    }[area]
    return JobParamsError(
        field, f"not below {where}; links and '..' are followed before this is checked"
    )


def _unconfined(value: str, field: str, kind: Kind) -> str:
    """The operator's job: made absolute (the runner may have another working directory)."""
    path = Path(value).expanduser().absolute()
    try:
        if kind == "output":
            if path.exists() and not path.is_dir():
                raise JobParamsError(field, f"exists and is not a folder: {path}")
        elif kind == "file" and not path.is_file():
            raise JobParamsError(field, f"no such file: {path}")
        elif kind == "dir" and not path.is_dir():
            raise JobParamsError(field, f"no such folder: {path}")
        elif kind == "any" and not path.exists():
            raise JobParamsError(field, f"no such file or folder: {path}")
    except OSError as error:  # a name too long for the file system, say
        raise JobParamsError(field, f"cannot be checked: {error.strerror or error}") from None
    return str(path)


def _usable(path: Path, kind: Kind, base: Path) -> bool:
    try:
        if kind == "output":
            # Never the work folder itself: an output gets a folder of its own.
            return path != base and (not path.exists() or path.is_dir())
        if kind == "file":
            return path.is_file()
        if kind == "dir":
            return path.is_dir()
        return path.exists()
    except OSError:
        return False


def checked_path(
    value: str,
    field: str,
    confinement: Confinement | None,
    *,
    area: Area,
    kind: Kind,
) -> str:
    """``value`` as the absolute, link-free path the job is to use, or ``JobParamsError``.

    Confined, it must lie below one of the area's roots once links and ``..`` are followed
    (checked before the file system is asked anything else about it); a relative path is
    tried below each root in turn.
    """
    if confinement is None:
        return _unconfined(value, field, kind)
    if area is Area.EVIDENCE:
        require_evidence(confinement, field)
    bases = confinement.bases(area)
    given = Path(value)
    candidates = [given] if given.is_absolute() else [base / given for base in bases]
    inside: list[tuple[Path, Path]] = []
    for candidate in candidates:
        try:
            real = _real(candidate)
        except (OSError, ValueError):  # a NUL byte, a name too long: refused as outside
            continue
        base = next((b for b in bases if real == b or real.is_relative_to(b)), None)
        if base is not None:
            inside.append((real, base))
    if not inside:
        raise _outside(field, area)
    for real, base in inside:
        if _usable(real, kind, base):
            return str(real)
    what = {
        "file": "no such file",
        "dir": "no such folder",
        "any": "no such file or folder",
        "output": "not a new or existing folder below the work folder",
    }[kind]
    # Inside the roots the person may know what is there: say what is wrong.
    raise JobParamsError(field, what)


def checked_paths(
    values: Sequence[str],
    field: str,
    confinement: Confinement | None,
    *,
    area: Area,
    kind: Kind,
) -> list[str]:
    """Each of a list checked; an error names the entry (``roots[1]``)."""
    return [
        checked_path(
            value,
            f"{field}[{i}]" if len(values) > 1 else field,
            confinement,
            area=area,
            kind=kind,
        )
        for i, value in enumerate(values)
    ]

"""``jobs.paths``: any path a request can spell lands inside the roots or is refused, and a
refusal reads the same whether the path exists or not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaitiaki.jobs.params import JobParamsError
from kaitiaki.jobs.paths import (
    CONFINEMENT,
    Area,
    Confinement,
    checked_path,
    confinement_of,
    with_confinement,
)

SEGMENTS = ["a", "b", "file.txt", "..", ".", "out", "in", "outside", "secret.txt", "missing", ""]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("paths")
    evidence, outside, work = base / "evidence", base / "outside", base / "work"
    (evidence / "a" / "b").mkdir(parents=True)
    (evidence / "a" / "b" / "file.txt").write_text("inside")
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    work.mkdir()
    (evidence / "out").symlink_to(outside)  # a link out of the evidence
    (evidence / "in").symlink_to(evidence / "a")  # a link that stays inside
    (work / "out").symlink_to(outside)
    return {"base": base, "evidence": evidence, "outside": outside, "work": work}


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    segments=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    anchor=st.sampled_from(["relative", "evidence", "base", "root"]),
    area=st.sampled_from(list(Area)),
)
def test_every_spelling_lands_inside_or_is_refused_alike(
    tree: dict[str, Path], segments: list[str], anchor: str, area: Area
) -> None:
    confinement = Confinement.of([tree["evidence"]], tree["work"])
    tail = "/".join(segments)
    value = {
        "relative": tail,
        "evidence": f"{tree['evidence']}/{tail}",
        "base": f"{tree['base']}/{tail}",
        "root": f"/{tail}",
    }[anchor]
    kind = "output" if area is Area.OUTPUT else "any"
    bases = confinement.bases(area)
    try:
        got = Path(checked_path(value, "p", confinement, area=area, kind=kind))
    except JobParamsError as refused:
        candidates = [Path(value)] if Path(value).is_absolute() else [b / value for b in bases]
        reals = [Path(os.path.realpath(c)) for c in candidates]
        if not any(_inside(r, b) for r in reals for b in bases):
            # Outside: one text, whether or not the path exists, naming nothing of it.
            assert refused.reason.startswith("not below the server's")
            assert str(tree["outside"]) not in refused.reason and "secret" not in refused.reason
        return
    assert got == Path(os.path.realpath(got)), "the path handed to the job has no links left"
    assert any(_inside(got, b) for b in bases)
    assert not _inside(got, Path(os.path.realpath(tree["outside"])))


def test_existing_and_missing_outside_paths_get_the_same_answer(tree: dict[str, Path]) -> None:
    confinement = Confinement.of([tree["evidence"]], tree["work"])
    answers = set()
    for value in (
        str(tree["outside"] / "secret.txt"),
        str(tree["outside"] / "nothing.txt"),
        "out/secret.txt",
        "out/nothing.txt",
        "../outside/secret.txt",
    ):
        with pytest.raises(JobParamsError) as refused:
            checked_path(value, "records", confinement, area=Area.EVIDENCE, kind="file")
        answers.add(str(refused.value))
    assert len(answers) == 1


def test_outputs_go_below_the_work_folder_only(tree: dict[str, Path]) -> None:
    confinement = Confinement.of([tree["evidence"]], tree["work"])
    work = Path(os.path.realpath(tree["work"]))
    assert checked_path("results", "out", confinement, area=Area.OUTPUT, kind="output") == str(
        work / "results"
    )
    for value in (str(tree["work"]), "out/results", str(tree["evidence"] / "a"), "../x"):
        with pytest.raises(JobParamsError):
            checked_path(value, "out", confinement, area=Area.OUTPUT, kind="output")


def test_no_evidence_folders_fails_closed(tree: dict[str, Path]) -> None:
    confinement = Confinement.of([], tree["work"])
    with pytest.raises(JobParamsError, match="--evidence-root"):
        checked_path(
            str(tree["evidence"] / "a"), "roots", confinement, area=Area.EVIDENCE, kind="any"
        )


def test_the_roots_travel_with_the_job_and_the_operator_is_not_held(tree: dict[str, Path]) -> None:
    confinement = Confinement.of([tree["evidence"]], tree["work"])
    params = with_confinement({"roots": ["a"]}, confinement)
    assert confinement_of(params) == confinement
    assert confinement_of({"roots": ["a"]}) is None
    with pytest.raises(JobParamsError, match="set by the server"):
        confinement_of({CONFINEMENT: {"evidence": "/", "work": "/"}})
    # The operator's job: any existing path, made absolute, as before.
    secret = tree["outside"] / "secret.txt"
    assert checked_path(str(secret), "p", None, area=Area.EVIDENCE, kind="file") == str(secret)

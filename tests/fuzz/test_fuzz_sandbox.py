"""The fuzz sandbox itself: a parser that swallows memory, hangs, crashes the interpreter or
raises the wrong exception is reported as such, and the next input gets a fresh worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_sandbox import Sandbox


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    # One sandbox for the module: only a hang or a dead worker costs a restart.
    box = Sandbox(timeout_s=5, memory_mb=512)
    path = tmp_path_factory.mktemp("sandbox") / "input.txt"
    path.write_bytes(b"x")
    try:
        yield box, path
    finally:
        box.close()


@pytest.mark.parametrize(
    ("target", "kind", "says"),
    [
        ("_swallow_memory", "crash", "MemoryError"),
        ("_hang", "hang", "no answer within 5 s"),
        ("_segfault", "died", "SIGSEGV"),
        ("_wrong_exception", "crash", "KeyError"),
    ],
)
def test_misbehaviour_is_reported_and_the_worker_replaced(
    quick: tuple[Sandbox, Path], target: str, kind: str, says: str
) -> None:
    box, path = quick
    outcome = box.run(target, path)
    assert (outcome.kind, outcome.acceptable) == (kind, False)
    assert says in str(outcome)
    # The next input is read by a working (possibly new) worker.
    assert box.run("hashset_plain", path).kind == "error"

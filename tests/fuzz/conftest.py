"""The fuzz suite's sandbox: one worker process for the session, replaced when an input kills it."""

from __future__ import annotations

from collections.abc import Iterator

import fuzz_support  # noqa: F401  (registers the Hypothesis profiles)
import pytest
from fuzz_sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()

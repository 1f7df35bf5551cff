"""The one rule for missing services and tools: skip on a developer's machine, fail in CI.

A module of its own (not conftest.py) so that any test module can import it by name: the bare
name ``conftest`` resolves to whichever folder's conftest was imported last.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when a service, tool or data set is missing, but fail in CI: nothing skips silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service or tool fails the run)")
    pytest.skip(reason)

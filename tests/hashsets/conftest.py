"""Fixtures of the hash-set tests.

The store fixtures (``store``, ``store_url``: SQLite and PostgreSQL, a fresh schema per test,
skipped locally but failing under CI=true when PostgreSQL is missing) come from the root
``tests/conftest.py`` and are shared with the rest of the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashset_samples import vics_text


@pytest.fixture
def write_vics(tmp_path: Path) -> Callable[..., Path]:
    """Write a VICS document to a file: ``write_vics(records, bom=True, cases=True, ...)``."""
    counter = iter(range(1_000_000))

    def write(records: list[Any], *, bom: bool = False, encoding: str = "utf-8", **kw: Any) -> Path:
        path = tmp_path / f"vics-{next(counter)}.json"
        text = vics_text(records, **kw)
        data = text.encode(encoding)
        if bom and encoding == "utf-8":
            data = b"\xef\xbb\xbf" + data
        path.write_bytes(data)
        return path

    return write

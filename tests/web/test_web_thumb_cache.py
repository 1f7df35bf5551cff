"""Blurred thumbnails are made once per content and kept on disk; the checks before showing one
still run on every request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance
from kaitiaki.users import Role
from kaitiaki.web.thumb_cache import ThumbnailCache


def test_a_thumbnail_is_made_once_and_the_rules_still_apply(
    app: FastAPI, login, store: Store, scanned: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(Role.REVIEWER)
    sha, eid = scanned["astronaut"], scanned["evidence_id"]
    url = f"/api/files/{sha}/thumbnail?evidence_id={eid}"
    cache: ThumbnailCache = app.state.thumbnails
    assert cache.get(sha) is None
    first = client.get(url)
    assert first.status_code == 200
    assert cache.get(sha) == first.content
    # Served from the cache even once the evidence file is gone...
    (scanned["root"] / "astronaut.jpg").unlink()
    assert client.get(url).content == first.content
    # ...but never past the legal-basis rule, nor to a role that may not see content.
    with store.session() as session:
        session.execute(update(FileInstance).values(viewed_by_provider=False))
    assert client.get(url).status_code == 409
    auditor, _ = login(Role.AUDITOR)
    assert auditor.get(url).status_code == 403


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/.."])
def test_the_cache_takes_only_sha256_names(tmp_path: Path, name: str) -> None:
    cache = ThumbnailCache(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        cache.put(name, b"x")
    with pytest.raises(ValueError, match="not a SHA-256"):
        cache.get(name)
    assert list(tmp_path.iterdir()) == []

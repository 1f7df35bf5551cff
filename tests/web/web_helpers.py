"""Helpers for the web tests (imported by bare name): users, sign-in, benign images, route calls."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as skdata

from kaitiaki.store import Store
from kaitiaki.users import Jurisdiction, Role, add_user, parse_jurisdiction
from kaitiaki.users.tokens import create_token
from kaitiaki.web.app import create_app
from kaitiaki.web.authz import Requirement, requirement_of
from kaitiaki.web.settings import WebSettings

PASSWORD = "a long test password"
AGENCY = "New Zealand Police"
JURISDICTION = f"NZ:{AGENCY}"


def bearer(store: Store, name: str, *scopes: str) -> dict[str, str]:
    """The Authorization header of a new API token ``name`` with ``scopes``."""
    _view, raw = create_token(store, name, scopes, actor="test:setup")
    return {"Authorization": f"Bearer {raw}"}


def make_app(store: Store, tmp_path: Path, **settings: object) -> FastAPI:
    return create_app(
        store,
        WebSettings(**{"start_jobs": False, "data_dir": tmp_path / "web", **settings}),  # type: ignore[arg-type]
    )


def add_role_user(store: Store, role: Role, jurisdiction: str | None = None) -> str:
    """A user of ``role`` (a liaison for ``jurisdiction``, "COUNTRY:AGENCY", by default the NZ
    one); returns its name."""
    if role != Role.LIAISON:
        name = f"{role.value}-user"
        pairs: list[Jurisdiction] = []
    else:
        pair = parse_jurisdiction(jurisdiction or JURISDICTION)
        slug = re.sub(r"[^a-z0-9]+", "-", str(pair).lower()).strip("-")[:40]
        name = "liaison-user" if jurisdiction in (None, JURISDICTION) else f"liaison-{slug}"
        pairs = [pair]
    add_user(store, name, role, PASSWORD, actor="test:setup", jurisdictions=pairs)
    return name


def sign_in(
    app: FastAPI, name: str, *, base_url: str = "http://testserver"
) -> tuple[TestClient, str]:
    client = TestClient(app, base_url=base_url)
    response = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, str(response.json()["csrf_token"])


def photo(name: str = "astronaut") -> Image.Image:
    return Image.fromarray(np.asarray(getattr(skdata, name)())).convert("RGB")


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


SAMPLE = {"sha256": "0" * 64, "evidence_id": "999999", "job_id": "999999"}


def concrete(path: str) -> str:
    """The path with every parameter filled by a value that names nothing."""
    filled = re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "nothing-here"), path)
    if path.endswith("/thumbnail"):
        filled += "?evidence_id=999999"
    return filled


def route_calls(app: FastAPI) -> list[tuple[str, str, Requirement]]:
    calls = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        requirement = requirement_of(route)
        assert requirement is not None, route.path
        for method in sorted(route.methods):
            calls.append((method, concrete(route.path), requirement))
    return calls

"""The dashboard in a real browser with the front-end bundle built: three charts drawn and the
world map shaded by country, under the Content-Security-Policy, without a console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_server import (
    PageProblems,
    Server,
    add_people,
    analyse,
    ensure_assets,
    review_evidence,
    screenshot,
    serve,
    sign_in,
)
from playwright.sync_api import expect
from sqlalchemy import select

from kaitiaki.refer.package import build_referrals
from kaitiaki.refer.service import import_outcomes
from kaitiaki.refer.signing import generate_key
from kaitiaki.store import open_store
from kaitiaki.store.models import Referral
from kaitiaki.users import Scope

# Whether a canvas has something drawn in colour: a chart, not only its grey axes and grid
# (Chart.js draws after an animation frame; without its palette every series is grey too).
COLOURED = """id => {
  const canvas = document.getElementById(id);
  if (!canvas || !canvas.width || !canvas.height) return false;
  // Read a copy, not the chart's own context: polling getImageData on it makes Chromium log a
  // willReadFrequently warning, which this test counts as a console problem.
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext('2d', { willReadFrequently: true });
  context.drawImage(canvas, 0, 0);
  const px = context.getImageData(0, 0, copy.width, copy.height).data;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] > 128 && Math.max(px[i], px[i + 1], px[i + 2])
        - Math.min(px[i], px[i + 1], px[i + 2]) > 60) return true;
  }
  return false;
}"""


@pytest.fixture(scope="module")
def site(
    simulated_operation: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], int]]:
    ensure_assets()
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'kaitiaki.db'}"
    store = open_store(url)
    people = add_people(store)
    review_evidence(store, folder / "phone")
    analysis = analyse(store, simulated_operation, folder / "analysis")
    key = generate_key(folder / "signing.pem")
    build_referrals(
        store, analysis / "workspace", folder / "packages", key_path=key, built_by="test"
    )
    with store.session() as session:
        referrals = sorted(session.scalars(select(Referral.id)))
    updates = folder / "outcomes.csv"
    updates.write_text(
        "referral_id,status,date,arrested,children_safeguarded,note\n"
        + "".join(f"{r},sent,2024-05-0{i + 1},,,\n" for i, r in enumerate(referrals[:3]))
        + f"{referrals[0]},acknowledged,2024-06-01,1,2,warrant executed\n"
    )
    import_outcomes(store, updates, actor="cli:test", scope=Scope.operator())
    store.close()
    with serve(url, folder) as server:
        yield server, people, len(referrals)


def test_charts_and_map_render_under_the_csp(
    browser: Any, site: tuple[Server, dict[str, str], int]
) -> None:
    server, people, referrals = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    try:
        sign_in(page, server.url, people["admin"])
        response = page.goto(f"{server.url}/dashboard")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.get_by_test_id("assets-missing")).to_have_count(0)
        expect(page.get_by_test_id("figure-referrals").locator(".value")).to_have_text(
            str(referrals)
        )
        expect(page.get_by_test_id("figure-arrests").locator(".value")).to_have_text("1")
        for chart in ("chart-status", "chart-months", "chart-tiers"):
            page.wait_for_function(COLOURED, arg=chart)
        svg = page.get_by_test_id("world-map-svg")
        expect(svg).to_be_visible()
        assert page.locator('[data-testid="world-map-svg"] path').count() > 100
        shaded = page.locator('[data-testid="world-map-svg"] path[data-country]')
        mapped = {shaded.nth(i).get_attribute("data-country") for i in range(shaded.count())}
        table = page.get_by_test_id("country-table").locator("tbody tr")
        listed = {table.nth(i).get_attribute("data-country") for i in range(table.count())}
        assert mapped and mapped <= listed
        assert "GB" in mapped  # the simulated operation's largest country
        page.wait_for_load_state("networkidle")
        screenshot(page, "dashboard")
        assert problems.messages == []
    finally:
        context.close()

"""Reviewing in a real browser: the thumbnails as rendered are blurred and greyscale, a reveal by
keyboard (``r`` and a reason) shows the sharp image and is audited with that reason, a reveal
without a reason is refused, and a number key decides a whole near-duplicate group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import (
    ReviewEvidence,
    Server,
    add_people,
    colour_spread,
    csrf_of,
    element_image,
    laplacian_variance,
    review_evidence,
    screenshot,
    serve,
    sign_in,
)
from playwright.sync_api import expect

from kaitiaki.store import open_store

REASON = "categorise for the search warrant application"
THUMBS_LOADED = (
    "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth > 0)"
)


@pytest.fixture(scope="module")
def site(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], ReviewEvidence]]:
    folder = tmp_path_factory.mktemp("review")
    store = open_store(module_store_url)
    people = add_people(store)
    evidence = review_evidence(store, folder / "phone")
    store.close()
    with serve(module_store_url, folder) as server:
        yield server, people, evidence


def _move_to(page: Any, sha256: str) -> int:
    """Select the item showing ``sha256`` with the j/k keys, as a reviewer would; its index."""
    items = page.get_by_test_id("review-item")
    classes = [items.nth(i).get_attribute("class") or "" for i in range(items.count())]
    shas = [items.nth(i).get_attribute("data-sha256") for i in range(items.count())]
    target, current = shas.index(sha256), classes.index("item current")
    for _ in range(abs(target - current)):
        page.keyboard.press("j" if target > current else "k")
    item = page.locator(f'[data-testid="review-item"][data-sha256="{sha256}"]')
    expect(item).to_have_class("item current")
    return target


def _inner(image: Any) -> Any:
    # A few pixels off each edge: only the picture, never the frame around it.
    width, height = image.size
    return image.crop((4, 4, width - 4, height - 4))


def test_blurred_until_revealed_with_a_reason_and_the_reveal_is_audited(
    browser: Any, site: tuple[Server, dict[str, str], ReviewEvidence]
) -> None:
    server, people, evidence = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server.url, people["reviewer"])
        page.get_by_test_id("nav-review").click()
        page.get_by_test_id("review-evidence-link").first.click()
        queue = page.get_by_test_id("review-queue")
        assert queue.get_attribute("data-evidence-id") == str(evidence.evidence_id)
        expect(page.get_by_test_id("review-item")).to_have_count(3)
        page.wait_for_function(THUMBS_LOADED)
        item = page.locator(f'[data-testid="review-item"][data-sha256="{evidence.colour_photo}"]')
        thumb = item.get_by_test_id("thumbnail")
        blurred = _inner(element_image(thumb))
        # The photo is colourful; as drawn it is pure grey and without detail.
        assert colour_spread(blurred) <= 3
        screenshot(page, "review-blurred")

        index = _move_to(page, evidence.colour_photo)
        form = page.get_by_test_id("reveal-form")
        expect(form).to_be_hidden()
        page.keyboard.press("r")
        expect(form).to_be_visible()
        expect(page.get_by_test_id("reveal-reason")).to_be_focused()
        # No reason: the form will not send it, and the API refuses it too.
        page.get_by_test_id("reveal-submit").click()
        expect(form).to_be_visible()
        assert page.locator("img.revealed").count() == 0
        for reason in ("", "ok"):
            refused = page.request.post(
                f"{server.url}/api/files/{evidence.colour_photo}/reveal",
                data={"evidence_id": evidence.evidence_id, "reason": reason},
                headers={"X-CSRF-Token": csrf_of(page)},
            )
            assert refused.status == 422, refused.text()
        page.get_by_test_id("reveal-reason").fill(REASON)
        page.keyboard.press("Enter")
        expect(thumb).to_have_class("thumb revealed")
        expect(form).to_be_hidden()
        page.wait_for_function(THUMBS_LOADED)
        shown = _inner(element_image(thumb))
        assert laplacian_variance(shown) > 5 * laplacian_variance(blurred)
        assert colour_spread(shown) <= 3  # revealed, yet greyscale unless colour is asked for
        assert page.get_by_test_id("reveals-today").inner_text() == "1"
        screenshot(page, "review-revealed")
        # Moving on puts the blur back.
        page.keyboard.press("k" if index else "j")
        expect(page.locator("img.revealed")).to_have_count(0)
    finally:
        context.close()

    admin = browser.new_context()
    page = admin.new_page()
    try:
        sign_in(page, server.url, people["admin"])
        page.goto(f"{server.url}/audit?action=reveal")
        page.get_by_test_id("audit-verify-submit").click()
        expect(page.get_by_test_id("audit-ok")).to_be_visible()
        rows = page.get_by_test_id("audit-row")
        expect(rows).to_have_count(1)
        text = rows.first.inner_text()
        assert REASON in text and evidence.colour_photo in text
        assert f"web:{people['reviewer']}" in text
    finally:
        admin.close()


def test_a_number_key_decides_the_whole_group(
    browser: Any, site: tuple[Server, dict[str, str], ReviewEvidence]
) -> None:
    server, people, evidence = site
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server.url, people["reviewer"])
        page.goto(f"{server.url}/review/{evidence.evidence_id}")
        grouped = page.locator('[data-testid="review-item"][data-group-size="5"]')
        expect(grouped).to_have_count(1)
        representative = str(grouped.get_attribute("data-sha256"))
        assert representative in evidence.group
        expect(grouped.get_by_test_id("group-size")).to_have_text("group of 5")
        expect(page.get_by_test_id("apply-group")).to_be_checked()
        category = grouped.locator("button[data-category]").first.get_attribute("data-category")
        _move_to(page, representative)
        page.keyboard.press("1")
        expect(grouped).to_have_count(0)
        expect(page.get_by_test_id("pending-groups")).to_have_text("2")
        for sha in evidence.group:
            detail = page.request.get(f"{server.url}/api/files/{sha}").json()
            decisions = [(d["category"], d["via_group"]) for d in detail["decisions"]]
            expected_via = None if sha == representative else representative
            assert decisions == [(category, expected_via)], sha
        page.reload()
        expect(page.get_by_test_id("review-item")).to_have_count(2)
        assert page.locator(f'[data-sha256="{representative}"]').count() == 0
    finally:
        context.close()

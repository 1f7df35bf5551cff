"""A scan started from the evidence page runs as a job in the server: the page shows its progress
until it is done, and the scanned files are then listed."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import Server, add_people, serve, sign_in, write_textures
from playwright.sync_api import expect

from kaitiaki.store import open_store

FILES = 150
JOB_STATE = """() => {
  const job = document.querySelector('[data-testid="form-result"] [data-testid="job"]');
  if (!job) return null;
  const bar = job.querySelector('[data-testid="job-progress"]');
  return {
    id: job.dataset.jobId,
    status: job.querySelector('[data-testid="job-status"]').textContent,
    message: job.querySelector('[data-testid="job-message"]').textContent,
    value: bar.hasAttribute('value') ? bar.value : null,
    max: bar.max,
  };
}"""


@pytest.fixture(scope="module")
def site(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], str]]:
    folder = tmp_path_factory.mktemp("jobs")
    write_textures(folder / "laptop" / "pictures", FILES)
    store = open_store(module_store_url)
    people = add_people(store)
    store.close()
    with serve(module_store_url, folder) as server:
        yield server, people, str(folder / "laptop")


def test_a_scan_from_the_evidence_page_shows_progress_and_its_files(
    browser: Any, site: tuple[Server, dict[str, str], str]
) -> None:
    server, people, root = site
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server.url, people["investigator"])
        page.get_by_test_id("nav-evidence").click()
        page.get_by_test_id("scan-evidence").fill("seized-laptop")
        page.get_by_test_id("scan-roots").fill(root)
        # The digest the evidence came with, as an examiner computes it (docs/acquisition-hashes)
        listing = subprocess.run(
            "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
            shell=True,
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        page.get_by_test_id("scan-expected-sha256").fill(listing.stdout.split()[0])
        page.get_by_test_id("scan-submit").click()
        job = page.get_by_test_id("job")
        expect(job).to_be_visible()
        seen = []
        deadline = time.monotonic() + 120
        while True:
            state = page.evaluate(JOB_STATE)
            seen.append(state)
            if state["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, seen[-1]
            page.wait_for_timeout(100)
        assert state["status"] == "done", state
        # The bar only ever moves forward, and ends full.
        fractions = [s["value"] / s["max"] for s in seen if s["value"] is not None and s["max"]]
        assert fractions == sorted(fractions) and fractions[-1] == 1, seen
        assert state["message"] == "done"
        job_id = state["id"]

        # The job's own page keeps the counts.
        page.goto(f"{server.url}/jobs/{job_id}")
        expect(page.get_by_test_id("job-status")).to_have_text("done")
        bar = page.get_by_test_id("job-progress")
        expect(bar).to_have_attribute("max", str(FILES))
        expect(bar).to_have_attribute("value", str(FILES))
        assert page.evaluate("() => document.querySelector('progress').value") == FILES

        page.get_by_test_id("nav-evidence").click()
        row = page.get_by_test_id("evidence-row").filter(has_text="seized-laptop")
        expect(row).to_have_count(1)
        evidence_id = row.get_attribute("data-evidence-id")
        page.goto(f"{server.url}/evidence/{evidence_id}")
        expect(page.get_by_test_id("acquisition-status")).to_have_text("verified")
        page.get_by_test_id("nav-evidence").click()
        page.get_by_test_id("nav-files").click()
        page.get_by_test_id("filter-evidence").select_option(evidence_id)
        page.get_by_test_id("filter-submit").click()
        expect(page.get_by_test_id("files-total")).to_have_text(f"{FILES} file(s)")
        expect(page.get_by_test_id("file-row")).to_have_count(100)  # the first page
        scanned = page.request.get(f"{server.url}/api/jobs/{job_id}").json()
        assert scanned["result"]["evidence_id"] == int(str(evidence_id))
        assert scanned["done"] == scanned["total"] == FILES
    finally:
        context.close()

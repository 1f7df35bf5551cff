"""An automated accessibility check of the operation room: axe-core (the front-end package's dev
dependency) runs in Chromium on every main page each role may open (home, the lists, a detail
page of each kind, sign-in, an error page) at 1280x800, and no violation of impact "serious" or
"critical" may remain. Every violation found, of any impact, is printed by impact (and written to
$KAITIAKI_A11Y_REPORT when set) so the results can be reported.

axe is injected with Playwright's ``evaluate``, which the page's Content-Security-Policy does not
govern: the app keeps ``script-src 'self'`` for the check. Also: Tab moves a visible focus ring.
SQLite only: what is checked is the pages as drawn, the same on either engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_server import (
    WEB,
    Server,
    add_people,
    analyse,
    review_evidence,
    serve,
    sign_in,
    subject_jurisdictions,
)
from package_samples import document, key_pair, make_package, subject
from sqlalchemy import select

from kaitiaki.legal.holds import place_hold
from kaitiaki.receive.importing import import_package
from kaitiaki.refer.package import build_referrals
from kaitiaki.refer.signing import generate_key
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import open_store
from kaitiaki.store.models import CyberTipReport, Job, Subject
from kaitiaki.users import Scope
from nothing_skips import require

AXE = WEB / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}
FAILING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, one main).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# The lists whose first row's link is a detail page to check as well.
DETAILED = ("evidence", "files", "review", "subjects", "referrals", "received", "reports", "jobs")


def axe_source() -> str:
    """axe-core's script from the front-end folder, installed (``npm ci``) when missing."""
    if not AXE.is_file():
        npm = shutil.which("npm")
        require(npm is not None, f"npm is needed to install axe-core ({AXE}); run make assets")
        assert npm is not None
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AXE.parents[2],
            capture_output=True,
            text=True,
            check=False,
        )
        require(done.returncode == 0, f"npm ci failed: {(done.stderr or done.stdout)[-2000:]}")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Findings:
    """Violations by page: ``(page, rule, impact, help, how many nodes, first target)``."""

    rows: list[tuple[str, str, str, str, int, str]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def add(self, where: str, violations: list[dict[str, Any]]) -> None:
        self.pages.append(where)
        for v in violations:
            target = str(v["nodes"][0]["target"]) if v["nodes"] else ""
            self.rows.append(
                (where, v["id"], v.get("impact") or "minor", v["help"], len(v["nodes"]), target)
            )

    def failing(self) -> list[tuple[str, str, str, str, int, str]]:
        return [r for r in self.rows if r[2] in FAILING]

    def report(self) -> str:
        lines = [f"axe-core: {len(self.rows)} violation(s) on {len(self.pages)} page views"]
        for impact in IMPACTS:
            found = [r for r in self.rows if r[2] == impact]
            lines.append(f"  {impact}: {len(found)}")
            lines += [f"    {r[0]}: {r[1]} ({r[4]} node(s), e.g. {r[5]}): {r[3]}" for r in found]
        lines.append("  pages: " + ", ".join(self.pages))
        return "\n".join(lines)


@pytest.fixture(scope="module")
def findings() -> Iterator[Findings]:
    found = Findings()
    yield found
    print("\n" + found.report())
    out = os.environ.get("KAITIAKI_A11Y_REPORT")
    if out:
        Path(out).write_text(
            json.dumps(
                [
                    dict(zip(("page", "rule", "impact", "help", "nodes", "target"), r, strict=True))
                    for r in found.rows
                ],
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )


@pytest.fixture(scope="module")
def site(
    simulated_operation: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A store with something on every page: evidence to review, an analysed operation with
    referrals, a received case, a hold, a report and a job."""
    folder = tmp_path_factory.mktemp("a11y")
    url = f"sqlite:///{folder / 'kaitiaki.db'}"
    store = open_store(url)
    review_evidence(store, folder / "phone")
    analysis = analyse(store, simulated_operation, folder / "analysis")
    key = generate_key(folder / "signing.pem")
    build_referrals(store, analysis / "workspace", folder / "built", key_path=key, built_by="test")
    ours = subject_jurisdictions(store)[0]
    people = add_people(store, liaison=ours)
    partner, public = key_pair(folder, "partner")
    add_trusted_key(store, "partner unit", public, actor="test:setup")
    reference = f"KAI-{ours.country}-20261201-1"
    doc = document(
        reference,
        country=ours.country,
        agency=ours.agency,
        subjects=[subject("S-00000000000000b2")],
    )
    package = make_package(folder / "packages" / reference, partner, doc)
    import_package(store, package, actor="test:setup", scope=Scope.operator())
    place_hold(
        store,
        actor="test:setup",
        target_type="evidence",
        target_id="phone-01",
        basis_kind="other",
        basis_text="benign test hold",
        expires_at=datetime.now(UTC) + timedelta(days=10),
    )
    with store.session() as session:
        subject_id = session.scalars(select(Subject.id).order_by(Subject.id).limit(1)).one()
        session.add(
            CyberTipReport(
                subject_id=subject_id,
                state="draft",
                document="<report/>",
                document_sha256="b" * 64,
                created_by="test",
            )
        )
        session.add(Job(kind="scan", params={}, status="done", created_by="web:ada.admin"))
    store.close()
    with serve(url, folder) as server:
        yield server, people


def check(page: Any, where: str, source: str, findings: Findings) -> None:
    """Run axe on the page as it is now and note what it finds."""
    page.wait_for_load_state("networkidle")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source)  # evaluate: a DevTools call, outside the page's CSP
    result = page.evaluate(
        "tags => axe.run(document, { runOnly: { type: 'tag', values: tags } })", TAGS
    )
    findings.add(where, result["violations"])


def pages_of(page: Any, base: str, *, details: bool = True) -> list[str]:
    """The role's pages: its navigation, then (``details``) the first detail page of each list."""
    nav = page.get_by_test_id("nav").locator("a")
    paths = [str(a.get_attribute("href")) for a in nav.all()]
    if not details:
        return paths
    found_details = []
    for path in paths:
        name = path.strip("/")
        if name not in DETAILED:
            continue
        page.goto(f"{base}{path}")
        pattern = re.compile(rf"^/{name}/[^/?#]+$")
        links = page.locator(f'main a[href^="/{name}/"]').all()
        found = [h for h in (a.get_attribute("href") for a in links) if h and pattern.match(h)]
        if found:
            found_details.append(found[0])
    return paths + found_details


@pytest.mark.parametrize("role", ["admin", "investigator", "reviewer", "liaison", "auditor"])
def test_every_page_passes_axe(
    browser: Any, site: tuple[Server, dict[str, str]], findings: Findings, role: str
) -> None:
    server, people = site
    source = axe_source()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        if role == "admin":  # the signed-out pages, once
            page.goto(f"{server.url}/login")
            check(page, "/login", source, findings)
        sign_in(page, server.url, people[role])
        # A detail page is one template for every role, and the admin's holds every form the
        # others may see: the other roles check their home and lists (CI's time).
        paths = pages_of(page, server.url, details=role == "admin")
        # Each role has something of each kind it may open (the seeded store).
        assert len(paths) > len(set(paths) & {"/"}) + 1, paths
        for path in [*paths, "/evidence/999999"]:
            response = page.goto(f"{server.url}{path}")
            assert response is not None and response.status in (200, 403, 404), path
            check(page, f"{path} ({role})", source, findings)
            # No horizontal page scroll at 1280 px: wide content scrolls in its own box.
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (path, overflow)
    finally:
        context.close()
    bad = [r for r in findings.failing() if r[0].endswith(f"({role})") or r[0] == "/login"]
    assert bad == [], findings.report()


FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return { tag: el.tagName, outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
           colour: style.outlineColor, visible: el.getBoundingClientRect().width > 0 };
}"""


def test_tab_moves_a_visible_focus_ring(browser: Any, site: tuple[Server, dict[str, str]]) -> None:
    server, people = site
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        sign_in(page, server.url, people["investigator"])
        seen = set()
        for _ in range(8):
            page.keyboard.press("Tab")
            focus = page.evaluate(FOCUS)
            assert focus["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"), focus
            assert focus["visible"], focus
            assert focus["outline"] != "none" and focus["width"] >= 2, focus
            seen.add(focus["tag"])
        assert "A" in seen
        # The first stop is the skip link, which takes the keyboard past the navigation.
        page.goto(f"{server.url}/")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#main"
    finally:
        context.close()

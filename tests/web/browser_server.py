"""Helpers for the browser tests (imported by bare name): a real ``kaitiaki serve`` process over
a prepared store, Debian's Chromium driven by Playwright, benign evidence to review, and pixel
checks on what the browser actually rendered."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from web_helpers import PASSWORD, jpeg

from kaitiaki.store import Store
from kaitiaki.users import Jurisdiction, Role, add_user
from nothing_skips import postgres_schema, require

CHROMIUM = Path("/usr/bin/chromium")
# Headless and quiet: no sandbox (containers), no GPU, and nothing that calls out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every page a signed-in person may find in the navigation, by its nav test id.
NAV_PAGES = (
    "home",
    "evidence",
    "files",
    "review",
    "hashsets",
    "exchanges",
    "subjects",
    "accounts",
    "referrals",
    "received",
    "reports",
    "holds",
    "jobs",
    "audit",
    "users",
)
NZ_AGENCY = "New Zealand Police"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``kaitiaki serve`` process; ``url`` is where it listens."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def serve(store_url: str, folder: Path, *, job_workers: int = 1) -> Iterator[Server]:
    """Run ``kaitiaki serve`` over ``store_url`` on a free port, as a person would start it;
    stop it (SIGINT, as Ctrl+C) afterwards. Job outputs and the signing key stay in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / f"serve-{port}.log"
    env = {**os.environ, "KAITIAKI_KEYS": str(folder / "keys"), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-m",
        "kaitiaki",
        "serve",
        "--db",
        store_url,
        "--port",
        str(port),
        "--work-root",
        str(folder / "web"),
        # The test's folder holds the evidence and analyses the pages are asked to use.
        "--evidence-root",
        str(folder),
        "--job-workers",
        str(job_workers),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_until_up(server: Server, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"kaitiaki serve exited early:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"kaitiaki serve did not answer in {limit} s:\n{server.log_tail()}")
        time.sleep(0.1)


def add_people(store: Store, liaison: Jurisdiction | None = None) -> dict[str, str]:
    """One account per role (all with ``PASSWORD``), the liaison bound to ``liaison`` (by
    default New Zealand's police); returns role -> user name."""
    pair = liaison or Jurisdiction("NZ", NZ_AGENCY)
    names = {
        "admin": "ada.admin",
        "investigator": "ian.investigator",
        "reviewer": "rua.reviewer",
        "liaison": "lia.liaison",
        "auditor": "aud.auditor",
    }
    for role, name in names.items():
        add_user(
            store,
            name,
            Role(role),
            PASSWORD,
            actor="test:setup",
            jurisdictions=[pair] if role == "liaison" else [],
        )
    return names


def launch_browser(playwright: Any) -> Any:
    require(CHROMIUM.is_file(), f"Debian's Chromium is not installed at {CHROMIUM}")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def sign_in(page: Any, base: str, name: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person does; lands on the home page."""
    page.goto(f"{base}/login")
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-password").fill(password)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()
    assert page.get_by_test_id("current-user").inner_text().startswith(name), page.content()


def csrf_of(page: Any) -> str:
    return str(page.locator('meta[name="csrf-token"]').get_attribute("content"))


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations a page reported."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                self.messages.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: (
                self.messages.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        # A violation is also logged to the console, but the event names the directive.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));"
        )


# Pixel checks on what the browser drew.


def element_image(locator: Any) -> Image.Image:
    """The element as rendered on screen (an element screenshot), as a Pillow image."""
    return Image.open(io.BytesIO(locator.screenshot())).convert("RGB")


def laplacian_variance(image: Image.Image) -> float:
    """High-frequency energy: the variance of the 4-neighbour Laplacian at a common size."""
    a = np.asarray(image.convert("L").resize((256, 256)), dtype=np.float64)
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def colour_spread(image: Image.Image) -> int:
    """The largest difference between two channels of one pixel (0 for pure grey)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int(
        max(
            np.abs(rgb[..., 0] - rgb[..., 1]).max(),
            np.abs(rgb[..., 1] - rgb[..., 2]).max(),
            np.abs(rgb[..., 0] - rgb[..., 2]).max(),
        )
    )


def screenshot(page: Any, name: str) -> None:
    """Keep a full-page screenshot under $KAITIAKI_SCREENSHOTS when set (for people to look at;
    nothing is asserted on it)."""
    folder = os.environ.get("KAITIAKI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


# Benign material.


def texture(seed: int, size: int = 160) -> Image.Image:
    """A distinct smooth-noise colour image per seed (high PDQ quality, unrelated hashes)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def write_textures(folder: Path, count: int, *, start: int = 0, size: int = 96) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img-{i:05d}.jpg"
        path.write_bytes(jpeg(texture(i, size)))
        paths.append(path)
    return paths


@dataclass(frozen=True)
class ReviewEvidence:
    evidence_id: int
    group: list[str]  # a benign photo and four edits of it: one near-duplicate group
    colour_photo: str  # a colourful photo on its own


def review_evidence(store: Store, root: Path, name: str = "phone-01") -> ReviewEvidence:
    """Scan a folder of benign photos (scikit-image's) and build the near-duplicate groups."""
    import hashlib

    from kaitiaki.scan.runner import run_scan
    from kaitiaki.simulate.images import VARIANTS, package_photo
    from kaitiaki.triage.groups import build_groups

    root.mkdir(parents=True, exist_ok=True)
    bike = package_photo("motorcycle_left.png")
    group = [jpeg(bike)] + [jpeg(transform(bike)) for _, transform in VARIANTS[:4]]
    for i, data in enumerate(group):
        (root / f"bike-{i}.jpg").write_bytes(data)
    astronaut = jpeg(package_photo("astronaut.png"))
    (root / "astronaut.jpg").write_bytes(astronaut)
    (root / "coffee.jpg").write_bytes(jpeg(package_photo("coffee.png")))
    result = run_scan(store, [root], name, workers=1, actor="test:setup")
    build_groups(store, result.evidence_id, actor="test")
    return ReviewEvidence(
        evidence_id=result.evidence_id,
        group=[hashlib.sha256(d).hexdigest() for d in group],
        colour_photo=hashlib.sha256(astronaut).hexdigest(),
    )


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@contextmanager
def store_url_for(backend: str, folder: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file in ``folder``, or a fresh PostgreSQL schema (dropped
    afterwards), as tests/conftest.py's ``store_url`` makes them, for a whole module."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'kaitiaki.db'}"
        return
    yield from postgres_schema()


def simulate(folder: Path) -> Path:
    """A small simulated provider export (accounts, access records, catalog, hash set)."""
    from kaitiaki.simulate.operation import simulate_operation

    simulate_operation(folder, accounts=200, flagged_accounts=20, events=3_000, seed=7)
    return folder


def analyse(store: Store, operation: Path, out: Path) -> Path:
    """Import the export's hash set, analyse and prioritise, as ``kaitiaki operation`` does;
    returns the analysis folder (the one the referral build form asks for)."""
    from kaitiaki.hashsets import import_hash_set
    from kaitiaki.operation.analyse import analyse_operation
    from kaitiaki.priority import prioritise

    import_hash_set(store, operation / "hashset.json", "op-set", "vics", source="test", actor="t")
    records = sorted(operation.glob("records*.csv"))
    analyse_operation(
        store,
        records,
        operation / "accounts.csv",
        operation / "catalog.csv",
        out,
        actor="test:setup",
    )
    prioritise(store, workspace=out / "workspace", actor="test:setup")
    return out


def subject_jurisdictions(store: Store) -> list[Jurisdiction]:
    """(country, agency) of the analysed subjects' receiving agencies that get a single referral
    (subjects in one country: INTERPOL's bureaus receive one per country), most subjects first."""
    from sqlalchemy import func, select

    from kaitiaki.store.models import Subject

    with store.session() as session:
        rows = session.execute(
            select(Subject.agency, func.min(Subject.country), func.count())
            .where(Subject.agency.is_not(None), Subject.country.is_not(None))
            .group_by(Subject.agency)
            .having(func.count(Subject.country.distinct()) == 1)
            .order_by(func.count().desc(), Subject.agency)
        )
        return [Jurisdiction(str(country), str(agency)) for agency, country, _ in rows]


WEB = Path(__file__).resolve().parents[2] / "src" / "kaitiaki" / "web"
ASSETS = WEB / "static" / "dist" / "dashboard.js"


def ensure_assets() -> None:
    """Build the dashboard bundle (``make assets``) when it is missing: ``npm ci`` (only when
    node_modules is absent) then ``npm run build``; without npm, skip locally, fail under CI."""
    if ASSETS.is_file():
        return
    npm = shutil.which("npm")
    require(npm is not None, f"npm is needed to build {ASSETS} (make assets)")
    assert npm is not None
    frontend = WEB / "frontend"
    steps = [] if (frontend / "node_modules").is_dir() else [[npm, "ci", "--no-audit", "--no-fund"]]
    for step in [*steps, [npm, "run", "build"]]:
        done = subprocess.run(step, cwd=frontend, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            require(
                False,
                f"building the dashboard assets failed ({' '.join(step[1:])} in {frontend}): "
                f"{(done.stderr or done.stdout)[-2000:]}",
            )
    assert ASSETS.is_file(), f"npm run build did not write {ASSETS}"

"""bench_web: the operation room under 20 concurrent people while a scan job runs.

A real server (``python -m kaitiaki serve``: one uvicorn process, store on SQLite, its job
runner in a child process) over the demo operation (``kaitiaki serve --demo``'s preparation:
the benign sample scanned, a simulated provider export analysed, prioritised and referred),
20 accounts (investigators, reviewers, a liaison, an auditor) and 20 simulated people in a
closed loop (no think time) browsing pages and the API for ``--duration`` seconds: dashboard,
files list and detail, subjects, referrals, the review queue with its thumbnails, decisions,
the audit log. At the start an investigator submits, through the API, a scan of a generated
benign folder of ``--scan-files`` images; it runs in the server's job process beside the
traffic. The auditor lists the audit log (verifying the whole chain is an explicit action, not
part of a view).

Target: p95 < 300 ms for pages. Loopback only; bounded by ``--duration`` and
``--max-requests``. The clients run on the same machine (one asyncio loop), so they take CPU
from the server too: the load average is printed with the figures.

    uv run python benchmarks/bench_web.py [--duration 60] [--users 20] [--scan-files 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

PASSWORD = "a long benchmark password"
TARGET_P95_MS = 300.0
PREPARED = ".prepared-v1"
# (role, how many, agency): 20 people by default.
CAST = (
    ("investigator", 9, None),
    ("reviewer", 9, None),
    ("liaison", 1, "National Crime Agency (NCA)"),
    ("auditor", 1, None),
)
EXPECTED = {403, 404}  # a liaison probing another agency's referral, for instance


# Preparation (cached between runs).


def prepare_demo(folder: Path) -> Path:
    """The demo store and the benchmark's accounts, once; returns the SQLite file."""
    database = folder / "kaitiaki.db"
    if (folder / PREPARED).exists():
        return database
    from sqlalchemy import select

    from kaitiaki.store import open_store
    from kaitiaki.store.models import User
    from kaitiaki.users import add_user
    from kaitiaki.web.demo import prepare_demo as prepare

    os.environ.setdefault("KAITIAKI_ADMIN_PASSWORD", PASSWORD)
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{database}")
    prepare(store, folder, say=lambda line: print(f"  {line}"))
    with store.session() as session:
        have = set(session.scalars(select(User.name)))
    for role, count, agency in CAST:
        for n in range(count):
            name = f"bench-{role}-{n + 1:02d}"
            if name not in have:
                add_user(store, name, role, PASSWORD, agency=agency)
    store.close()
    (folder / PREPARED).write_text("ok\n")
    return database


def prepare_scan_folder(folder: Path, files: int) -> Path:
    """``files`` small benign generated images (smooth colour noise, 64-160 px), once."""
    marker = folder / ".complete"
    if marker.exists() and marker.read_text() == str(files):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(11)
    for i in range(files):
        sub = folder / f"dir{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        side = int(rng.choice([64, 96, 128, 160]))
        small = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        (sub / f"img{i:05d}.jpg").write_bytes(out.getvalue())
    marker.write_text(str(files))
    return folder


@dataclass
class World:
    """What the simulated people click on, read from the store before the run."""

    evidence_id: int
    new_files: list[str]
    files: list[str]
    subjects: list[str]
    referrals: list[str]
    liaison_referrals: list[str]
    foreign_referrals: list[str]


def read_world(database: Path) -> World:
    from sqlalchemy import select

    from kaitiaki.store import open_store
    from kaitiaki.store.models import Classification, Evidence, File, Referral, Subject

    liaison_agency = next(a for role, _, a in CAST if role == "liaison")
    store = open_store(f"sqlite:///{database}")
    with store.session() as session:
        evidence_id = session.scalar(select(Evidence.id).where(Evidence.name == "demo-sample"))
        assert evidence_id is not None, "the demo evidence is missing"
        new = list(
            session.scalars(
                select(Classification.sha256)
                .join(File, File.sha256 == Classification.sha256)
                .where(
                    Classification.evidence_id == evidence_id,
                    Classification.label == "new",
                    File.kind == "image",
                )
            )
        )
        files = list(session.scalars(select(File.sha256)))
        subjects = list(session.scalars(select(Subject.id)))
        referrals = list(session.execute(select(Referral.id, Referral.agency)))
    store.close()
    if not any(a == liaison_agency for _, a in referrals):
        raise SystemExit(f"the demo has no referral for {liaison_agency!r}, the liaison's agency")
    return World(
        evidence_id=evidence_id,
        new_files=new,
        files=files,
        subjects=subjects,
        referrals=[r for r, _ in referrals],
        liaison_referrals=[r for r, a in referrals if a == liaison_agency],
        foreign_referrals=[r for r, a in referrals if a != liaison_agency],
    )


# The server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database: Path, run: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "kaitiaki",
        "serve",
        "--db",
        f"sqlite:///{database}",
        "--port",
        str(port),
        "--data-dir",
        str(run / "web"),
    ]
    env = {**os.environ, "NO_COLOR": "1", "KAITIAKI_KEYS": str(run / "keys")}
    env.setdefault("KAITIAKI_INDEX_CACHE", str(run / "index-cache"))
    log = (run / "serve.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{(run / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not answer within 60 s")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# The simulated people.


@dataclass
class Sample:
    group: str
    kind: str  # "page" or "api"
    status: int
    seconds: float


@dataclass
class Recorder:
    deadline: float
    max_requests: int
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return time.monotonic() < self.deadline and len(self.samples) < self.max_requests


@dataclass
class Person:
    name: str
    role: str
    client: httpx.AsyncClient
    csrf: str = ""
    queue_categories: list[str] = field(default_factory=list)

    async def call(
        self,
        recorder: Recorder,
        group: str,
        method: str,
        url: str,
        json: Any = None,
    ) -> httpx.Response | None:
        kind = "api" if url.startswith("/api/") else "page"
        headers = {"X-CSRF-Token": self.csrf} if method != "GET" else {}
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, json=json, headers=headers)
        except httpx.HTTPError as exc:
            recorder.failures.append(f"{group} {url}: {type(exc).__name__} {exc}")
            recorder.samples.append(Sample(group, kind, 0, time.perf_counter() - started))
            return None
        elapsed = time.perf_counter() - started
        recorder.samples.append(Sample(group, kind, response.status_code, elapsed))
        if response.status_code >= 400 and response.status_code not in EXPECTED:
            recorder.failures.append(
                f"{group} {url}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response


Action = Callable[[Person, Recorder, World, random.Random], Awaitable[None]]


async def dashboard(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    await p.call(r, "page:dashboard", "GET", "/dashboard")
    await p.call(r, "api:stats", "GET", "/api/stats")  # what the dashboard's script fetches


async def files_list(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    if rng.random() < 0.5:
        await p.call(r, "page:files", "GET", f"/files?offset={rng.randrange(0, 2) * 100}")
    else:
        await p.call(
            r, "api:files", "GET", f"/api/files?limit=100&offset={rng.randrange(0, 3) * 100}"
        )


async def file_detail(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    sha = rng.choice(w.files)
    if rng.random() < 0.5:
        await p.call(r, "page:file", "GET", f"/files/{sha}")
    else:
        await p.call(r, "api:file", "GET", f"/api/files/{sha}")


async def subjects(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    await p.call(r, "page:subjects", "GET", "/subjects")
    subject = rng.choice(w.subjects)
    if rng.random() < 0.5:
        await p.call(r, "page:subject", "GET", f"/subjects/{subject}")
    else:
        await p.call(r, "api:subject", "GET", f"/api/subjects/{subject}")


async def referrals(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    own = w.liaison_referrals if p.role == "liaison" else w.referrals
    await p.call(r, "page:referrals", "GET", "/referrals")
    referral = rng.choice(own)
    await p.call(r, "page:referral", "GET", f"/referrals/{referral}")
    await p.call(r, "api:referrals", "GET", "/api/referrals")
    if p.role == "liaison" and w.foreign_referrals:
        # Another agency's referral: an expected 404.
        await p.call(r, "api:referral", "GET", f"/api/referrals/{rng.choice(w.foreign_referrals)}")


async def review(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    """The queue page, then its thumbnails as a browser would load the first screenful."""
    await p.call(r, "page:review", "GET", f"/review/{w.evidence_id}")
    queue = await p.call(r, "api:review", "GET", f"/api/review/{w.evidence_id}?limit=12")
    items = [i["sha256"] for i in queue.json()["items"]] if queue and queue.is_success else []
    for sha in (items or rng.sample(w.new_files, min(6, len(w.new_files))))[:6]:
        await p.call(
            r, "api:thumbnail", "GET", f"/api/files/{sha}/thumbnail?evidence_id={w.evidence_id}"
        )
    if p.queue_categories:
        await p.call(
            r,
            "api:decision",
            "POST",
            f"/api/review/{w.evidence_id}/decisions",
            json={
                "sha256": rng.choice(items or w.new_files),
                "category": rng.choice(p.queue_categories),
                "reason": "benchmark",
                "apply_to_group": True,
            },
        )


async def audit(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    await p.call(r, "page:audit", "GET", "/audit")
    await p.call(r, "api:audit", "GET", "/api/audit?limit=100")


async def jobs(p: Person, r: Recorder, w: World, rng: random.Random) -> None:
    await p.call(r, "page:jobs", "GET", "/jobs")


PLAYS: dict[str, list[tuple[Action, int]]] = {
    "investigator": [
        (dashboard, 3),
        (files_list, 3),
        (file_detail, 3),
        (subjects, 3),
        (referrals, 3),
        (jobs, 1),
    ],
    "reviewer": [(review, 6), (files_list, 2), (file_detail, 2)],
    "liaison": [(referrals, 1)],
    "auditor": [(audit, 2), (dashboard, 1), (subjects, 1), (referrals, 1)],
}


async def sign_in(person: Person) -> None:
    response = await person.client.post(
        "/api/auth/login", json={"name": person.name, "password": PASSWORD}
    )
    response.raise_for_status()
    person.csrf = response.json()["csrf_token"]


async def live(person: Person, recorder: Recorder, world: World, seed: int) -> None:
    rng = random.Random(seed)
    actions, weights = zip(*PLAYS[person.role], strict=True)
    while recorder.running:
        action = rng.choices(actions, weights)[0]
        await action(person, recorder, world, rng)


@dataclass
class ScanWatch:
    job_id: int | None = None
    status: str = "not submitted"
    done: int = 0
    total: int | None = None
    seconds: float | None = None
    error: str | None = None


async def submit_scan(person: Person, folder: Path, watch: ScanWatch) -> None:
    submitted = await person.client.post(
        "/api/scans",
        json={"evidence": "bench-scan", "roots": [str(folder)]},
        headers={"X-CSRF-Token": person.csrf},
    )
    if submitted.status_code != 202:
        watch.status, watch.error = "refused", f"HTTP {submitted.status_code} {submitted.text}"
        return
    watch.job_id = submitted.json()["id"]
    watch.status = "queued"


async def follow_scan(person: Person, watch: ScanWatch, until: Callable[[], bool]) -> None:
    """Poll the job once a second while ``until()`` holds (these calls are not counted)."""
    while watch.job_id is not None and until():
        job = (await person.client.get(f"/api/jobs/{watch.job_id}")).json()
        watch.status, watch.done, watch.total = job["status"], job["done"], job["total"]
        watch.error = job["error"]
        if job["status"] not in ("queued", "running"):
            if job["started_at"] and job["finished_at"]:
                started = datetime.fromisoformat(job["started_at"])
                finished = datetime.fromisoformat(job["finished_at"])
                watch.seconds = (finished - started).total_seconds()
            return
        await asyncio.sleep(1.0)


async def drive(
    base: str, world: World, users: int, args: argparse.Namespace, scan: Path
) -> tuple[Recorder, ScanWatch, float]:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    timeout = httpx.Timeout(30.0)
    cast = [(role, n) for role, count, _ in CAST for n in range(count)]
    people = [
        Person(
            f"bench-{role}-{n + 1:02d}",
            role,
            httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout),
        )
        for role, n in cast[:users]
    ]
    try:
        # Sign-ins verify argon2id hashes: done before the clock starts, a few at a time.
        for start in range(0, len(people), 4):
            await asyncio.gather(*(sign_in(p) for p in people[start : start + 4]))
        reviewer = next((p for p in people if p.role == "reviewer"), None)
        if reviewer is not None:
            queue = (await reviewer.client.get(f"/api/review/{world.evidence_id}?limit=1")).json()
            codes = [c["code"] for c in queue["categories"]]
            for p in people:
                p.queue_categories = codes
        recorder = Recorder(time.monotonic() + args.duration, args.max_requests)
        watch = ScanWatch()
        investigator = next(p for p in people if p.role == "investigator")
        started = time.monotonic()
        await submit_scan(investigator, scan, watch)
        await asyncio.gather(
            follow_scan(investigator, watch, lambda: recorder.running),
            *(live(p, recorder, world, seed=i) for i, p in enumerate(people)),
        )
        elapsed = time.monotonic() - started
        # Still going when the traffic stopped: follow it to the end, for a while.
        grace = time.monotonic() + args.scan_grace
        await follow_scan(investigator, watch, lambda: time.monotonic() < grace)
        return recorder, watch, elapsed
    finally:
        for p in people:
            await p.client.aclose()


# The report.


def table(samples: list[Sample], elapsed: float) -> list[str]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.group].append(s)
    lines = [
        f"{'route group':<18}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    ]

    def row(name: str, rows: list[Sample]) -> str:
        ms = np.array([s.seconds * 1000 for s in rows])
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return (
            f"{name:<18}{len(rows):>9,}{len(rows) / elapsed:>8.1f}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}"
        )

    for kind in ("page", "api"):
        for name in sorted(g for g, rows in groups.items() if rows[0].kind == kind):
            lines.append(row(name, groups[name]))
        everything = [s for s in samples if s.kind == kind]
        if everything:
            lines.append(row(f"ALL {kind.upper()}S", everything))
        lines.append("")
    return lines


def percentile_ms(samples: list[Sample], kind: str, q: float) -> float:
    ms = [s.seconds * 1000 for s in samples if s.kind == kind]
    return float(np.percentile(ms, q)) if ms else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--users", type=int, default=20, help="simulated people (at most 20)")
    parser.add_argument("--scan-files", type=int, default=3_000)
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many")
    parser.add_argument(
        "--scan-grace", type=float, default=120.0, help="seconds to wait for the scan afterwards"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "kaitiaki-bench-web",
        help="where the demo store and the scan folder are kept between runs",
    )
    args = parser.parse_args()
    users = min(args.users, sum(count for _, count, _ in CAST))

    print("preparing (cached after the first run) ...")
    template = prepare_demo(args.cache / "demo")
    scan = prepare_scan_folder(args.cache / f"scan-{args.scan_files}", args.scan_files)
    world = read_world(template)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        run = Path(tmp)
        database = run / "kaitiaki.db"
        shutil.copy(template, database)  # every run starts from the same store
        port = free_port()
        before = os.getloadavg()
        process = start_server(database, run, port)
        print(f"server pid {process.pid} on port {port}; {args.duration:.0f} s of traffic ...")
        try:
            recorder, watch, elapsed = asyncio.run(
                drive(f"http://127.0.0.1:{port}", world, users, args, scan)
            )
        finally:
            stop_server(process)
        after = os.getloadavg()

    samples = recorder.samples
    errors = len(recorder.failures)
    print(
        f"\nbench_web: {users} people, closed loop, {elapsed:.0f} s, one uvicorn process "
        f"(SQLite, jobs in a child process), {os.cpu_count()} CPU(s)"
    )
    print(
        "load average before: "
        + " ".join(f"{x:.2f}" for x in before)
        + "   after: "
        + " ".join(f"{x:.2f}" for x in after)
    )
    print(f"{len(samples):,} requests, {len(samples) / elapsed:.1f} req/s\n")
    for line in table(samples, elapsed):
        print(line)
    print(f"errors: {errors} (any status but 2xx/3xx, expected 403/404 aside, or no answer)")
    for failure in recorder.failures[:10]:
        print(f"  {failure}")
    rate = f"{watch.total / watch.seconds:.0f} files/s" if watch.seconds and watch.total else "n/a"
    print(
        f"scan job {watch.job_id}: {watch.status}, {watch.done:,} of {watch.total or 0:,} files"
        + (f" in {watch.seconds:.1f} s = {rate}" if watch.seconds else "")
        + (f" ({watch.error})" if watch.error else "")
    )
    p95 = percentile_ms(samples, "page", 95)
    verdict = "MET" if p95 < TARGET_P95_MS else "MISSED"
    print(f"target p95 < {TARGET_P95_MS:.0f} ms for pages: {verdict} (p95 = {p95:.0f} ms)")


if __name__ == "__main__":
    main()

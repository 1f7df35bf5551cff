"""bench_api's checks beside the load: answers against a brute-force scan, how soon a banked hash
is found, and kaitiaki's bank growing by 100,000 entries while ``wrk`` keeps asking."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench_api_servers import BANK, KaitiakiRun
from bench_api_wrk import Wrk, write_script

STABLE = 20  # answers in a row that must find a new hash (every worker has seen it)


def brute_force(bank: np.ndarray, query: np.ndarray, threshold: int) -> np.ndarray:
    """Rows of ``bank`` within ``threshold`` bits of ``query``: numpy popcount over all of it,
    independent of both servers' indexes."""
    words = bank.view(np.uint64)
    distance = np.bitwise_count(words ^ query.view(np.uint64)).sum(axis=1)
    return np.flatnonzero(distance <= threshold)


def lookup_ids(
    base: str, hex_: str, token: str | None, client: httpx.Client | None = None
) -> list[int]:
    """``GET /m/raw_lookup``'s ids (HMA's shape: ``{"matches": [id, ...]}``)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{base}/m/raw_lookup"
    params = {"signal_type": "pdq", "signal": hex_}
    answer = (client or httpx).get(url, params=params, headers=headers, timeout=30)
    answer.raise_for_status()
    return [int(i) for i in answer.json()["matches"]]


def kaitiaki_ids_to_hex(url: str, ids: set[int]) -> dict[int, str]:
    """Entry id -> its PDQ, read from the store."""
    from sqlalchemy import select

    from kaitiaki.store import open_store
    from kaitiaki.store.models import HashSetEntry

    store = open_store(url, migrate=False)
    out: dict[int, str] = {}
    try:
        with store.session() as session:
            wanted = sorted(ids)
            for start in range(0, len(wanted), 5000):
                chunk = wanted[start : start + 5000]
                query = select(HashSetEntry.id, HashSetEntry.pdq).where(HashSetEntry.id.in_(chunk))
                out.update({int(i): str(p) for i, p in session.execute(query)})
    finally:
        store.close()
    return out


def hma_ids_to_rows(ids: np.ndarray, answers: list[list[int]]) -> list[list[int]]:
    """HMA's content ids -> bank rows, through ``load_bank.py``'s ``.ids.npy`` (-1: unknown)."""
    order = np.argsort(ids)
    out = []
    for got in answers:
        asked = np.asarray(got, dtype=np.int64)
        at = np.clip(np.searchsorted(ids, asked, sorter=order), 0, len(ids) - 1)
        rows = order[at]
        out.append([int(r) if ids[r] == a else -1 for r, a in zip(rows, asked, strict=True)])
    return out


def check_matches(got: list[set[str]], truth: list[set[str]]) -> tuple[bool, str]:
    wrong = [i for i, (g, t) in enumerate(zip(got, truth, strict=True)) if g != t]
    matches = sum(len(t) for t in truth)
    if not wrong:
        return True, f"identical on {len(truth)} queries ({matches} true matches)"
    i = wrong[0]
    return False, (
        f"{len(wrong)} of {len(truth)} queries differ; first: query {i}, "
        f"{len(got[i] - truth[i])} extra, {len(truth[i] - got[i])} missing"
    )


@dataclass
class Visibility:
    first_s: float | None = None  # the first answer that found it
    stable_s: float | None = None  # from then on, STABLE answers in a row found it
    waited_s: float = 0.0
    reference_s: float | None = None  # HMA: its measured build_indices
    note: str = ""

    def line(self) -> str:
        if self.stable_s is not None:
            return (
                f"found after {self.stable_s * 1000:,.0f} ms (by every lookup from then on, "
                f"{STABLE} in a row; a first find at {(self.first_s or 0) * 1000:,.0f} ms)"
                f"{self.note}"
            )
        text = f"not found within {self.waited_s:.0f} s{self.note}"
        if self.reference_s is not None:
            text += (
                f"; its index changes only through build_indices, measured at "
                f"{self.reference_s:.1f} s for this bank (+ up to 30 s until workers reload)"
            )
        return text


def time_to_visible(
    base: str,
    bank: str,
    hex_: str,
    token: str | None,
    wait: float,
    rebuild: Callable[[], float] | None = None,
) -> Visibility:
    """Add ``hex_`` through ``POST /c/bank/BANK/signal`` and ask for it until it is found,
    ``wait`` seconds at most; then, given ``rebuild`` (HMA's build_indices), run it once and
    ask again for another 120 s (HMA's workers reload a built index every 30 s)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    seen = Visibility()
    with httpx.Client(timeout=30) as client:
        started = time.monotonic()
        added = client.post(f"{base}/c/bank/{bank}/signal", json={"pdq": hex_}, headers=headers)
        if added.status_code >= 300:
            seen.note = f" (the add failed: HTTP {added.status_code} {added.text[:200]})"
            return seen
        in_a_row, since = 0, 0.0
        while (now := time.monotonic() - started) < wait or rebuild is not None:
            if now >= wait and rebuild is not None:
                seen.note = f" (after build_indices, {rebuild():.1f} s, run as the add returned)"
                wait, rebuild = time.monotonic() - started + 120, None
                continue
            hit = bool(lookup_ids(base, hex_, token, client))
            if hit and seen.first_s is None:
                seen.first_s = now
            # Visible from the first of STABLE finds in a row (the time asked, not answered).
            in_a_row, since = (in_a_row + 1, since if in_a_row else now) if hit else (0, now)
            if in_a_row >= STABLE:
                seen.stable_s = since
                break
            if not hit:
                time.sleep(0.005)
        seen.waited_s = time.monotonic() - started
    return seen


@dataclass
class Prober:
    """Asks for one of the new hashes every 20 ms, timing each answer."""

    base: str
    hex_: str
    token: str
    samples: list[tuple[float, float, bool]] = field(default_factory=list)  # (t, ms, hit)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                at = time.monotonic()
                try:
                    hit = bool(lookup_ids(self.base, self.hex_, self.token, client))
                except httpx.HTTPError:
                    self.failures += 1
                    hit = False
                self.samples.append((at, (time.monotonic() - at) * 1000, hit))
                self.stop.wait(0.02)

    def stable_since(self) -> float | None:
        in_a_row, since = 0, None
        for at, _, hit in self.samples:
            in_a_row, since = (in_a_row + 1, since or at) if hit else (0, None)
            if in_a_row >= STABLE:
                return since
        return None


def swap_under_load(
    base: str,
    run: KaitiakiRun,
    queries: Path,
    token: str,
    new: list[str],
    connections: int,
    work: Path,
) -> list[str]:
    """``wrk`` on kaitiaki throughout; after 3 s, ``new`` joins the bank; wrk stops once the
    new entries are found (or a bound passes). What happened, as report lines."""
    listing = work / "swap.txt"
    listing.write_text("\n".join(new) + "\n")
    script = write_script(work, "swap", queries, "raw_lookup", token)
    load = Wrk(base, script, 3600, connections, work / "wrk-swap.log").start()
    prober = Prober(base, new[-1], token)
    thread = threading.Thread(target=prober.run, daemon=True)
    thread.start()
    adder: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(3)
        add_started = time.monotonic()
        with (work / "swap-add.log").open("wb") as log:
            # The supported bulk route: `kaitiaki hashset add` (one transaction, audited).
            add = ["hashset", "add", BANK, str(listing), "--hex64", "pdq", "--db", run.url]
            adder = subprocess.Popen(
                [sys.executable, "-m", "kaitiaki", *add],
                env=run.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            code = adder.wait(timeout=1800)
        added_at = time.monotonic()
        # The commit happened before the command returned: timing from its return
        # overstates the time to visibility a little, never understates it.
        committed = added_at
        deadline = added_at + (300 if code == 0 else 0)
        while prober.stable_since() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        result = load.interrupt()
    finally:
        prober.stop.set()
        thread.join(35)
        load.stop()
        if adder is not None and adder.poll() is None:
            adder.kill()
            adder.wait()
    lines = [
        f"{len(new):,} entries added by `kaitiaki hashset add` (one transaction, audited) in "
        f"{added_at - add_started:.1f} s"
        + ("" if code == 0 else f", FAILED ({code}), see {work / 'swap-add.log'}")
    ]
    since = prober.stable_since()
    if since is None:
        lines.append("the new entries were NOT found within 300 s of the commit")
    else:
        lines.append(
            f"found by {STABLE} lookups in a row {since - committed:.2f} s after the command "
            "returned "
            f"({since - add_started:.1f} s after the add began)"
        )
    during = [ms for at, ms, _ in prober.samples if add_started <= at <= (since or added_at)]
    lines.append(
        f"wrk over the whole window ({result.seconds:.0f} s, {result.requests:,} lookups, "
        f"{result.rate:,.0f}/s): p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"worst {result.max_ms:,.0f} ms, errors {result.errors:,}"
    )
    if during:
        lines.append(
            f"probe lookups during the swap: {len(during)}, worst {max(during):,.0f} ms, "
            f"failures {prober.failures}"
        )
    return lines

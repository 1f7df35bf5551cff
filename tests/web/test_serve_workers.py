"""``kaitiaki serve --workers 2`` as an operator starts it: both workers answer HMA lookups from
one mapped index file, and a bank change made through one worker is answered by every worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

from kaitiaki.hashsets.curate import create_bank
from kaitiaki.hashsets.derived import add_entries
from kaitiaki.hashsets.entry import Entry
from kaitiaki.hashsets.store import find_hash_set
from kaitiaki.index.pdq import bytes_to_hex
from kaitiaki.store import open_store
from kaitiaki.users.tokens import create_token


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mapped_by(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_two_workers_share_one_index_and_each_sees_a_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kaitiaki.db'}"
    store = open_store(url)
    hexes = bytes_to_hex(np.random.default_rng(3).integers(0, 256, (300, 32), dtype=np.uint8))
    create_bank(store, "SHARED", enabled=True, actor="test:setup")
    with store.session() as session:
        row = find_hash_set(session, "SHARED")
        assert row is not None
        add_entries(session, row, [Entry(pdq=h) for h in hexes])
        set_id = row.id
    _, match = create_token(store, "matcher", ["match"], actor="test:setup")
    _, curate = create_token(store, "curator", ["curate"], actor="test:setup")
    store.close()

    port = _port()
    env = {**os.environ, "KAITIAKI_INDEX_POLL_S": "0.1", "NO_COLOR": "1"}
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "kaitiaki", "serve", "--db", url, "--port", str(port)]
    command += ["--workers", "2", "--no-access-log", "--work-root", str(tmp_path / "web")]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    asks = {"Authorization": f"Bearer {match}"}
    try:
        deadline = time.monotonic() + 240  # two processes importing the application
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)

        def raw(signal_hex: str) -> list[int]:
            # A new connection each time, so that both workers take some of the lookups.
            answer = httpx.get(
                f"{base}/m/raw_lookup",
                params={"signal_type": "pdq", "signal": signal_hex},
                headers=asks,
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            return list(answer.json()["matches"])

        for h in hexes[:30]:
            assert len(raw(h)) == 1
        workers = [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
        mapping = [pid for pid in workers if _mapped_by(pid, f"serve-{set_id}-")]
        assert len(mapping) == 2, f"processes mapping the bank's index: {mapping} of {workers}"

        fresh = bytes_to_hex(np.random.default_rng(4).integers(0, 256, (1, 32), dtype=np.uint8))[0]
        added = httpx.post(
            f"{base}/c/bank/SHARED/signal",
            json={"pdq": fresh},
            headers={"Authorization": f"Bearer {curate}"},
            timeout=60,
        )
        assert added.status_code == 200, added.text
        new_id = added.json()["id"]
        # Answered by every worker: 20 lookups in a row (new connections) find it.
        deadline, in_a_row = time.monotonic() + 60, 0
        while in_a_row < 20:
            in_a_row = in_a_row + 1 if raw(fresh) == [new_id] else 0
            assert time.monotonic() < deadline, "the added hash was not answered within 60 s"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)

"""Request bodies are bounded before they are read, and before the sender is known.

The memory test starts ``kaitiaki serve`` as a real subprocess and reads its resident memory
from ``/proc``; the bodies are streamed from a small buffer, so the test never holds them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, make_app

from kaitiaki.store import Store, open_store
from kaitiaki.users import Role, add_user
from nothing_skips import require

MIB = 1024**2
HUGE = 200 * MIB
CHUNK = b" " * MIB  # whitespace: a JSON parser would take all of it before failing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``kaitiaki serve`` over a SQLite store holding an admin; yields (port, pid)."""
    require(Path("/proc/self/status").exists(), "the memory test reads /proc (Linux)")
    url = f"sqlite:///{tmp_path / 'kaitiaki.db'}"
    store = open_store(url)
    add_user(store, "admin-user", Role.ADMIN, PASSWORD, actor="cli:test")
    store.close()
    port = _free_port()
    command = [sys.executable, "-m", "kaitiaki", "serve", "--db", url, "--port", str(port)]
    # The flags the limits and anchors need, so this also checks that ``serve`` takes them.
    flags = ["--work-root", str(tmp_path / "web"), "--anchor-dir", str(tmp_path / "anchors")]
    flags += ["--forwarded-allow-ips", "10.0.0.1"]
    process = subprocess.Popen(
        [*command, *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield port, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _post(
    port: int,
    path: str,
    size: int,
    *,
    chunked: bool,
    headers: str = "",
    around: tuple[bytes, bytes] = (b"", b""),
    content_type: str = "application/json",
) -> int:
    """Send a body of ``size`` bytes from a 1 MiB buffer (between ``around``'s two parts);
    the response's status. A reader thread takes the response as soon as it comes, so the
    server's early answer and close are seen even while the body is still being sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    prefix, suffix = around
    total = len(prefix) + size + len(suffix)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n{framing}\r\n"
    got = bytearray()

    def read() -> None:
        try:
            while b"\r\n" not in got and (data := sock.recv(65536)):
                got.extend(data)
        except OSError:
            pass

    def send(piece: bytes) -> None:
        if piece:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sock.sendall((head + headers + "\r\n").encode())
        send(prefix)
        sent = 0
        while sent < size and not got:
            piece = CHUNK[: size - sent]
            send(piece)
            sent += len(piece)
        if not got:
            send(suffix)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection once it had answered
        pass
    reader.join(120)
    sock.close()
    assert got.startswith(b"HTTP/1.1 "), bytes(got[:100])
    return int(got.split(b" ", 2)[1])


def test_huge_bodies_are_refused_without_being_held(
    server: tuple[int, int], tmp_path: Path
) -> None:
    port, pid = server
    work_root = tmp_path / "web"
    # ``serve --anchor-dir`` anchored the log (it holds the admin's creation) as it started.
    assert list((tmp_path / "anchors").glob("anchor-*.json"))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        signed = client.post("/api/auth/login", json={"name": "admin-user", "password": PASSWORD})
        assert signed.status_code == 200
        cookie = f"kaitiaki_session={client.cookies['kaitiaki_session']}"
        csrf = signed.json()["csrf_token"]
    # Warm the paths once, so the baseline already holds what every request needs.
    assert _post(port, "/api/users", 10, chunked=False) == 401
    before = _rss_mib(pid)
    # Anonymous, with a declared length and then chunked: 401 before a byte is read.
    assert _post(port, "/api/users", HUGE, chunked=False) == 401
    assert _post(port, "/api/users", HUGE, chunked=True) == 401
    # Signed in: the declared length is over the cap (413 at once); a chunked body is cut off
    # at the cap (413 after 1 MiB).
    signed_in = f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"
    assert _post(port, "/api/users", HUGE, chunked=False, headers=signed_in) == 413
    assert _post(port, "/api/users", HUGE, chunked=True, headers=signed_in) == 413
    grown = _rss_mib(pid) - before
    # Before the fix one anonymous 200 MB POST raised the server's memory by about 600 MB.
    assert grown < 50, f"the server's memory grew by {grown:.0f} MiB"
    # An upload (cap 2 GiB) is streamed to the work root, not held: 200 MB of it is received
    # whole, then refused for its bad format field (sent last), and the file removed.
    boundary = "kaitiaki-test-boundary"
    around = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode(),
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\nnope\r\n'
        f"--{boundary}--\r\n".encode(),
    )
    multipart = f"multipart/form-data; boundary={boundary}"
    for chunked in (False, True):
        status = _post(
            port,
            "/api/hashsets",
            HUGE,
            chunked=chunked,
            headers=signed_in,
            around=around,
            content_type=multipart,
        )
        assert status == 422
    grown = _rss_mib(pid) - before
    assert grown < 50, f"the server's memory grew by {grown:.0f} MiB with uploads"
    assert not list((work_root / "uploads").iterdir())


def _admin(store: Store, tmp_path: Path, **settings: object) -> tuple[TestClient, str]:
    add_user(store, "admin-user", Role.ADMIN, PASSWORD, actor="cli:test")
    client = TestClient(make_app(store, tmp_path, **settings))
    signed = client.post("/api/auth/login", json={"name": "admin-user", "password": PASSWORD})
    assert signed.status_code == 200
    return client, str(signed.json()["csrf_token"])


def test_json_bodies_over_the_cap_get_413(sqlite_store: Store, tmp_path: Path) -> None:
    client, csrf = _admin(sqlite_store, tmp_path)
    body = b'{"name": "x", "role": "auditor", "password": "' + b"p" * (2 * MIB) + b'"}'
    response = client.post(
        "/api/users",
        content=body,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than 1048576 bytes" in response.json()["detail"]
    streamed = client.post(
        "/api/users",
        content=iter([CHUNK, CHUNK]),  # no Content-Length: counted as it arrives
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    # A nonsense length is refused as well, not trusted.
    forged = client.post(
        "/api/users",
        content=b"{}",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json", "Content-Length": "-1"},
    )
    assert forged.status_code in (400, 413)


def test_uploads_stream_to_the_work_root_under_their_own_cap(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import starlette.formparsers

    def no_spooling(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upload was spooled by Starlette, not streamed")

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_spooling)
    client, csrf = _admin(sqlite_store, tmp_path, max_upload=3 * MIB)
    uploads = tmp_path / "web" / "uploads"
    hashes = b"".join(b"%032x\n" % i for i in range(70_000))  # 2.3 MB of MD5 lines
    assert MIB < len(hashes) < 3 * MIB
    accepted = client.post(
        "/api/hashsets",
        data={"name": "big-list", "format": "list"},
        files={"file": ("../../escape.txt", hashes)},
        headers={"X-CSRF-Token": csrf},
    )
    assert accepted.status_code == 202, accepted.text
    (kept,) = uploads.iterdir()  # under the work root, named by the server
    assert kept.read_bytes() == hashes and kept.suffix == ".upload"
    assert accepted.json()["kind"] == "import_hash_set"
    refused = client.post(
        "/api/hashsets",
        data={"name": "too-big", "format": "list"},
        files={"file": ("list.txt", hashes * 2)},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 413
    bad_format = client.post(
        "/api/hashsets",
        data={"name": "odd", "format": "exe"},
        files={"file": ("list.txt", b"0" * 32)},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad_format.status_code == 422 and "format" in bad_format.json()["detail"]
    no_file = client.post(
        "/api/hashsets", data={"name": "nothing"}, files={}, headers={"X-CSRF-Token": csrf}
    )
    assert no_file.status_code in (415, 422)
    broken = client.post(
        "/api/hashsets",
        content=b"--b\r\nnot a header line at all",
        headers={"X-CSRF-Token": csrf, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code in (400, 422)
    # Only the accepted upload is left: refused ones are removed.
    assert list(uploads.iterdir()) == [kept]

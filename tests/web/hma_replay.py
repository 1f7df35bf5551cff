"""What the HMA replay (``test_hma_compat_replay.py``) shares: HMA's response shapes, its
test images and its tests/utils.py helpers, over real HTTP."""

from __future__ import annotations

import http.server
import io
import socket
from typing import Any

import httpx
from PIL import Image

from in_process import kaitiaki
from kaitiaki.store import Store
from kaitiaki.web.hma import hashing as hma_hashing

# HMA's response shapes, from its schemas: value types by key ([T]: a list of T).
BANK = {"name": str, "matching_enabled_ratio": float}
MATCH = {"bank_content_id": int, "distance": str}
CONTENT = {"id": int, "disable_until_ts": int, "original_media_uri": type(None), "bank": BANK}
FETCH_STATUS = {
    "checkpoint_ts": (int, type(None)),
    "running_fetch_start_ts": (int, type(None)),
    "last_fetch_complete_ts": (int, type(None)),
    "last_fetch_succeeded": (bool, type(None)),
    "up_to_date": bool,
    "fetched_items": int,
}
INDEX_STATUS = {"present": bool, "built_to": int, "size": int}


def assert_shape(value: Any, shape: Any, where: str = "body") -> None:
    """``value`` has every key of ``shape`` with a value of its type, recursively."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        for key, inner in shape.items():
            assert key in value, f"{where}: no {key!r} in {sorted(value)}"
            assert_shape(value[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for i, item in enumerate(value):
            assert_shape(item, shape[0], f"{where}[{i}]")
    else:
        # JSON has one number type: HMA's 1.0 may come back as 1.
        wanted = (int, float) if shape is float else shape
        assert isinstance(value, wanted), f"{where}: {value!r} is not {shape}"
        assert not (isinstance(value, bool) and shape in (int, float)), f"{where}: a bool"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def checkerboard(cell: int) -> bytes:
    """HMA's tests/utils image_server images: 128x128 checkerboards of two cell sizes."""
    image = Image.new("RGB", (128, 128))
    pixels = image.load()
    assert pixels is not None
    for x in range(128):
        for y in range(128):
            pixels[x, y] = (255, 255, 255) if (x // cell + y // cell) % 2 else (0, 0, 0)
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


class Images(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/huge.jpg":
            # test_hashing.py::test_content_length_validation: a declared length over the cap.
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(hma_hashing.MAX_REMOTE_VIDEO_BYTES + 1))
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_token(store: Store, name: str, *scopes: str) -> str:
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    made = kaitiaki(
        "tokens", "create", name, *args, "--db", store.url, env={"KAITIAKI_USER": "admin"}
    )
    assert made.exit_code == 0, made.stderr
    return str(made.stdout.splitlines()[-1])


def create_bank(client: httpx.Client, name: str) -> None:
    """tests/utils.py create_bank."""
    created = client.post("/c/banks", json={"name": name})
    assert created.status_code == 201
    assert created.json() == {"matching_enabled_ratio": 1.0, "name": name}


def add_hash_to_bank(client: httpx.Client, bank: str, url: str, pdq: str) -> int:
    """tests/utils.py add_hash_to_bank; the content id the server gave."""
    added = client.post(f"/c/bank/{bank}/content", params={"url": url, "content_type": "photo"})
    assert added.status_code == 200, added.text
    assert_shape(added.json(), {"id": int, "signals": {"pdq": str}})
    assert added.json()["signals"]["pdq"] == pdq  # HMA: == {"pdq": pdq}; kaitiaki adds digests
    return int(added.json()["id"])

"""vPDQ through the HMA-compatible API: HMA's ``vpdq`` signal type (threatexchange's vpdq
extension: a JSON list of "hex,quality,timestamp" frames) hashed from a video, banked, looked
up and compared, on generated benign clips (kaitiaki.simulate.video: a pan over a package
photo, and a copy re-encoded by another codec, smaller, at a low bit rate)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kaitiaki.signals import remote
from kaitiaki.signals.vpdq import hash_video
from kaitiaki.signals.vpdq_hma import frames_from_signal, signal_from_frames
from kaitiaki.simulate.video import write_clip, write_copy
from kaitiaki.store import Store
from kaitiaki.users.tokens import create_token
from kaitiaki.web.hma import hashing as hma_hashing

# threatexchange's VpdqCompactFeature.__str__: "<64 hex>,<quality>,<timestamp to 3 digits>".
FRAME = re.compile(r"[0-9a-f]{64},\d{1,3},[0-9.e+-]+")
# HMA's VPDQSimilarityInfo.pretty_str(): "<query %>%[<compared %>%]".
SIMILARITY = re.compile(r"\d+%\[\d+%\]")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}.mp4" for name in ("original", "copy", "other")}
    write_clip(paths["original"], seed=1)
    write_copy(paths["original"], paths["copy"])
    write_clip(paths["other"], seed=2)
    return paths


@pytest.fixture
def headers(store: Store) -> dict[str, str]:
    _view, raw = create_token(store, "video-client", ("hash", "match", "curate"), actor="t:setup")
    return {"Authorization": f"Bearer {raw}"}


def _upload(path: Path, field: str = "video") -> dict[str, tuple[str, bytes, str]]:
    return {field: (path.name, path.read_bytes(), "video/mp4")}


def test_hash_a_video_as_hma_does(
    client: TestClient, headers: dict[str, str], clips: dict[str, Path]
) -> None:
    # HMA's POST /h/hash takes the file in a field named for its content type.
    hashed = client.post("/h/hash", files=_upload(clips["original"]), headers=headers)
    assert hashed.status_code == 200, hashed.text
    body = hashed.json()
    assert set(body) == {"video_md5", "vpdq", "md5", "sha1", "sha256"}
    assert body["video_md5"] == body["md5"]
    frames = json.loads(body["vpdq"])
    assert frames and all(FRAME.fullmatch(f) for f in frames)
    # The same frames the scanner computes (reference PDQ on full frames), in HMA's form.
    scanned = [f.as_list() for f in hash_video(str(clips["original"]))]
    assert body["vpdq"] == signal_from_frames(scanned)
    assert [f[2] for f in frames_from_signal(body["vpdq"])] == [f[2] for f in scanned]

    only = client.post(
        "/h/hash", params={"types": "vpdq"}, files=_upload(clips["original"]), headers=headers
    )
    assert only.json() == {"vpdq": body["vpdq"]}
    # A photo's signal type is not a video's.
    wrong = client.post(
        "/h/hash", params={"types": "pdq"}, files=_upload(clips["original"]), headers=headers
    )
    assert wrong.status_code == 400 and "message" in wrong.json()
    garbage = client.post(
        "/h/hash", files={"video": ("v.mp4", b"not a video", "video/mp4")}, headers=headers
    )
    assert garbage.status_code == 400
    listed = client.get("/c/signal_type", headers=headers).json()
    assert {"name": "vpdq", "enabled_ratio": 1.0} in listed


def test_bank_lookup_and_compare_videos(
    client: TestClient, headers: dict[str, str], clips: dict[str, Path]
) -> None:
    assert client.post("/c/banks", json={"name": "VIDEOS"}, headers=headers).status_code == 201
    added = client.post(
        "/c/bank/VIDEOS/content",
        files=_upload(clips["original"]),
        data={"note": "generated clip"},
        headers=headers,
    )
    assert added.status_code == 200, added.text
    content_id = added.json()["id"]
    assert set(added.json()["signals"]) >= {"vpdq", "video_md5"}
    shown = client.get(
        f"/c/bank/VIDEOS/content/{content_id}",
        params={"include_signals": "true"},
        headers=headers,
    ).json()
    assert shown["signals"]["vpdq"] == added.json()["signals"]["vpdq"]

    def vpdq_of(name: str) -> str:
        hashed = client.post("/h/hash", files=_upload(clips[name]), headers=headers).json()
        return str(hashed["vpdq"])

    copy, other = vpdq_of("copy"), vpdq_of("other")
    # The re-encoded copy: different bytes, so no MD5 match, but its frames match.
    found = client.get(
        "/m/lookup", params={"signal_type": "vpdq", "signal": copy}, headers=headers
    ).json()
    assert list(found) == ["VIDEOS"]
    (match,) = found["VIDEOS"]
    assert match["bank_content_id"] == content_id
    assert SIMILARITY.fullmatch(match["distance"])
    raw = client.get(
        "/m/raw_lookup", params={"signal_type": "vpdq", "signal": copy}, headers=headers
    )
    assert raw.json() == {"matches": [content_id]}
    nothing = client.get(
        "/m/lookup", params={"signal_type": "vpdq", "signal": other}, headers=headers
    )
    assert nothing.json() == {}
    bad = client.get(
        "/m/lookup", params={"signal_type": "vpdq", "signal": '["nope"]'}, headers=headers
    )
    assert bad.status_code == 400

    # POST /m/lookup with the copy uploaded: by signal type, then bank.
    posted = client.post("/m/lookup", files=_upload(clips["copy"]), headers=headers)
    assert posted.status_code == 200, posted.text
    assert posted.json()["vpdq"]["VIDEOS"][0]["bank_content_id"] == content_id
    assert posted.json()["video_md5"] == {}

    # Banking the signal itself, as HMA's /c/bank/<name>/signal takes it.
    assert client.post("/c/banks", json={"name": "SIGNALS"}, headers=headers).status_code == 201
    by_signal = client.post("/c/bank/SIGNALS/signal", json={"vpdq": other}, headers=headers)
    assert by_signal.status_code == 200, by_signal.text
    assert by_signal.json()["signals"] == {"vpdq": other}
    again = client.get(
        "/m/raw_lookup", params={"signal_type": "vpdq", "signal": other}, headers=headers
    )
    assert again.json() == {"matches": [by_signal.json()["id"]]}
    refused = client.post("/c/bank/SIGNALS/signal", json={"vpdq": "[]"}, headers=headers)
    assert refused.status_code == 400

    compared = client.post("/m/compare", json={"vpdq": [copy, other]}, headers=headers)
    assert compared.status_code == 200
    matched, info = compared.json()["vpdq"]
    assert matched is False
    assert set(info) == {"query_match_percent", "compared_match_percent"}
    same = client.post("/m/compare", json={"vpdq": [copy, vpdq_of("original")]}, headers=headers)
    assert same.json()["vpdq"][0] is True


def test_hash_a_video_by_url(
    client: TestClient,
    headers: dict[str, str],
    clips: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(clips["copy"].parent)
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    # The test server is on loopback, which the API refuses: allowed for this one address.
    loopback = functools.partial(remote.fetch, allowed=lambda a: str(a) == "127.0.0.1")
    monkeypatch.setattr(hma_hashing, "fetch", loopback)
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/copy.mp4"
        # Without content_type, the fetched bytes say it is a video.
        hashed = client.get("/h/hash", params={"url": url}, headers=headers)
        assert hashed.status_code == 200, hashed.text
        uploaded = client.post("/h/hash", files=_upload(clips["copy"]), headers=headers)
        assert hashed.json() == uploaded.json()
        typed = client.get(
            "/h/hash",
            params={"url": url, "content_type": "video", "types": "vpdq"},
            headers=headers,
        )
        assert typed.json() == {"vpdq": uploaded.json()["vpdq"]}
        unknown = client.get(
            "/h/hash", params={"url": url, "content_type": "audio"}, headers=headers
        )
        assert unknown.status_code == 400
    finally:
        httpd.shutdown()
        httpd.server_close()

"""The HMA-compatible API replayed as HMA's own tests call it: same paths, parameters, status
codes and JSON shapes (each test names the HMA 1.1 test it mirrors, from
OpenMediaMatch/tests/), over a real store, with API tokens."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from threatexchange.signal_type.pdq.signal import PdqSignal
from web_helpers import bearer, jpeg, photo

from kaitiaki.signals import remote
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent
from kaitiaki.web.hma import hashing as hma_hashing

# threatexchange's PdqSignal.get_examples()[0], the hash HMA's match tests bank and look up.
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def flip(hex_hash: str, bits: int) -> str:
    """``hex_hash`` with its first ``bits`` bits inverted: at Hamming distance ``bits``."""
    value = int(hex_hash, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


@pytest.fixture
def tokens(store: Store) -> dict[str, dict[str, str]]:
    return {
        "curate": bearer(store, "hma-curator", "curate"),
        "match": bearer(store, "hma-matcher", "match"),
        "hash": bearer(store, "hma-hasher", "hash"),
    }


def make_bank(client: TestClient, curate: dict[str, str], name: str, *signals: str) -> list[int]:
    """A bank holding one content item per PDQ signal (HMA's tests/utils create_bank and
    add_hash_to_bank, by signal); the content ids."""
    assert client.post("/c/banks", json={"name": name}, headers=curate).status_code == 201
    ids = []
    for signal in signals:
        added = client.post(f"/c/bank/{name}/signal", json={"pdq": signal}, headers=curate)
        assert added.status_code == 200, added.text
        assert added.json()["signals"] == {"pdq": signal}
        ids.append(added.json()["id"])
    return ids


def test_health_checks_are_public(client: TestClient) -> None:
    # test_api.py::test_status_response and test_status_live_always_alive (index ready).
    for path in ("/status", "/status/live", "/livez", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == b"I-AM-ALIVE"


def test_tokens_and_scopes(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    query = {"signal_type": "pdq", "signal": PDQ}
    anonymous = client.get("/m/raw_lookup", params=query)
    assert anonymous.status_code == 401
    assert "message" in anonymous.json()  # HMA's error shape, not an HTML page
    bad = client.get("/m/raw_lookup", params=query, headers={"Authorization": "Bearer kt_nope"})
    assert bad.status_code == 401
    assert client.get("/m/raw_lookup", params=query, headers=tokens["hash"]).status_code == 403
    assert client.get("/c/banks", headers=tokens["match"]).status_code == 403
    assert client.post("/c/banks", json={"name": "X"}, headers=tokens["match"]).status_code == 403
    assert client.get("/m/raw_lookup", params=query, headers=tokens["match"]).status_code == 200


def test_banks_create_update_delete(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    curate = tokens["curate"]
    # test_api_banks.py::test_banks_empty_index
    empty = client.get("/c/banks", headers=curate)
    assert (empty.status_code, empty.json()) == (200, [])
    # test_banks_create: HMA's name rule, then the created bank's exact shape.
    for bad in ("01_TEST_BANK", "my_test_bank"):
        assert client.post("/c/banks", json={"name": bad}, headers=curate).status_code == 400
    created = client.post("/c/banks", json={"name": "MY_TEST_BANK_01"}, headers=curate)
    assert created.status_code == 201
    assert created.json() == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
    assert client.get("/c/banks", headers=curate).json() == [created.json()]
    again = client.post("/c/banks", json={"name": "MY_TEST_BANK_01"}, headers=curate)
    assert again.status_code == 403
    # test_banks_update: rename (checked), disable, re-enable by ratio.
    put = client.put("/c/bank/MY_TEST_BANK_01", json={"name": "1_invalid"}, headers=curate)
    assert put.status_code == 400
    put = client.put("/c/bank/MY_TEST_BANK_01", json={"name": "RENAMED"}, headers=curate)
    assert (put.status_code, put.json()["name"]) == (200, "RENAMED")
    put = client.put("/c/bank/RENAMED", json={"enabled": False}, headers=curate)
    assert (put.status_code, put.json()["matching_enabled_ratio"]) == (200, 0)
    # kaitiaki banks are on or off: HMA's fractional ratio is refused, not rounded.
    half = client.put("/c/bank/RENAMED", json={"enabled_ratio": 0.5}, headers=curate)
    assert half.status_code == 400
    put = client.put(
        "/c/bank/RENAMED", json={"enabled_ratio": 1, "pdq_threshold": 12}, headers=curate
    )
    assert put.json() == {"name": "RENAMED", "matching_enabled_ratio": 1.0, "pdq_threshold": 12}
    shown = client.get("/c/bank/RENAMED", headers=curate)
    assert (shown.status_code, shown.json()["pdq_threshold"]) == (200, 12)
    assert client.get("/c/bank/MY_TEST_BANK_01", headers=curate).status_code == 404
    assert client.put("/c/bank/NOPE", json={"enabled": True}, headers=curate).status_code == 404
    # test_banks_delete: deleting, and deleting again, both succeed.
    for _ in range(2):
        deleted = client.delete("/c/bank/RENAMED", headers=curate)
        assert (deleted.status_code, deleted.json()) == (200, {"message": "Done"})
    assert client.get("/c/banks", headers=curate).json() == []


def test_lookups_by_threshold_and_bank(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    curate, match = tokens["curate"], tokens["match"]
    # test_match_api.py::client_with_multi_bank_data: one PDQ in each of three banks.
    a, b, c = (make_bank(client, curate, name, PDQ)[0] for name in ("BANK_A", "BANK_B", "BANK_C"))
    query: dict[str, str | bool] = {"signal": PDQ, "signal_type": "pdq"}
    # test_raw_lookup_with_bank_filter
    raw = client.get("/m/raw_lookup", params=query, headers=match)
    assert (raw.status_code, sorted(raw.json()["matches"])) == (200, sorted([a, b, c]))
    raw = client.get("/m/raw_lookup", params={**query, "banks": "BANK_A,BANK_B"}, headers=match)
    assert sorted(raw.json()["matches"]) == sorted([a, b])
    raw = client.get("/m/raw_lookup", params={**query, "banks": "NON_EXISTENT"}, headers=match)
    assert raw.json() == {"matches": []}
    # test_raw_lookup_with_distance_and_bank_filter
    params = {**query, "include_distance": True, "banks": "BANK_A"}
    raw = client.get("/m/raw_lookup", params=params, headers=match)
    assert raw.json() == {"matches": [{"bank_content_id": a, "distance": "0"}]}
    # test_lookup_with_bank_filter
    found = client.get("/m/lookup", params=query, headers=match)
    assert found.status_code == 200
    assert found.json() == {
        "BANK_A": [{"bank_content_id": a, "distance": "0"}],
        "BANK_B": [{"bank_content_id": b, "distance": "0"}],
        "BANK_C": [{"bank_content_id": c, "distance": "0"}],
    }
    found = client.get("/m/lookup", params={**query, "banks": "BANK_A,BANK_C"}, headers=match)
    assert set(found.json()) == {"BANK_A", "BANK_C"}
    # Each bank answers at its own threshold: BANK_A at 10 finds distance 10, not 11;
    # the others keep the default 31.
    client.put("/c/bank/BANK_A", json={"pdq_threshold": 10}, headers=curate)
    near = client.get("/m/lookup", params={**query, "signal": flip(PDQ, 10)}, headers=match)
    assert near.json()["BANK_A"] == [{"bank_content_id": a, "distance": "10"}]
    far = client.get("/m/lookup", params={**query, "signal": flip(PDQ, 11)}, headers=match)
    assert set(far.json()) == {"BANK_B", "BANK_C"}
    beyond = client.get("/m/lookup", params={**query, "signal": flip(PDQ, 32)}, headers=match)
    assert beyond.json() == {}
    # A disabled bank is left out of /m/lookup, but not of /m/raw_lookup (HMA: "enable/disable
    # status is NOT checked"), nor when the caller bypasses the coin flip.
    client.put("/c/bank/BANK_B", json={"enabled": False}, headers=curate)
    assert set(client.get("/m/lookup", params=query, headers=match).json()) == {"BANK_A", "BANK_C"}
    assert len(client.get("/m/raw_lookup", params=query, headers=match).json()["matches"]) == 3
    bypass = client.get("/m/lookup", params={**query, "bypass_coinflip": True}, headers=match)
    assert set(bypass.json()) == {"BANK_A", "BANK_B", "BANK_C"}


def test_lookup_errors_and_exact_signals(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    curate, match = tokens["curate"], tokens["match"]
    make_bank(client, curate, "EXACT")
    added = client.post("/c/bank/EXACT/signal", json={"video_md5": MD5.upper()}, headers=curate)
    assert added.json()["signals"] == {"video_md5": MD5}
    # kaitiaki's md5 and HMA's video_md5 are the same digest of the file's bytes.
    for signal_type in ("video_md5", "md5"):
        found = client.get(
            "/m/lookup", params={"signal": MD5, "signal_type": signal_type}, headers=match
        )
        assert found.json() == {"EXACT": [{"bank_content_id": added.json()["id"], "distance": "0"}]}
    bad = {"signal": "zz", "signal_type": "pdq"}
    assert client.get("/m/raw_lookup", params=bad, headers=match).status_code == 400
    unknown = {"signal": PDQ, "signal_type": "tmk"}
    assert client.get("/m/lookup", params=unknown, headers=match).status_code == 400
    missing = client.get("/m/lookup", params={"signal": PDQ}, headers=match)
    assert missing.status_code == 400
    assert missing.json() == {"message": "Either url or both signal and signal_type are required"}
    for body in ({}, {"pdq": "nothex"}, {"tmk": PDQ}, {"video_md5": MD5, "md5": "0" * 32}):
        response = client.post("/c/bank/EXACT/signal", json=body, headers=curate)
        assert response.status_code == 400, body
    assert client.post("/c/bank/NOPE/signal", json={"pdq": PDQ}, headers=curate).status_code == 404
    # GET /m/index/status: one entry per signal type with HMA's keys.
    status = client.get("/m/index/status", headers=match).json()
    assert status["video_md5"]["size"] == 1 and status["video_md5"]["present"] is True
    pdq = status["pdq"]
    assert (pdq["present"], pdq["built_to"], pdq["size"]) == (False, -1, 0)
    # kaitiaki's addition: each enabled bank's served index, its version and age.
    exact = next(b for b in pdq["banks"] if b["bank"] == "EXACT")
    assert exact["current"] is True and exact["version"] >= 1 and exact["size"] == 0
    assert exact["age_s"] >= 0 and isinstance(exact["base_built_at"], int)
    one = client.get("/m/index/status", params={"signal_type": "pdq"}, headers=match)
    assert list(one.json()) == ["pdq"]
    assert (
        client.get("/m/index/status", params={"signal_type": "x"}, headers=match).status_code == 400
    )


def test_content_and_audit(
    client: TestClient, tokens: dict[str, dict[str, str]], store: Store
) -> None:
    curate, match = tokens["curate"], tokens["match"]
    # test_api_banks.py::test_bank_get_content_404: no bank, then no content.
    assert client.get("/c/bank/TEST_BANK_GET/content/1", headers=curate).status_code == 404
    (content_id,) = make_bank(client, curate, "TEST_BANK_GET", PDQ)
    assert (
        client.get(f"/c/bank/TEST_BANK_GET/content/{content_id + 9}", headers=curate).status_code
        == 404
    )
    # test_bank_get_content / test_bank_get_content_with_signals
    got = client.get(f"/c/bank/TEST_BANK_GET/content/{content_id}", headers=curate)
    assert got.status_code == 200
    assert got.json() == {
        "id": content_id,
        "disable_until_ts": 1,
        "original_media_uri": None,
        "bank": {"name": "TEST_BANK_GET", "matching_enabled_ratio": 1.0},
    }
    params = {"include_signals": "true"}
    got = client.get(f"/c/bank/TEST_BANK_GET/content/{content_id}", params=params, headers=curate)
    assert got.json()["signals"] == {"pdq": PDQ}
    # test_banks_delete_content; the bank then matches nothing (its index rebuilt).
    query = {"signal": PDQ, "signal_type": "pdq"}
    assert client.get("/m/lookup", params=query, headers=match).json() != {}
    deleted = client.delete(f"/c/bank/TEST_BANK_GET/content/{content_id}", headers=curate)
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": 1})
    again = client.delete(f"/c/bank/TEST_BANK_GET/content/{content_id}", headers=curate)
    assert again.json() == {"deleted": 0}
    assert client.get("/m/lookup", params=query, headers=match).json() == {}
    # Signal and content types (curation.py get_all_signal_types / get_all_content_types).
    types = client.get("/c/signal_type", headers=curate).json()
    assert {"name": "pdq", "enabled_ratio": 1.0} in types
    assert {t["name"] for t in types} >= {"pdq", "video_md5", "md5", "sha1", "sha256"}
    content = client.get("/c/content_type", headers=curate).json()
    assert {"name": "photo", "enabled": True} in content
    # Every curation change is audited under the token's name.
    with store.session() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.actor == "token:hma-curator")
                .order_by(AuditEvent.id)
            )
        )
    # Adding the entry also queued the bank's retroactive match, as the same token.
    assert actions == [
        "hashset.created",
        "hashset.entry_added",
        "job_submitted",
        "hashset.entry_removed",
    ]


def test_hash_and_lookup_an_uploaded_photo(
    client: TestClient, tokens: dict[str, dict[str, str]], store: Store
) -> None:
    original = jpeg(photo("astronaut"))
    rotated = jpeg(photo("astronaut").transpose(Image.Transpose.ROTATE_90))
    # HMA's POST /h/hash (test_hashing.py posts a file the same way): the PDQ agrees with HMA's
    # own hasher, threatexchange's PdqSignal, bit for bit.
    hashed = client.post("/h/hash", files={"photo": ("a.jpg", original)}, headers=tokens["hash"])
    assert hashed.status_code == 200, hashed.text
    assert hashed.json()["pdq"] == PdqSignal.hash_from_bytes(original)
    assert set(hashed.json()) == {"pdq", "md5", "sha1", "sha256"}
    only = client.post(
        "/h/hash",
        params={"types": "pdq"},
        files={"photo": ("a.jpg", original)},
        headers=tokens["hash"],
    )
    assert list(only.json()) == ["pdq"]
    assert (
        client.post(
            "/h/hash", files={"photo": ("a.jpg", original)}, headers=tokens["match"]
        ).status_code
        == 403
    )
    not_image = client.post(
        "/h/hash", files={"photo": ("a.jpg", b"not an image")}, headers=tokens["hash"]
    )
    assert not_image.status_code == 400
    wrong_field = client.post(
        "/h/hash", files={"file": ("a.jpg", original)}, headers=tokens["hash"]
    )
    assert wrong_field.status_code == 400
    # POST /m/lookup (test_api.py::test_lookup_success, by file): by signal type, then bank.
    (content_id,) = make_bank(client, tokens["curate"], "PHOTOS", hashed.json()["pdq"])
    found = client.post("/m/lookup", files={"photo": ("a.jpg", original)}, headers=tokens["match"])
    assert found.json()["pdq"] == {"PHOTOS": [{"bank_content_id": content_id, "distance": "0"}]}
    # A rotated copy is found only when the caller opts in to dihedral querying.
    upload = {"photo": ("r.jpg", rotated)}
    plain = client.post("/m/lookup", files=upload, headers=tokens["match"])
    assert plain.json()["pdq"] == {}
    turned = client.post(
        "/m/lookup", params={"dihedral": True}, files=upload, headers=tokens["match"]
    )
    assert [m["bank_content_id"] for m in turned.json()["pdq"]["PHOTOS"]] == [content_id]
    # test_api_banks.py::test_banks_add_content, by file: the id and the signals banked.
    banked = client.post(
        "/c/bank/PHOTOS/content", files={"photo": ("r.jpg", rotated)}, headers=tokens["curate"]
    )
    assert banked.status_code == 200, banked.text
    assert banked.json()["signals"]["pdq"] == PdqSignal.hash_from_bytes(rotated)
    found = client.post("/m/lookup", files=upload, headers=tokens["match"])
    assert found.json()["pdq"]["PHOTOS"][0] == {
        "bank_content_id": banked.json()["id"],
        "distance": "0",
    }
    # Hashing and looking up change nothing, so they write no audit entry (the POSTs that
    # test_web_every_change_audited leaves out as READ_ONLY).
    with store.session() as session:
        actors = set(session.scalars(select(AuditEvent.actor)))
    assert {"token:hma-hasher", "token:hma-matcher"}.isdisjoint(actors)


def test_compare_hashes(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    # test_api.py::test_compare_hashes: HMA's specimens, 9 bits apart, then its bad inputs.
    specimen1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
    specimen2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"
    match = tokens["match"]
    resp = client.post("/m/compare", json={"pdq": [specimen1, specimen2]}, headers=match)
    assert resp.json() == {"pdq": [True, {"distance": 9}]}
    far = client.post("/m/compare", json={"pdq": [PDQ, flip(PDQ, 32)]}, headers=match)
    assert far.json() == {"pdq": [False, {"distance": 32}]}
    same = client.post("/m/compare", json={"md5": [MD5, MD5.upper()]}, headers=match)
    assert same.json() == {"md5": [True, {}]}
    bad_inputs = [
        ["banana"],
        {"pdq": "banana"},
        {"pdq": []},
        {"pdq": ["banana", "banana"]},
        {"pdq": [specimen1, specimen2, specimen1]},
    ]
    for bad_input in bad_inputs:
        assert client.post("/m/compare", json=bad_input, headers=match).status_code == 400


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server of one photo, as HMA's tests/utils image_server."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "image1.jpg").write_bytes(jpeg(photo("astronaut")))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_hash_and_lookup_by_url(
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    image_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"{image_server}/image1.jpg"
    # The server's own network is never fetched (SSRF): the test server is on loopback.
    refused = client.get("/h/hash", params={"url": url}, headers=tokens["hash"])
    assert refused.status_code == 400
    assert "unsafe" in refused.json()["message"]
    metadata = {"url": "http://169.254.169.254/latest/meta-data/"}
    assert client.get("/h/hash", params=metadata, headers=tokens["hash"]).status_code == 400
    # Let loopback through for this test only, to see the rest of the path work.
    loopback = functools.partial(remote.fetch, allowed=lambda a: str(a) == "127.0.0.1")
    monkeypatch.setattr(hma_hashing, "fetch", loopback)
    # test_api.py::test_lookup_success (GET /m/lookup?url=) and HMA's GET /h/hash?url=.
    hashed = client.get("/h/hash", params={"url": url}, headers=tokens["hash"])
    assert hashed.status_code == 200, hashed.text
    assert hashed.json()["pdq"] == PdqSignal.hash_from_bytes(jpeg(photo("astronaut")))
    (content_id,) = make_bank(client, tokens["curate"], "URLS", hashed.json()["pdq"])
    found = client.get("/m/lookup", params={"url": url}, headers=tokens["match"])
    assert found.json()["pdq"] == {"URLS": [{"bank_content_id": content_id, "distance": "0"}]}
    one = client.get(
        "/m/lookup", params={"url": url, "signal_type": "pdq"}, headers=tokens["match"]
    )
    assert one.json() == {"URLS": [{"bank_content_id": content_id, "distance": "0"}]}
    missing = client.get(
        "/h/hash", params={"url": f"{image_server}/none.jpg"}, headers=tokens["hash"]
    )
    assert missing.status_code == 400

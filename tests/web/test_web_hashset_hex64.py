"""The web import of a hash set refuses a bare 64-hex value nobody said how to read, as the
command line does, before any job is queued; the form offers the choice (issue 18)."""

from __future__ import annotations

from pathlib import Path

from web_helpers import add_role_user, make_app, sign_in

from kaitiaki.jobs import list_jobs
from kaitiaki.store import Store
from kaitiaki.users import Role

PDQS = "".join(f"{i:02x}" * 32 + "\n" for i in range(1, 4))


def test_an_undecided_pdq_list_is_refused_with_422_naming_the_line(
    sqlite_store: Store, tmp_path: Path
) -> None:
    client, csrf = sign_in(
        make_app(sqlite_store, tmp_path), add_role_user(sqlite_store, Role.ADMIN)
    )
    uploads = tmp_path / "web" / "uploads"

    def upload(**fields: str) -> tuple[int, dict[str, object]]:
        response = client.post(
            "/api/hashsets",
            data={"name": "partner-pdq", **fields},
            files={"file": ("partner list.txt", b"# from a partner\n" + PDQS.encode())},
            headers={"X-CSRF-Token": csrf},
        )
        return response.status_code, response.json()

    status, body = upload()
    assert status == 422
    assert body["detail"] == (
        "partner_list.txt: line 2: 64 hex digits can be a SHA-256 or a PDQ hash; say which "
        'with "64-hex values are" on the import form, hex64=sha256|pdq in the API (or prefix '
        "the value sha256:/pdq:)"
    )
    assert not list(uploads.iterdir()) and list_jobs(sqlite_store) == []
    status, body = upload(hex64="md5")
    assert status == 422 and "hex64: one of sha256, pdq" in str(body["detail"])
    status, body = upload(hex64="pdq")
    assert status == 202, body
    (job,) = list_jobs(sqlite_store)
    assert job.params["hex64"] == "pdq"


def test_the_import_form_offers_the_choice(sqlite_store: Store, tmp_path: Path) -> None:
    client, _ = sign_in(make_app(sqlite_store, tmp_path), add_role_user(sqlite_store, Role.ADMIN))
    page = client.get("/hashsets")
    assert page.status_code == 200
    assert 'name="hex64" data-testid="hashset-hex64"' in page.text
    assert '<option value="pdq">PDQ</option>' in page.text


def test_the_format_is_told_by_the_name_the_client_gave(
    sqlite_store: Store, tmp_path: Path
) -> None:
    client, csrf = sign_in(
        make_app(sqlite_store, tmp_path), add_role_user(sqlite_store, Role.ADMIN)
    )
    sent = client.post(
        "/api/hashsets",
        data={"name": "partner-csv"},
        files={"file": ("partner.csv", b"MediaID,Hash\n1," + PDQS.split()[0].encode() + b"\n")},
        headers={"X-CSRF-Token": csrf},
    )
    assert sent.status_code == 422
    assert str(sent.json()["detail"]).startswith("partner.csv: row 1 (line 2): 64 hex digits")
    vics = client.post(
        "/api/hashsets",
        data={"name": "partner-vics"},
        files={"file": ("partner.json", b'{"value": []}')},
        headers={"X-CSRF-Token": csrf},
    )
    assert vics.status_code == 202, vics.text
    (job,) = list_jobs(sqlite_store)
    assert job.params["format"] == "vics"

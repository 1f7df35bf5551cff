"""`kaitiaki keys trust add --jurisdiction` and `kaitiaki outcomes import` of a signed outcome
file, as the lead unit's operator runs them; the CSV import beside it is unchanged."""

from __future__ import annotations

from pathlib import Path

import typer
from outcome_samples import AFP, REF, document, key, rows, seed, step
from typer.testing import CliRunner, Result

from kaitiaki.cli import keys, tracking
from kaitiaki.refer.outcome_file import write_outcome_file
from kaitiaki.refer.signing import fingerprint_hex, group_fingerprint, load_public
from kaitiaki.store import open_store


def _app() -> typer.Typer:
    app = typer.Typer()
    tracking.register(app)
    keys.register(app)
    return app


def test_trust_with_a_jurisdiction_then_import_a_signed_outcome_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lead.db'}"
    store = open_store(url)
    seed(store)
    afp, public = key(tmp_path, "afp")
    app, runner = _app(), CliRunner()

    def cli(*args: str) -> Result:
        return runner.invoke(app, [*args, "--db", url], env={"KAITIAKI_USER": "ops.lead"})

    added = cli("keys", "trust", "add", "AFP", str(public), "--jurisdiction", f"AU:{AFP}")
    assert added.exit_code == 0, added.output
    assert f"answers for AU:{AFP}" in added.stdout
    assert f"answers for AU:{AFP}" in cli("keys", "trust", "list").stdout
    bad = cli("keys", "trust", "add", "X", str(public), "--jurisdiction", "Australia")
    assert bad.exit_code == 1 and "must be COUNTRY:AGENCY" in bad.stderr

    path = tmp_path / "outcome.json"
    steps = [
        step("received", "2026-11-02"),
        step("arrest", "2026-11-21", "S1", 2),
        step("children_safeguarded", "2026-11-22", "S1", 3),
    ]
    write_outcome_file(path, document(steps), afp)
    done = cli("outcomes", "import", str(path))
    assert done.exit_code == 0, done.output
    digest = group_fingerprint(fingerprint_hex(load_public(public)))
    assert f"verified: signed by AFP ({digest})" in done.stdout
    assert (
        f"referral {REF}: 3 new step(s), status acknowledged -> arrest (now arrest); "
        "2 arrested, 3 children safeguarded" in done.stdout
    )
    figures = cli("stats")
    assert figures.exit_code == 0, figures.output
    assert "no further action" in figures.stdout and "children safeguarded" in figures.stdout
    before = rows(store)
    again = cli("outcomes", "import", str(path), "--key", str(public))
    assert again.exit_code == 0, again.output
    assert "already imported: nothing changed" in again.stdout
    assert rows(store) == before

    # Refused: a file for the referral from a key the trust store does not hold.
    stranger, _ = key(tmp_path, "stranger")
    forged = tmp_path / "forged.json"
    write_outcome_file(forged, document(steps), stranger)
    refused = cli("outcomes", "import", str(forged))
    assert refused.exit_code == 1 and "not signed by any key in the trust store" in refused.stderr
    assert rows(store) == before

    # A CSV still goes the CSV way; --key means nothing for it.
    sheet = tmp_path / "outcomes.csv"
    sheet.write_text(f"referral_id,subject_id,children_safeguarded,note\n{REF},S1,1,later\n")
    assert cli("outcomes", "import", str(sheet), "--key", str(public)).exit_code == 2
    csv = cli("outcomes", "import", str(sheet))
    assert csv.exit_code == 0, csv.output
    assert "imported 1 row(s)" in csv.stdout
    store.close()

"""An operation folder: ``kaitiaki init`` lays it out, every command run in it takes its
settings as defaults, a flag or the environment overrides them, ``config show`` says which."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
import typer

from in_process import kaitiaki
from kaitiaki.cli.app import _register, app
from kaitiaki.cli.config import BINDINGS, commands
from kaitiaki.config import ConfigError, load_config


def _init(folder: Path, *args: str) -> None:
    result = kaitiaki("init", str(folder), *args)
    assert result.exit_code == 0, result.output


def test_init_lays_out_the_folder_and_keeps_secrets_out_of_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "op-h"
    _init(folder, "--name", 'Operation "H"', "--keys", "--reporter-name", "Ana Lyst")
    settings = tomllib.loads((folder / "kaitiaki.toml").read_text())
    assert settings["operation"]["name"] == 'Operation "H"'
    assert settings["reporter"]["name"] == "Ana Lyst"
    for name in ("analysis", "referrals", "reports", "evidence", "work", "keys"):
        assert (folder / name).is_dir(), name
    assert stat.S_IMODE((folder / "keys").stat().st_mode) == 0o700
    for secret in ("signing.pem", "pointer.key", "operation.key"):
        assert stat.S_IMODE((folder / "keys" / secret).stat().st_mode) == 0o600, secret
    text = (folder / "kaitiaki.toml").read_text()
    for secret in ("pointer.key", "operation.key"):
        assert (folder / "keys" / secret).read_text().strip() not in text
    config = load_config(folder / "kaitiaki.toml")
    assert config.get("store.url") == f"sqlite:///{folder.resolve() / 'kaitiaki.db'}"
    assert config.get("keys.pointer") == folder.resolve() / "keys" / "pointer.key"


def test_init_without_keys_names_none_and_never_overwrites(tmp_path: Path) -> None:
    _init(tmp_path / "op")
    config = load_config(tmp_path / "op" / "kaitiaki.toml")
    assert config.get("keys.signing") is None and not list((tmp_path / "op" / "keys").iterdir())
    again = kaitiaki("init", str(tmp_path / "op"), "--keys")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert not list((tmp_path / "op" / "keys").iterdir())


def test_a_password_in_the_store_url_is_refused(tmp_path: Path) -> None:
    result = kaitiaki("init", str(tmp_path / "op"), "--db", "postgresql://kai:s3cret@db/test")
    assert result.exit_code == 2 and "password" in result.stderr and "s3cret" not in result.stderr
    assert not (tmp_path / "op" / "kaitiaki.toml").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[store]\nurl = 'sqlite:///x.db'\nurll = 'y'\n", "unknown setting 'store.urll'"),
        ("[paths]\nanalysis = 3\n", "paths.analysis must be a string"),
        ("[hashsets]\ndefault = 'vics'\n", "hashsets.default must be a list"),
        ("[store\nurl = 1\n", "not valid TOML"),
        ("name = 'x'\n", "must be a [section]"),
        ("[store]\nurl = 'postgresql://u:pw@h/db'\n", "holds a password"),
    ],
)
def test_a_bad_settings_file_is_named_with_what_is_wrong(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "kaitiaki.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"kaitiaki\.toml") as caught:
        load_config(path)
    assert says in str(caught.value)
    result = kaitiaki("--config", str(path), "hashset", "list")
    assert result.exit_code == 2 and says in result.stderr


def test_commands_in_the_folder_or_below_use_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "op"
    _init(folder)
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    monkeypatch.chdir(folder / "analysis")  # a subfolder belongs to the operation too
    assert kaitiaki("series", "add", "S1").exit_code == 0
    assert (folder / "kaitiaki.db").exists() and not (folder / "analysis" / "kaitiaki.db").exists()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert kaitiaki("series", "add", "S2", "--db", other).exit_code == 0  # a flag overrides
    listed = kaitiaki("series", "list").stdout
    assert "S1" in listed and "S2" not in listed
    assert "S2" in kaitiaki("series", "list", env={"KAITIAKI_DB": other}).stdout


def test_config_and_the_environment_select_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init(tmp_path / "op", "--name", "Operation K")
    monkeypatch.chdir(tmp_path)
    assert "no settings file" in kaitiaki("config", "show").stdout
    path = str(tmp_path / "op" / "kaitiaki.toml")
    for result in (
        kaitiaki("--config", path, "config", "show"),
        kaitiaki("config", "show", env={"KAITIAKI_CONFIG": path}),
    ):
        assert result.exit_code == 0, result.output
        assert f"settings: {path}" in result.stdout
        assert "Operation K" in result.stdout


def test_config_show_names_each_source_and_never_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init(tmp_path / "op", "--keys")
    monkeypatch.chdir(tmp_path / "op")
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    env = {"KAITIAKI_POINTER_KEY": "pointer-secret-value", "KAITIAKI_REPORTER_NAME": "Ana"}
    shown = kaitiaki("config", "show", env=env).stdout
    lines = {line.split()[0]: line for line in shown.splitlines()[1:]}
    assert lines["store.url"].endswith("kaitiaki.toml")
    assert "environment KAITIAKI_POINTER_KEY" in lines["keys.pointer"]
    assert "pointer-secret-value" not in shown
    assert "Ana" in lines["reporter.name"] and "environment" in lines["reporter.name"]
    assert lines["reporter.email"].endswith("not set")


def test_every_bound_option_exists() -> None:
    """A renamed option or command would silently stop taking the folder's setting."""
    if not app.registered_groups:
        _register()
    tree = {path: command for path, command in commands(typer.main.get_command(app))}
    for key, bindings in BINDINGS.items():
        for binding in bindings:
            command = tree.get(binding.command)
            assert command is not None, f"{key}: no command {' '.join(binding.command)}"
            names = {param.name for param in command.params}
            assert binding.param in names, (
                f"{key}: {' '.join(binding.command)} has no {binding.param}"
            )


def test_from_make_demo_to_a_referral_a_report_and_a_triage_report_without_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    folder = tmp_path / "demo"
    made = kaitiaki("demo", "--out", str(folder), "--workers", "1")
    assert made.exit_code == 0, made.output
    assert "kaitiaki refer" in made.stdout
    monkeypatch.chdir(folder)
    referred = kaitiaki("refer")
    assert referred.exit_code == 0, referred.output
    packages = [p for p in (folder / "referrals").iterdir() if p.is_dir()]
    assert packages and all((p / "manifest.json").exists() for p in packages)
    subject = (folder / "analysis" / "subjects.csv").read_text().splitlines()[1].split(",")[0]
    reported = kaitiaki("report", "cybertipline", "--subject", subject)
    assert reported.exit_code == 0, reported.output
    assert "valid against NCMEC's schema" in reported.stdout
    triaged = kaitiaki("triage", "--evidence", "demo-sample")
    assert triaged.exit_code == 0, triaged.output
    assert (folder / "reports" / "triage-demo-sample.html").exists()


def _subject_ids(analysis: Path) -> list[str]:
    lines = (analysis / "subjects.csv").read_text().splitlines()[1:]
    return sorted(line.split(",")[0] for line in lines)


def test_the_folders_operation_key_namespaces_subject_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaitiaki.simulate.operation import simulate_operation

    folder = tmp_path / "op"
    _init(folder, "--keys")
    export = simulate_operation(
        tmp_path / "export", accounts=80, flagged_accounts=12, events=1500, seed=3
    )
    monkeypatch.chdir(folder)
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    monkeypatch.delenv("KAITIAKI_OPERATION_KEY", raising=False)
    imported = kaitiaki(
        "hashset", "import", str(tmp_path / "export" / "hashset.json"), "--name", "op"
    )
    assert imported.exit_code == 0, imported.output
    inputs = [
        *(
            a
            for p in export.files.values()
            if p.name.startswith("records.")
            for a in ("-r", str(p))
        ),
        "--accounts",
        str(tmp_path / "export" / "accounts.csv"),
        "--catalog",
        str(tmp_path / "export" / "catalog.csv"),
    ]
    keyed = kaitiaki("operation", "analyse", *inputs)  # out and key file from the folder
    assert keyed.exit_code == 0, keyed.output
    secret = (folder / "keys" / "operation.key").read_text().strip()
    by_flag = kaitiaki("operation", "analyse", *inputs, "--key", secret, "--out", "by-flag")
    unkeyed = kaitiaki("operation", "analyse", *inputs, "--key", "kaitiaki-operation", "-o", "u")
    assert by_flag.exit_code == 0 and unkeyed.exit_code == 0
    ids = _subject_ids(folder / "analysis")
    assert ids and ids == _subject_ids(folder / "by-flag")
    assert set(ids).isdisjoint(_subject_ids(folder / "u"))
    missing = kaitiaki("operation", "analyse", *inputs, "--key-file", "keys/none.key", "-o", "m")
    assert missing.exit_code != 0 and "keys/none.key" in missing.output


def test_the_servers_jobs_read_the_keys_serve_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kaitiaki serve`` hands the folder's keys to its jobs through their environment."""
    from kaitiaki.operation.secret import UNKEYED, OperationKeyError, server_operation_key
    from kaitiaki.refer.signing import default_key_path

    monkeypatch.delenv("KAITIAKI_OPERATION_KEY", raising=False)
    monkeypatch.delenv("KAITIAKI_OPERATION_KEY_FILE", raising=False)
    assert server_operation_key() == UNKEYED
    key = tmp_path / "operation.key"
    key.write_text("s3cret\n")
    monkeypatch.setenv("KAITIAKI_OPERATION_KEY_FILE", str(key))
    assert server_operation_key() == b"s3cret"
    monkeypatch.setenv("KAITIAKI_OPERATION_KEY", "from-env")
    assert server_operation_key() == b"from-env"
    monkeypatch.delenv("KAITIAKI_OPERATION_KEY")
    key.write_text("")
    with pytest.raises(OperationKeyError, match="is empty"):
        server_operation_key()
    monkeypatch.setenv("KAITIAKI_SIGNING_KEY", str(tmp_path / "signing.pem"))
    assert default_key_path() == tmp_path / "signing.pem"


def test_the_default_hash_sets_are_what_match_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init(tmp_path / "op", "--hash-set", "partner-set")
    monkeypatch.chdir(tmp_path / "op")
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    result = kaitiaki("match", "pdq:" + "f" * 64)
    assert result.exit_code != 0 and "no hash set named 'partner-set'" in result.output

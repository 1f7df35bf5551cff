"""Fresh, migrated stores for tests, copied from one store migrated once per test process.

Running the migrations took ~0.2 s on SQLite and ~0.45 s on PostgreSQL, once per test that
opens a store: several hundred times a run, a minute and a half of CI's twenty. A copy takes a
few milliseconds on SQLite (the backup API) and ~0.1 s on PostgreSQL (the template schema's
``pg_dump``, replayed into a new schema). Every test still runs on a schema the migrations made;
``tests/store`` checks the migrations themselves. Where the copy cannot be made (no
``pg_dump``, or one that refuses this server's version), the store is migrated as before.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from kaitiaki.store import open_store


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="kaitiaki-template-"))
    path = folder / "kaitiaki.db"
    open_store(f"sqlite:///{path}").close()
    return path


def migrated_sqlite(target: Path) -> str:
    """The URL of a migrated, empty SQLite store at ``target``."""
    source = sqlite3.connect(_sqlite_template())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # whole and consistent whatever the template's journal holds
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"


# Neither owners, grants nor comments: the copy belongs to whoever runs the tests.
PLAIN = ("--no-owner", "--no-privileges", "--no-comments")
# Stands in for the new schema's name in the dumped SQL; no table or column holds it.
_PLACEHOLDER = "kaitiaki_template_schema_placeholder"


@functools.cache
def _postgres_script(server_url: str) -> str | None:
    """The SQL that makes a migrated, empty schema named ``_PLACEHOLDER``; None when pg_dump
    is missing or fails."""
    dump = shutil.which("pg_dump")
    if dump is None:
        return None
    schema = f"t_template_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        open_store(f"{server_url}?options=-csearch_path%3D{schema}").close()
        done = subprocess.run(
            [dump, "--dbname", server_url, "--schema", schema, "--inserts", *PLAIN],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    if done.returncode != 0 or f"CREATE SCHEMA {schema};" not in done.stdout:
        return None
    # psql's own commands (pg_dump's \restrict lines) are not SQL; comments are left out.
    lines = [x for x in done.stdout.splitlines() if x and not x.startswith(("\\", "--"))]
    return "\n".join(lines).replace(schema, _PLACEHOLDER)


def migrated_postgres_schema(server_url: str, schema: str) -> bool:
    """Create ``schema`` as a migrated, empty store; False when only migrating can do it."""
    import psycopg

    script = _postgres_script(server_url)
    if script is None:
        return False
    with psycopg.connect(server_url, autocommit=True) as conn:
        # One transaction: a schema is there whole or not at all.
        conn.execute(f"BEGIN;\n{script.replace(_PLACEHOLDER, schema)};\nCOMMIT;".encode())
    return True

"""``kaitiaki serve``: the operation room, a multi-user web application over the store."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kaitiaki.cli.options import DbOption

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

console = Console()


def server_config(
    app: FastAPI, host: str, port: int, forwarded_allow_ips: str | None, access_log: bool = True
) -> uvicorn.Config:
    """uvicorn's settings. X-Forwarded-For/-Proto are believed only from the proxies named in
    ``forwarded_allow_ips`` (uvicorn's proxy-headers middleware then makes the real client the
    request's peer, which the sign-in limits key on); with none named, never: any client could
    send them and spread its guesses over invented addresses."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=access_log,
    )


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(help="Mark cookies Secure and send HSTS (behind a TLS proxy)."),
    ] = False,
    demo: Annotated[
        Path | None,
        typer.Option(
            help="Prepare (once) a demo operation and an admin account in this folder, "
            "then serve it.",
            file_okay=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-root",
            "--data-dir",
            help="Work folder: uploads and job outputs; jobs from the web write nowhere else.",
            file_okay=False,
        ),
    ] = None,
    evidence_root: Annotated[
        list[Path] | None,
        typer.Option(
            help="A folder jobs from the web may read evidence from (repeat for several); "
            "none: the web refuses scans and analyses. The CLI is not limited by it.",
            metavar="DIR",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    job_workers: Annotated[
        int, typer.Option(help="Background jobs run at once (in a child process).", min=1)
    ] = 2,
    job_memory_gb: Annotated[
        float | None,
        typer.Option(
            help="Most memory one background job may use (GiB of address space); a job that "
            "asks for more fails with the reason instead of exhausting the machine.",
            min=0.5,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated addresses or networks of the TLS proxies in front of the "
            "server: X-Forwarded-For and -Proto are believed from these only.",
        ),
    ] = None,
    anchor_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write an audit anchor (the log's head) here on a schedule; the web's "
            "verification checks the newest. Use storage the database's writers cannot change.",
            file_okay=False,
        ),
    ] = None,
    anchor_every: Annotated[
        int, typer.Option(help="Minutes between audit anchors (with --anchor-dir).", min=1)
    ] = 15,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            help="Private key that signs outcome files downloaded from the web "
            "(default: the keys folder's, as `kaitiaki keys generate` writes it).",
            dir_okay=False,
        ),
    ] = None,
    operation_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the secret that namespaces subject ids in analyses run from "
            "the web ($KAITIAKI_OPERATION_KEY, when set, is used instead).",
            dir_okay=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes accepting on the port (they share each bank's index "
            "files); background jobs and anchors still run once, in the parent.",
            min=1,
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log a line per request (a busy matching client: thousands a second; every "
            "change is in the audit log either way)."
        ),
    ] = True,
    db: DbOption = None,
) -> None:
    """Serve the web application (JSON API under /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from kaitiaki.operation.secret import KEY_FILE_ENV
    from kaitiaki.refer.signing import SIGNING_KEY_ENV
    from kaitiaki.store import open_store
    from kaitiaki.web.app import create_app
    from kaitiaki.web.settings import WebSettings

    if demo is not None and db is None:
        demo.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{demo.resolve() / 'kaitiaki.db'}"
    store = open_store(db)
    folder = data_dir or Path("kaitiaki-web")
    roots = list(evidence_root or [])
    if demo is not None:
        from kaitiaki.web.demo import demo_evidence_roots, prepare_demo

        with console.status("preparing the demo operation (first run takes a minute)"):
            config = prepare_demo(store, demo, say=console.print)
        # The demo folder's own settings, as if the server were started inside it.
        work, key = config.get("paths.work"), config.get("keys.signing")
        folder = data_dir or (work if isinstance(work, Path) else demo / "work")
        roots = roots or demo_evidence_roots(config)
        if signing_key is None and isinstance(key, Path):
            signing_key = key
        secret = config.get("operation.key_file")
        if operation_key_file is None and isinstance(secret, Path):
            operation_key_file = secret
    if not roots:
        console.print(
            "no --evidence-root: scans and analyses from the web are refused "
            "(the command line is not limited)"
        )
    settings = WebSettings(
        secure_cookies=secure_cookies,
        job_workers=job_workers,
        job_memory_limit=None if job_memory_gb is None else int(job_memory_gb * 2**30),
        data_dir=folder,
        evidence_roots=tuple(roots),
        anchor_dir=anchor_dir,
        anchor_every=timedelta(minutes=anchor_every),
    )
    if signing_key is not None:
        settings = dataclasses.replace(settings, signing_key=signing_key)
        # Jobs sign referral packages in child processes: the same key, through their
        # environment (never through a job's parameters, which a request could set).
        os.environ[SIGNING_KEY_ENV] = str(signing_key.resolve())
    if operation_key_file is not None:
        os.environ[KEY_FILE_ENV] = str(operation_key_file.resolve())
    console.print(f"kaitiaki: http://{host}:{port}/  (Ctrl+C stops)")
    if workers > 1:
        from kaitiaki.web.workers import run_workers

        run_workers(
            store.url,
            settings,
            host=host,
            port=port,
            workers=workers,
            forwarded_allow_ips=forwarded_allow_ips,
            access_log=access_log,
        )
        return
    app = create_app(store, settings)
    from kaitiaki.web.workers import settle_heap

    settle_heap()
    uvicorn.Server(server_config(app, host, port, forwarded_allow_ips, access_log)).run()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

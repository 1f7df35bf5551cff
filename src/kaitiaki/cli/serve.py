"""``kaitiaki serve``: the operation room, a multi-user web application over the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kaitiaki.cli.options import DbOption

console = Console()


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
        Path | None, typer.Option(help="Folder for uploads and job outputs.", file_okay=False)
    ] = None,
    job_workers: Annotated[
        int, typer.Option(help="Background jobs run at once (in a child process).", min=1)
    ] = 2,
    db: DbOption = None,
) -> None:
    """Serve the web application (JSON API under /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from kaitiaki.store import open_store
    from kaitiaki.web.app import create_app
    from kaitiaki.web.settings import WebSettings

    if demo is not None and db is None:
        demo.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{demo.resolve() / 'kaitiaki.db'}"
    store = open_store(db)
    if demo is not None:
        from kaitiaki.web.demo import prepare_demo

        with console.status("preparing the demo operation (first run takes a minute)"):
            prepare_demo(store, demo, say=console.print)
    folder = data_dir or (demo / "web" if demo is not None else Path("kaitiaki-web"))
    settings = WebSettings(secure_cookies=secure_cookies, job_workers=job_workers, data_dir=folder)
    app = create_app(store, settings)
    console.print(f"kaitiaki: http://{host}:{port}/  (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

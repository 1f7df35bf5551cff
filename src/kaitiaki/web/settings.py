"""How the web application runs: cookie security, session lifetimes, sign-in limits, jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class WebSettings:
    # Mark cookies Secure and send HSTS. On by default whenever a request arrives over https;
    # force it on behind a TLS-terminating proxy with ``--secure-cookies``.
    secure_cookies: bool = False
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    # How long a session found valid is remembered in the server process (``session_cache``);
    # 0 looks every request's session up in the store.
    session_cache_seconds: float = 2.0
    # Failed sign-ins allowed per user name and per client address within ``login_window``.
    login_failures: int = 5
    login_window: timedelta = timedelta(minutes=15)
    # Run queued jobs (off in tests that only look at the HTTP surface, or that run them
    # one by one with ``JobRunner.run_once``).
    start_jobs: bool = True
    # In a child process of their own (the default), so a scan never holds the server's GIL;
    # False runs the runner's threads inside the server process.
    job_process: bool = True
    job_workers: int = 2
    # Where uploads (hash-set files) and job outputs (analyses, referral packages) are written.
    data_dir: Path = field(default_factory=lambda: Path("kaitiaki-web"))
    # Largest upload accepted, in bytes.
    max_upload: int = 2 * 1024**3

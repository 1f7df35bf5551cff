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
    # Failed sign-ins allowed per user name and per client address within ``login_window``.
    login_failures: int = 5
    login_window: timedelta = timedelta(minutes=15)
    # Run queued jobs in this process (off in tests that only look at the HTTP surface).
    start_jobs: bool = True
    job_workers: int = 2
    # Where uploads (hash-set files) and job outputs (analyses, referral packages) are written.
    data_dir: Path = field(default_factory=lambda: Path("kaitiaki-web"))
    # Largest upload accepted, in bytes.
    max_upload: int = 2 * 1024**3

"""How the web application runs: cookie security, session lifetimes, sign-in limits, jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kaitiaki.match.serving import default_poll_s

if TYPE_CHECKING:
    from kaitiaki.jobs.paths import Confinement


def _default_signing_key() -> Path:
    from kaitiaki.refer.signing import default_key_path

    return default_key_path()


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
    # Failed sign-ins allowed per user name, and per client address, within ``login_window``
    # (counted in the store: ``ratelimit``). An address gets more: an office behind one NAT
    # shares it, and the per-name limit already bounds guesses at any one account.
    login_failures: int = 5
    login_address_failures: int = 20
    login_window: timedelta = timedelta(minutes=15)
    # Largest request body outside uploads (JSON and forms), refused with 413 before parsing.
    max_body: int = 1024**2
    # Run queued jobs (off in tests that only look at the HTTP surface, or that run them
    # one by one with ``JobRunner.run_once``).
    start_jobs: bool = True
    # In a child process of their own (the default), so a scan never holds the server's GIL;
    # False runs the runner's threads inside the server process.
    job_process: bool = True
    job_workers: int = 2
    # Most address space one job attempt may use, in bytes (``--job-memory-gb``); past it the
    # job fails with MemoryError instead of the machine running out. None: no limit of ours.
    job_memory_limit: int | None = None
    # The work root (``--work-root``): where uploads (hash-set files) and job outputs (analyses,
    # referral packages) are written; a job from the web writes nowhere else.
    data_dir: Path = field(default_factory=lambda: Path("kaitiaki-web"))
    # The evidence roots (``--evidence-root``): the only folders a job from the web reads
    # evidence from. None configured: the web refuses scans and analyses (fails closed).
    evidence_roots: tuple[Path, ...] = ()
    # Where ``AnchorKeeper`` writes audit anchors every ``anchor_every`` (None: no anchors;
    # the web verification then says that truncation is not checked).
    anchor_dir: Path | None = None
    anchor_every: timedelta = timedelta(minutes=15)
    # Seconds between checks that the served PDQ indexes are current (``match.serving``): a
    # bank change is answered within about this; 0 checks on every lookup (read-your-writes).
    index_poll_s: float = field(default_factory=default_poll_s)
    # Largest upload accepted, in bytes.
    max_upload: int = 2 * 1024**3
    # The private key outcome files of received cases are signed with (``--key`` of
    # ``kaitiaki outcomes export``); read when a file is downloaded, so a key made after the
    # server started is used. Default: ``$KAITIAKI_KEYS/kaitiaki-ed25519.pem``.
    signing_key: Path = field(default_factory=_default_signing_key)

    def confinement(self) -> Confinement:
        """The roots every job submitted through the web is held to (``jobs.paths``)."""
        from kaitiaki.jobs.paths import Confinement

        return Confinement.of(self.evidence_roots, self.data_dir)

"""bench_api's servers: HMA (from ``../shared/anchors/hma``, run with the tools and steps in
``../shared/anchors/hma-bench``, never copied here) and kaitiaki, each started from nothing and
always taken down: every process group killed, every database dropped, by the caller's
``ExitStack`` even on Ctrl-C or a failure half-way.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
HMA = (ROOT / ".." / "shared" / "anchors" / "hma").resolve()
HMA_BENCH = (ROOT / ".." / "shared" / "anchors" / "hma-bench").resolve()
HMA_VENV = Path(
    os.environ.get("KAITIAKI_BENCH_HMA_VENV")
    or Path.home() / ".cache" / "kaitiaki-bench" / "hma-venv"
)
JEMALLOC = next(iter(sorted(Path("/usr/lib").glob("*/libjemalloc.so.2"))), None)
READY = ".kaitiaki-bench-ready"
BANK = "BENCH"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_measured(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> tuple[float, int]:
    """Run ``command`` to its end (output appended to ``log``); its wall seconds and peak RSS
    in bytes (the child's own rusage, not the whole family's so far). Exits on failure."""
    started = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({process.returncode}):\n{tail}")
    return time.monotonic() - started, usage.ru_maxrss * 1024


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started (its own session), then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def wait_ready(
    process: subprocess.Popen[bytes],
    base: str,
    log: Path,
    timeout: float,
    check: Callable[[], bool],
) -> float:
    """Seconds until ``/status`` answers 200 and ``check()`` holds 10 times in a row (so every
    worker had a chance to answer); exits if the server dies or takes longer than ``timeout``."""
    started = time.monotonic()
    in_a_row = 0
    while in_a_row < 10:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the server was not ready within {timeout:.0f} s (log: {log})")
        try:
            ok = httpx.get(f"{base}/status", timeout=5).status_code == 200 and check()
        except httpx.HTTPError:
            ok = False
        in_a_row = in_a_row + 1 if ok else 0
        if not ok:
            time.sleep(0.2)
    return time.monotonic() - started


@dataclass
class Memory:
    workers: list[tuple[int, int]]  # (rss, pss) of each process answering requests
    total_pss: int  # the whole process tree: what the machine pays for the service

    def line(self) -> str:
        if not self.workers:
            return "n/a"
        rss = max(r for r, _ in self.workers)
        pss = max(p for _, p in self.workers)
        return (
            f"{len(self.workers)} worker(s), each up to RSS {rss / 2**20:,.0f} MiB / "
            f"PSS {pss / 2**20:,.0f} MiB; whole tree PSS {self.total_pss / 2**20:,.0f} MiB"
        )


def memory_of(pid: int, port: int) -> Memory:
    """RSS and PSS (``/proc/PID/smaps_rollup``, via psutil) of the tree under ``pid``. Workers
    are the processes holding the listening socket, less the master when it has workers."""
    root = psutil.Process(pid)
    tree = [root, *root.children(recursive=True)]
    listening: list[psutil.Process] = []
    total = 0
    sizes: dict[int, tuple[int, int]] = {}
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            sizes[proc.pid] = (int(info.rss), int(info.pss))
            total += int(info.pss)
            conns = proc.net_connections(kind="tcp")
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
                listening.append(proc)
    workers = [p for p in listening if p.pid != pid] or listening
    return Memory([sizes[p.pid] for p in workers if p.pid in sizes], total)


# HMA.


@dataclass
class HmaRun:
    env: dict[str, str]
    database: str
    log: Path


def ensure_hma_venv(log: Path) -> Path:
    """HMA's own virtual environment, made once and kept (``pip install -e`` of the snapshot)."""
    if (HMA_VENV / READY).exists():
        return HMA_VENV
    if not HMA.is_dir() or not HMA_BENCH.is_dir():
        raise SystemExit(f"HMA's snapshot or tools are missing ({HMA}, {HMA_BENCH})")
    print(f"  creating HMA's venv at {HMA_VENV} (once) ...", flush=True)
    shutil.rmtree(HMA_VENV, ignore_errors=True)
    HMA_VENV.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    run_measured(["python3", "-m", "venv", str(HMA_VENV)], env=env, cwd=ROOT, log=log)
    pip = [str(HMA_VENV / "bin" / "pip"), "install", "-q", "-e", str(HMA), "gunicorn", "numpy"]
    run_measured(pip, env=env, cwd=ROOT, log=log)
    (HMA_VENV / READY).write_text("ok\n")
    return HMA_VENV


def hma_database(stack: contextlib.ExitStack, log: Path) -> HmaRun:
    """A fresh database for HMA (dropped on the way out) and the environment its tools need."""
    database = f"hma_bench_{os.getpid()}"
    pg = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    env = dict(os.environ)
    subprocess.run(
        ["dropdb", *pg, "--if-exists", database], check=True, env=env, stderr=subprocess.DEVNULL
    )
    run_measured(["createdb", *pg, database], env=env, cwd=ROOT, log=log)
    stack.callback(subprocess.run, ["dropdb", *pg, "--if-exists", "--force", database], check=False)
    env.update(
        HMA_DATABASE_URI=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        OMM_CONFIG=str(HMA_BENCH / "omm_config.py"),
        PYTHONPATH=str(HMA / "src"),
    )
    env.pop("VIRTUAL_ENV", None)
    return HmaRun(env, database, log)


def hma_load(run: HmaRun, hashes_npy: Path, count: int) -> tuple[float, float, int]:
    """Migrate, load the bank with hma-bench's ``load_bank.py`` (run from its folder) and build
    HMA's index: (load seconds, build seconds, build's peak RSS)."""
    venv = HMA_VENV / "bin"
    flask = [str(venv / "flask"), "--app", "OpenMediaMatch.app"]
    migrate = [*flask, "db", "upgrade", "--directory", "OpenMediaMatch/migrations"]
    run_measured(migrate, env={**run.env, "MIGRATION_COMMAND": "1"}, cwd=HMA / "src", log=run.log)
    loader = [str(venv / "python"), "load_bank.py", str(hashes_npy), str(count)]
    loader += [str(min(100, count)), BANK]
    load_s, _ = run_measured(loader, env=run.env, cwd=HMA_BENCH, log=run.log)
    build_s, build_rss = hma_build(run)
    return load_s, build_s, build_rss


def hma_build(run: HmaRun) -> tuple[float, int]:
    """``flask build_indices``: its seconds and peak RSS."""
    flask = [str(HMA_VENV / "bin" / "flask"), "--app", "OpenMediaMatch.app", "build_indices"]
    return run_measured(flask, env=run.env, cwd=HMA / "src", log=run.log)


def hma_serve(
    stack: contextlib.ExitStack, run: HmaRun, tuned: bool, check: Callable[[str], bool]
) -> tuple[subprocess.Popen[bytes], str, float]:
    """gunicorn, 2 sync workers, jemalloc preloaded as HMA's Dockerfile does; ``tuned``:
    ``OMP_NUM_THREADS=1``, else FAISS's default threads (as shipped)."""
    port = free_port()
    env = dict(run.env)
    env.pop("OMP_NUM_THREADS", None)
    if tuned:
        env["OMP_NUM_THREADS"] = "1"
    if JEMALLOC is None:
        raise SystemExit("libjemalloc2 is missing: `make system` installs it")
    env["LD_PRELOAD"] = str(JEMALLOC)
    command = [str(HMA_VENV / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}"]
    command.append("OpenMediaMatch.app:create_app()")
    out = run.log.open("ab")
    process = subprocess.Popen(
        command,
        env=env,
        cwd=HMA / "src",
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    stack.callback(stop_group, process)
    base = f"http://127.0.0.1:{port}"
    ready = wait_ready(process, base, run.log, 900, lambda: check(base))
    return process, base, ready


# kaitiaki.


@dataclass
class KaitiakiRun:
    url: str
    env: dict[str, str]
    folder: Path
    log: Path


def kaitiaki_store(stack: contextlib.ExitStack, option: str | None, folder: Path) -> KaitiakiRun:
    """A fresh store: a SQLite file in ``folder``, or a new database on the PostgreSQL server
    of ``option`` (created here, dropped on the way out)."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "KAITIAKI_KEYS": str(folder / "keys"),
        "KAITIAKI_INDEX_CACHE": str(folder / "index-cache"),
    }
    log = folder / "kaitiaki.log"
    if option is None or option.startswith("sqlite"):
        return KaitiakiRun(f"sqlite:///{folder / 'kaitiaki.db'}", env, folder, log)
    import sqlalchemy as sa

    server = sa.engine.make_url(option)
    database = f"kaitiaki_bench_{os.getpid()}"
    admin = sa.create_engine(
        server.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    url = server.set(database=database).render_as_string(hide_password=False)
    return KaitiakiRun(url, env, folder, log)


def kaitiaki(run: KaitiakiRun, *args: str) -> tuple[float, str]:
    """``kaitiaki ARGS --db URL`` to its end: (seconds, its output)."""
    out = run.folder / "cli.out"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "kaitiaki", *args, "--db", run.url]
    seconds, _ = run_measured(command, env=run.env, cwd=run.folder, log=out)
    text = out.read_text()
    with run.log.open("a") as log:
        log.write(text)
    return seconds, text


def serve_workers_supported(run: KaitiakiRun) -> bool:
    shown = subprocess.run(
        [sys.executable, "-m", "kaitiaki", "serve", "--help"],
        env={**run.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return re.search(r"(?<![\w-])--workers\b", shown) is not None


def kaitiaki_serve(
    stack: contextlib.ExitStack, run: KaitiakiRun, workers: int, check: Callable[[str], bool]
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    command = [sys.executable, "-m", "kaitiaki", "serve", "--db", run.url, "--host", "127.0.0.1"]
    # No access log (gunicorn, as HMA runs, writes none by default either).
    command += ["--port", str(port), "--data-dir", str(run.folder / "web"), "--no-access-log"]
    if workers > 1:
        command += ["--workers", str(workers)]
    out = run.log.open("ab")
    process = subprocess.Popen(
        command,
        env=run.env,
        cwd=run.folder,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    stack.callback(stop_group, process)
    base = f"http://127.0.0.1:{port}"
    ready = wait_ready(process, base, run.log, 900, lambda: check(base))
    return process, base, ready


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

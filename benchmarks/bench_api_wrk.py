"""bench_api's load generator: ``wrk`` (closed loop, fixed connections) with a Lua script that
cycles through the query hashes, and its own CPU time, read from its rusage when it exits (the
load generator shares the machine with the server it measures)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# Lua: each thread starts at its own place in the list; ``done`` prints one machine-readable
# line (latencies in microseconds) so nothing depends on wrk's human units.
SCRIPT = """
local hexes = {}
for line in io.lines(%(path)s) do hexes[#hexes + 1] = line end
%(auth)s
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
local i = 0
function init(args)
  i = (tonumber(offset) or 0) %% #hexes
end
function request()
  i = i %% #hexes + 1
  return wrk.format("GET", %(prefix)s .. hexes[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH-RESULT %%d %%d %%d %%d %%d %%d %%d %%.0f %%.0f %%.0f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int  # connect, read, write, timeout and non-2xx/3xx answers
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_s: float  # the load generator's own user + system time

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_share(self) -> float:
        """Cores' worth of CPU the load generator took."""
        return self.cpu_s / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: `make system` installs it (Debian package wrk)")
    return found


def write_script(folder: Path, name: str, hexes: Path, endpoint: str, token: str | None) -> Path:
    prefix = f"/m/{endpoint}?signal_type=pdq&signal="
    auth = f'wrk.headers["Authorization"] = {json.dumps("Bearer " + token)}' if token else ""
    script = folder / f"{name}.lua"
    text = SCRIPT % {"path": json.dumps(str(hexes)), "auth": auth, "prefix": json.dumps(prefix)}
    script.write_text(text)
    return script


class Wrk:
    """One wrk run: ``start`` it, then ``finish`` (waits its duration) or ``interrupt`` (SIGINT:
    wrk stops and reports what it measured so far)."""

    def __init__(self, base: str, script: Path, seconds: float, connections: int, log: Path):
        threads = max(1, min(connections, (os.cpu_count() or 1)))
        self.command = [
            wrk_path(),
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds:.0f}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Wrk:
        self.out = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started = time.monotonic()
        return self

    def interrupt(self) -> Load:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGINT)
        return self.finish()

    def finish(self) -> Load:
        assert self.process is not None
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.out.close()
        text = self.log.read_text(errors="replace")
        line = next((x for x in text.splitlines() if x.startswith("BENCH-RESULT ")), None)
        if line is None:
            raise SystemExit(f"wrk gave no result ({self.process.returncode}):\n{text[-2000:]}")
        n, dur_us, c, r, w, st, to, p50, p99, most = (float(x) for x in line.split()[1:])
        return Load(
            requests=int(n),
            seconds=dur_us / 1e6,
            errors=int(c + r + w + st + to),
            p50_ms=p50 / 1000,
            p99_ms=p99 / 1000,
            max_ms=most / 1000,
            cpu_s=usage.ru_utime + usage.ru_stime,
        )

    def stop(self) -> None:
        """Kill it if it still runs (the caller's way out on a failure)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


WARM_UP_S = 5.0


def run_load(base: str, script: Path, seconds: float, connections: int, log: Path) -> Load:
    """``seconds`` of load, measured after WARM_UP_S of the same load, not measured: every
    server's workers have then mapped or loaded their index and taken connections (a kaitiaki
    worker maps its index on its first lookup; HMA's load theirs at start)."""
    warm = Wrk(base, script, WARM_UP_S, connections, log.with_suffix(".warm-up.log")).start()
    try:
        warm.finish()
    finally:
        warm.stop()
    run = Wrk(base, script, seconds, connections, log).start()
    try:
        return run.finish()
    finally:
        run.stop()

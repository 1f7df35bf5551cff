"""Runs fuzz targets in a worker process with a time bound and a memory cap.

A parser must end on any input in a result or its clear error: never another exception, never
a hang, never unbounded memory. In-process, a hang would stall the suite and a segfault or an
exhausted memory would take pytest down with it, so each input goes to ``fuzz_worker.py``;
when the worker dies or overruns it is replaced and the input is reported as the failure it is.

Plain helpers, importable by bare name from the fuzz and hostile-corpus tests.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
# Generous: a shared CI machine can be slow; a parser that loops never answers at all.
TIMEOUT_S = float(os.environ.get("KAITIAKI_FUZZ_TIMEOUT_S", "60"))
MEMORY_MB = int(os.environ.get("KAITIAKI_FUZZ_MEM_MB", "3072"))
_STARTUP_S = 180.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | error | unclear | crash | died | hang
    type: str = ""
    message: str = ""
    summary: str = ""

    @property
    def acceptable(self) -> bool:
        """A result, or the target's clear error naming where: what every input must end in."""
        return self.kind in ("ok", "error")

    def __str__(self) -> str:
        detail = self.summary or f"{self.type}: {self.message}"
        if len(detail) > 3000:  # a giant name or field, echoed back: keep both ends
            detail = f"{detail[:1000]} [...] {detail[-2000:]}"
        return f"{self.kind} ({detail})"


class Sandbox:
    """One worker process at a time; ``run`` starts (or restarts) it when needed."""

    def __init__(self, timeout_s: float = TIMEOUT_S, memory_mb: int = MEMORY_MB) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.restarts = 0

    def run(self, target: str, path: Path) -> Outcome:
        proc = self._worker()
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps({"target": target, "path": str(path)}) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        answer = self._read(proc, self.timeout_s)
        if answer is None:
            if proc.poll() is None:
                self._stop()
                return Outcome("hang", message=f"no answer within {self.timeout_s:g} s")
            return self._died()
        return Outcome(
            str(answer["kind"]),
            str(answer.get("type", "")),
            str(answer.get("message", "")),
            str(answer.get("summary", "")),
        )

    def close(self) -> None:
        self._stop()
        if self._log is not None:
            self._log.close()

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._proc is not None:
            self.restarts += 1
        # The worker's stderr, kept for the message when it dies; closed with the sandbox.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        env = {
            **os.environ,
            "KAITIAKI_FUZZ_MEM_MB": str(self.memory_mb),
            # The Sleuth Kit's watchdog (content.diskwatch) must fire well inside our timeout.
            "KAITIAKI_TSK_STALL_SECONDS": str(max(1.0, self.timeout_s / 4)),
        }
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "fuzz_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=HERE,
            env=env,
        )
        ready = self._read(self._proc, _STARTUP_S)
        if not ready or not ready.get("ready"):
            raise RuntimeError(f"fuzz worker did not start: {self._stderr()}")
        return self._proc

    def _read(self, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, object] | None:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], timeout)
        if not readable:
            return None
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=30)
            return None
        answer: dict[str, object] = json.loads(line)
        return answer

    def _died(self) -> Outcome:
        proc = self._proc
        assert proc is not None
        code = proc.wait(timeout=30)
        how = (
            f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        )
        outcome = Outcome("died", message=f"worker {how}; stderr: {self._stderr()[-2000:]}")
        self._proc = None
        self.restarts += 1
        return outcome

    def _stderr(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

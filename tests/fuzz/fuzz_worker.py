"""The process that runs parsers on hostile input for the fuzz suite (see ``fuzz_sandbox``).

One JSON request a line on stdin (``{"target": ..., "path": ...}``), one JSON answer a line on
the original stdout. Its memory is capped (``RLIMIT_DATA``, from ``KAITIAKI_FUZZ_MEM_MB``) so
that input that makes a parser swallow memory ends this process, which the sandbox reports,
instead of the machine. A parser that crashes the interpreter (a C extension's segfault) ends
it too; a parser that hangs is killed by the sandbox's timeout.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from pathlib import Path

from fuzz_targets import TARGETS, clear_error_problem, qualified


def main() -> None:
    # Answers go to a private copy of stdout; what parsers print goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Imported before the cap: the libraries themselves are not what is measured.
    for module in (
        "kaitiaki.hashsets.vics",
        "kaitiaki.hashsets.store",
        "kaitiaki.records",
        "kaitiaki.scan.hasher",
        "kaitiaki.refer.signing",
        "kaitiaki.refer.deconflict",
        "kaitiaki.refer.outcomes",
        "kaitiaki.priority.enrichment",
        "duckdb",
        "py7zr",
    ):
        __import__(module)
    cap = int(os.environ.get("KAITIAKI_FUZZ_MEM_MB", "3072")) << 20
    limit = _data_size() + cap
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    answers.write(json.dumps({"ready": True, "cap_mb": cap >> 20}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        answers.write(json.dumps(run(request["target"], request["path"])) + "\n")


def _data_size() -> int:
    """The process's data segment now (what RLIMIT_DATA counts), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) << 10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10


def run(target: str, path: str) -> dict[str, str]:
    spec = TARGETS[target]
    try:
        summary = spec.run(Path(path))
    except MemoryError:
        return {"kind": "crash", "type": "MemoryError", "message": "memory exhausted"}
    except RecursionError as exc:
        return {"kind": "crash", "type": "RecursionError", "message": str(exc)[:500]}
    except Exception as exc:
        names = qualified(exc)
        if any(name in spec.errors for name in names):
            problem = clear_error_problem(target, path, str(exc))
            if problem is None:
                return {"kind": "error", "type": names[0], "message": str(exc)[:2000]}
            return {"kind": "unclear", "type": names[0], "message": problem}
        return {
            "kind": "crash",
            "type": names[0],
            "message": "".join(traceback.format_exception(exc))[-4000:],
        }
    return {"kind": "ok", "summary": summary[:500]}


if __name__ == "__main__":
    main()

"""Every ``kaitiaki serve`` worker imports the web app: it must not load the large libraries only
ingest, referral packaging, exchange fetches or video hashing use (about 200 MB a worker).
They load on first use instead."""

from __future__ import annotations

import json
import subprocess
import sys

# Top-level modules the web app must not import (pyarrow.dataset brings pandas; OpenCV only
# the robust signal's hashing and verification use).
HEAVY = ("pandas", "pyarrow", "duckdb", "faiss", "av", "cv2")

# Runs in a fresh interpreter: a finder that never finds anything, but notes, on the first
# import of each heavy module, the kaitiaki frames that led to it.
_CHILD = """
import json, sys, traceback

HEAVY = set(sys.argv[1].split(","))
culprits = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY and top not in culprits:
            frames = [
                f"{f.filename}:{f.lineno}"
                for f in traceback.extract_stack()[:-1]
                if "importlib" not in f.filename
            ]
            culprits[top] = [f for f in frames if "kaitiaki" in f][-4:] or frames[-4:]
        return None


sys.meta_path.insert(0, Watch())
import kaitiaki.web.app  # noqa: E402,F401

loaded = sorted({m.partition(".")[0] for m in sys.modules} & HEAVY)
print(json.dumps({"loaded": loaded, "culprits": culprits}))
"""


def test_web_app_import_loads_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    problems = [
        f"{name} (imported via {' <- '.join(reversed(result['culprits'].get(name, [])))})"
        for name in result["loaded"]
    ]
    assert not problems, "importing kaitiaki.web.app loads: " + "; ".join(problems)

"""Hypothesis profiles for the fuzz suite, hostile mutations of valid samples, and the check.

Profiles (chosen with ``HYPOTHESIS_PROFILE``; only the fuzz tests use them):

- ``fuzz-ci`` (default): few examples per parser, derandomised, so ``make test`` and CI stay
  fast and repeatable; the whole fuzz folder runs in well under a minute on two cores.
- ``fuzz``: thousands of examples per parser, a fresh random seed each run (``make fuzz``).

Time per example is bounded by the sandbox (``fuzz_sandbox``), not by Hypothesis's deadline,
which would turn a slow shared machine into flaky failures.

Plain helpers, importable by bare name from the fuzz and hostile-corpus tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fuzz_sandbox import Outcome, Sandbox
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CI_EXAMPLES = int(os.environ.get("KAITIAKI_FUZZ_CI_EXAMPLES", "30"))
FUZZ_EXAMPLES = int(os.environ.get("KAITIAKI_FUZZ_EXAMPLES", "2000"))
_COMMON = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("fuzz-ci", _COMMON, max_examples=CI_EXAMPLES, derandomize=True)
settings.register_profile("fuzz", _COMMON, max_examples=FUZZ_EXAMPLES)

_chosen = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")
PROFILE = _chosen if _chosen in ("fuzz-ci", "fuzz") else "fuzz-ci"
FUZZ = settings(settings.get_profile(PROFILE))

# Byte strings that break parsers: NULs, byte-order marks, bytes that are not UTF-8, lone
# surrogates in UTF-8, stray quotes and delimiters, huge numbers, deep nesting, long runs,
# climbing names, format strings.
HOSTILE: tuple[bytes, ...] = (
    b"\x00",
    b"\x00" * 64,
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xff",
    b"\r",
    b"\r\n\r\n",
    b"\n",
    b'"',
    b'"""',
    b",",
    b";",
    b"\t",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"9" * 5001,
    b"-" + b"9" * 5001,
    b"1e999999",
    b"-0.0e-400",
    b"NaN",
    b"Infinity",
    b"[" * 1000,
    b"[" * 100_000,
    b'{"a":' * 1000,
    b"A" * 70_000,
    b"../" * 16 + b"etc/passwd",
    b"/etc/shadow",
    b"C:\\Windows\\",
    b"%s%n%x",
    b"=cmd|' /C calc'!A0",
    "\u202e\u200b\ufeff".encode(),
    b"\x1b[31m",
    b"\xff" * 512,
    b"PK\x03\x04",
    b"ustar\x00",
)

_positions = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, max_ops: int = 4) -> bytes:
    """``seed`` with a few hostile edits: truncation, flipped bytes, inserted or overwritten
    hostile snippets, deleted or repeated ranges. The seed itself is among the results."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(("truncate", "flip", "insert", "overwrite", "delete", "repeat")))
        at = int(draw(_positions) * len(data))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            index = min(at, len(data) - 1)
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif op in ("insert", "overwrite"):
            snippet = draw(st.sampled_from(HOSTILE) | st.binary(min_size=1, max_size=16))
            end = at + (len(snippet) if op == "overwrite" else 0)
            data[at:end] = snippet
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 256))])
            data[at:at] = piece * draw(st.integers(1, 64))
    return bytes(data)


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Cell or field values: ordinary text, control characters, huge digits, long runs."""
    return st.one_of(
        st.text(max_size=max_size),
        st.sampled_from(HOSTILE).map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.integers().map(str),
    )


def check(sandbox: Sandbox, target: str, path: Path) -> Outcome:
    """Run ``target`` on ``path``; fail unless it ended in a result or its clear error."""
    outcome = sandbox.run(target, path)
    keep = os.environ.get("KAITIAKI_FUZZ_KEEP")  # a folder for the inputs that failed
    if keep and not outcome.acceptable:
        kept = (
            Path(keep) / f"{target}-{outcome.kind}-{len(list(Path(keep).glob('*')))}{path.suffix}"
        )
        kept.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, kept, symlinks=True)
        else:
            shutil.copyfile(path, kept)
    assert outcome.acceptable, f"{target} on {path.name}: {outcome}"
    return outcome


def check_bytes(sandbox: Sandbox, target: str, data: bytes, suffix: str) -> Outcome:
    """``check`` on ``data`` written to a file named ``input<suffix>`` (the format is by name)."""
    with tempfile.TemporaryDirectory(prefix="kaitiaki-fuzz-") as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        return check(sandbox, target, path)

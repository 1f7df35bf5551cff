"""The signal interface: every type says how it parses, compares and matches, and the rest of
kaitiaki asks it rather than knowing hash names or thresholds."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.hashsets.entry import HEX_LENGTHS, EntryError, normalise_hex
from kaitiaki.signals import DIGESTS, MD5, PDQ, SHA256, SIGNALS, VPDQ, signal_type
from kaitiaki.signals.base import SignalError

SRC = Path(__file__).resolve().parents[2] / "src" / "kaitiaki"


def test_every_type_is_found_by_name_and_an_unknown_one_is_named() -> None:
    for s in (*DIGESTS, *SIGNALS):
        assert signal_type(s.name) is s
    with pytest.raises(SignalError, match=r"unknown signal type 'photodna' \(known: .*pdq"):
        signal_type("photodna")


def test_digests_rank_before_hashes_and_hashes_by_distance() -> None:
    assert SHA256.exact and not PDQ.exact
    ranked = sorted(
        [("pdq", 12), ("md5", 0), ("pdq", 3), ("vpdq", 5)],
        key=lambda h: signal_type(h[0]).rank(h[1]),
    )
    assert ranked == [("md5", 0), ("pdq", 3), ("vpdq", 5), ("pdq", 12)]


def test_pdq_parses_compares_and_matches_at_its_own_threshold() -> None:
    a = "f" * 64
    b = "0" * 31 + "f" * 33  # 31 hex digits apart = 124 bits
    assert PDQ.parse(a.upper() + "  ") == a
    assert PDQ.compare(a, b) == 124 and not PDQ.matches(124) and PDQ.matches(31)
    assert PDQ.matches(40, threshold=40) and not PDQ.usable(49) and PDQ.usable(50)
    with pytest.raises(SignalError, match="pdq 'xyz' is not 64 hex digits"):
        PDQ.parse("xyz")
    with pytest.raises(SignalError, match="threshold must be 0-256, not 300"):
        PDQ.check_threshold(300)
    assert VPDQ.threshold == PDQ.threshold and VPDQ.quality_floor == PDQ.quality_floor


@given(st.text(max_size=80))
def test_hash_set_readers_accept_exactly_what_the_signal_type_accepts(text: str) -> None:
    for kind, length in HEX_LENGTHS.items():
        assert length == signal_type(kind).hex_length  # type: ignore[attr-defined]
        try:
            expected: str | None = signal_type(kind).parse(text)
        except SignalError:
            expected = None
        try:
            got = normalise_hex(text, kind)
        except EntryError:
            got = None
        if text.strip():
            assert got == expected, (kind, text)


def test_md5_is_exact() -> None:
    assert MD5.compare("a" * 32, "a" * 32) == 0 and MD5.compare("a" * 32, "b" * 32) == 1


def test_the_threshold_and_floor_live_in_the_signal_modules_only() -> None:
    """The PDQ threshold and quality floor were once written out in seven places."""
    pattern = re.compile(r"^\s*[A-Z_]*(THRESHOLD|FLOOR|DISTANCE)[A-Z_]*\s*=\s*(31|50)\b", re.M)
    found = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if not path.is_relative_to(SRC / "signals") and pattern.search(path.read_text())
    ]
    assert found == []


def test_the_robust_signal_crosses_as_base64_and_compares_by_verified_matches() -> None:
    from skimage import data

    from kaitiaki.signals import ROBUST
    from kaitiaki.signals import robust as robust_signal

    picture = data.astronaut()
    h, w = picture.shape[:2]
    cropped = picture[h // 10 : h - h // 10, w // 10 : w - w // 10]
    as_text = [
        base64.b64encode(robust_signal.to_bytes(robust_signal.compute(p))).decode()
        for p in (picture, cropped, data.coffee())
    ]
    assert ROBUST.parse(as_text[0] + "\n") == as_text[0]
    assert (
        ROBUST.higher_is_closer
        and ROBUST.rank(40) < ROBUST.rank(12)
        and PDQ.rank(31) < ROBUST.rank(500)
    )
    close, far = ROBUST.compare(as_text[0], as_text[1]), ROBUST.compare(as_text[0], as_text[2])
    assert ROBUST.matches(close) and not ROBUST.matches(far), (close, far)
    with pytest.raises(SignalError, match="not base64"):
        ROBUST.parse("not base64!")
    with pytest.raises(SignalError, match="robust signature"):
        ROBUST.parse(base64.b64encode(b"KRS\x01garbage").decode())

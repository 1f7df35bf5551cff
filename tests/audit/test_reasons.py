"""The one rule for reasons and legal bases: real words after Unicode normalisation."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from in_process import kaitiaki
from kaitiaki.audit.reasons import (
    ReasonError,
    require_reason,
)

# Characters that carry no words: whitespace, controls and format characters (zero-width
# space/joiners, bidi marks, soft hyphen, BOM), punctuation and symbols.
INVISIBLE = st.characters(categories=("Zs", "Zl", "Zp", "Cc", "Cf"))
NO_WORDS = st.characters(categories=("Zs", "Zl", "Zp", "Cc", "Cf", "P", "S", "Mn"))


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "   ",
        "\u200b" * 20,
        "\u200b\u200c\u200d\u2060\ufeff" * 10,
        "aaaa",
        "\t\n\r" * 30,
        "!!!!!!!!!!!!!!!!!!!!",
        "a\u200bb\u200bc\u200bd\u200be\u200bf\u200bg\u200bh\u200bi",  # 9 letters
        "\x00" * 50,
    ],
)
def test_empty_invisible_and_short_reasons_are_refused(reason: str) -> None:
    with pytest.raises(ReasonError, match="at least 10 letters or digits"):
        require_reason(reason)


@pytest.mark.parametrize(
    "reason",
    [
        "categorise for the warrant application",
        "search warrant 2024/117",
        "警察の捜査令状による確認作業",  # letters of any script count
        "ордер на обыск номер 12",
    ],
)
def test_real_sentences_pass(reason: str) -> None:
    assert require_reason(reason) == reason


def test_stored_text_is_normalised_and_cleaned() -> None:
    # Fullwidth letters fold (NFKC), zero-width characters go, whitespace runs collapse.
    assert require_reason("  ｗａｒｒａｎｔ\u200b  2024/117\n\tchecked  ") == (
        "warrant 2024/117 checked"
    )


def test_the_field_is_named_and_the_length_bounded() -> None:
    with pytest.raises(ReasonError, match="legal basis"):
        require_reason("x", what="legal basis")
    with pytest.raises(ReasonError, match="longer than"):
        require_reason("word " * 1000)


@given(st.text(NO_WORDS, max_size=200))
def test_text_without_letters_or_digits_is_always_refused(text: str) -> None:
    with pytest.raises(ReasonError):
        require_reason(text)


@given(st.text(INVISIBLE, max_size=40), st.text(INVISIBLE, max_size=40))
def test_invisible_padding_never_makes_a_short_reason_pass(pad: str, tail: str) -> None:
    with pytest.raises(ReasonError):
        require_reason(pad + "abcdefghi" + tail)  # 9 letters


@given(
    st.text(
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789"), min_size=10, max_size=60
    ),
    st.text(max_size=100),
    st.text(max_size=100),
)
def test_any_text_holding_ten_letters_or_digits_passes(words: str, before: str, after: str) -> None:
    # Whatever surrounds them (controls, marks, other scripts), ten letters or digits pass,
    # and what is kept holds no invisible characters.
    cleaned = require_reason(f"{before} {words} {after}")
    assert words in cleaned
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned


@pytest.mark.parametrize(
    "command",
    [
        ["operation", "unlink", "A-1", "A-2", "--reason"],
        ["priority", "override", "S-1", "high", "--reason"],
    ],
)
@pytest.mark.parametrize("reason", ["   ", "\u200b" * 20, "aaaa"])
def test_the_cli_refuses_hollow_reasons_with_a_clear_message(
    tmp_path: Path, command: list[str], reason: str
) -> None:
    done = kaitiaki(*command, reason, "--db", f"sqlite:///{tmp_path}/k.db")
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())  # Rich wraps long lines
    assert "reason must say why in words: at least 10 letters or digits" in message
    assert "Traceback" not in done.stderr

"""kaitiaki's vpdq signal strings are threatexchange's, and its video comparison agrees with
threatexchange's ``VPDQSignal.compare_hash`` (what HMA's ``/m/compare`` runs).

threatexchange's vpdq extension imports the ``vpdq`` hashing library at the top, which is not
installed here (kaitiaki hashes frames itself); its serialisation and brute-force matcher do not
use it, so a stand-in module lets them be imported and compared with.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from kaitiaki.match.lookup_video import compare_vpdq
from kaitiaki.signals.vpdq import hash_video
from kaitiaki.signals.vpdq_hma import frames_from_signal, normalise_vpdq, signal_from_frames
from kaitiaki.simulate.video import write_clip, write_copy


@pytest.fixture(scope="module")
def tx() -> Any:
    stand_in = types.ModuleType("vpdq")
    stand_in.VpdqFeature = object  # type: ignore[attr-defined]
    saved = sys.modules.get("vpdq")
    sys.modules["vpdq"] = stand_in
    try:
        from threatexchange.extensions.vpdq import vpdq, vpdq_util

        yield types.SimpleNamespace(signal=vpdq.VPDQSignal, util=vpdq_util)
    finally:
        if saved is None:
            del sys.modules["vpdq"]
        else:
            sys.modules["vpdq"] = saved


def test_strings_are_threatexchanges(tx: Any) -> None:
    example = tx.signal.get_examples()[0]
    assert normalise_vpdq(example) == example
    # Timestamps past 99 s: threatexchange writes three significant digits ("1.23e+02").
    frames = [[i, 80 + i, f"{i:064x}", seconds] for i, seconds in enumerate((0.0, 9.5, 123.4))]
    written = signal_from_frames(frames)
    features = [tx.util.VpdqCompactFeature(f[2], f[1], f[3]) for f in frames]
    assert written == tx.util.vpdq_to_json(features)
    read = tx.util.json_to_vpdq(written)
    assert [(f.pdq_hex, f.quality) for f in read] == [(f[2], f[1]) for f in frames]
    assert [f[1:3] for f in frames_from_signal(written)] == [f[1:3] for f in frames]
    for bad in ('["00,1,0"]', f'["{"0" * 64},101,0"]', f'["{"0" * 64},5,-1"]', "{}", "[]"):
        with pytest.raises(ValueError):
            frames_from_signal(bad)


def test_comparison_agrees_with_threatexchange(tx: Any, tmp_path: Path) -> None:
    for seed in (1, 2):
        write_clip(tmp_path / f"{seed}.mp4", seed)
    write_copy(tmp_path / "1.mp4", tmp_path / "copy.mp4")
    signals = {
        name: signal_from_frames([f.as_list() for f in hash_video(str(tmp_path / name))])
        for name in ("1.mp4", "2.mp4", "copy.mp4")
    }
    outcomes = set()
    for left, right in (("copy.mp4", "1.mp4"), ("2.mp4", "1.mp4"), ("1.mp4", "1.mp4")):
        ours = compare_vpdq(signals[left], signals[right])
        theirs = tx.signal.compare_hash(signals[left], signals[right])
        assert ours[0] == theirs.match, (left, right)
        assert ours[1]["query_match_percent"] == pytest.approx(
            theirs.distance.query_match_percent, abs=0.01
        )
        assert ours[1]["compared_match_percent"] == pytest.approx(
            theirs.distance.compared_match_percent, abs=0.01
        )
        outcomes.add(ours[0])
    assert outcomes == {True, False}  # both a match and a miss were compared

"""Several hash sets, each with its own PDQ index, match threshold and enabled flag.

The scanner asks all enabled sets at once; each set answers at its own threshold (DESIGN.md:
"per hash set configurable"), and a disabled set is skipped without being unloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kaitiaki.index.pdq import PdqIndex, RangeResult
from kaitiaki.signals import PDQ

DEFAULT_THRESHOLD = PDQ.threshold


@dataclass
class HashSetIndex:
    index: PdqIndex
    threshold: int = DEFAULT_THRESHOLD
    enabled: bool = True


class PdqBank:
    def __init__(self) -> None:
        self._sets: dict[str, HashSetIndex] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._sets

    def __getitem__(self, name: str) -> HashSetIndex:
        return self._sets[name]

    def names(self) -> list[str]:
        return list(self._sets)

    def put(
        self, name: str, index: PdqIndex, threshold: int = DEFAULT_THRESHOLD, enabled: bool = True
    ) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError(f"threshold must be in 0..256, got {threshold}")
        self._sets[name] = HashSetIndex(index, threshold, enabled)

    def drop(self, name: str) -> None:
        del self._sets[name]

    def set_threshold(self, name: str, threshold: int) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError(f"threshold must be in 0..256, got {threshold}")
        self._sets[name].threshold = threshold

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._sets[name].enabled = enabled

    def query(self, queries: NDArray[np.uint8]) -> dict[str, RangeResult]:
        """Matches per enabled set, each within that set's threshold."""
        return {
            name: entry.index.query(queries, entry.threshold)
            for name, entry in self._sets.items()
            if entry.enabled
        }

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {}
        for k, (name, entry) in enumerate(self._sets.items()):
            sub = f"set-{k}"
            entry.index.save(folder / sub)
            meta[name] = {"folder": sub, "threshold": entry.threshold, "enabled": entry.enabled}
        (folder / "bank.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> PdqBank:
        folder = Path(folder)
        bank = cls()
        meta = json.loads((folder / "bank.json").read_text())
        for name, info in meta.items():
            index = PdqIndex.load(folder / info["folder"], mmap=mmap)
            bank.put(name, index, int(info["threshold"]), bool(info["enabled"]))
        return bank

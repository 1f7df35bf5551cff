"""The sample's manifest: every file, and what a scan should conclude about it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ARCHIVE_SEPARATOR = "!/"  # as ``kaitiaki.scan.hasher`` names archive members


@dataclass(frozen=True, slots=True)
class SampleFile:
    """One file of the sample (or one archive member) and what a scan should make of it.

    ``path`` is relative to the sample root, POSIX-style; archive members are named as the hasher
    names them, ``archives/bundle.zip!/inner.tar.gz!/x.jpg``. ``role`` is original, variant,
    unrelated, video, corrupt, archive or member. ``kind`` is the type detected from the bytes.
    ``expected`` is the label the classifier should give (known, ignorable, new, error) and
    ``match`` the signal expected to decide it (exact: any of the digests; pdq; vpdq), with the
    listed ``category``.
    ``derived_from`` names the original a variant was made from, ``transform`` how.
    """

    path: str
    role: str
    kind: str
    expected: str
    derived_from: str | None = None
    transform: str | None = None
    match: str | None = None
    category: int | None = None
    md5: str | None = None
    sha256: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SampleManifest:
    root: Path
    seed: int
    hash_sets: tuple[str, ...]
    files: tuple[SampleFile, ...]

    def select(self, *, role: str | None = None, expected: str | None = None) -> list[SampleFile]:
        return [
            f
            for f in self.files
            if (role is None or f.role == role) and (expected is None or f.expected == expected)
        ]

    def get(self, path: str) -> SampleFile:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def on_disk(self, entry: SampleFile | str) -> Path:
        """The file on disk; for an archive member, the outermost archive that holds it."""
        path = entry if isinstance(entry, str) else entry.path
        return self.root / path.split(ARCHIVE_SEPARATOR, 1)[0]

    def paths(self) -> Iterator[Path]:
        """The sample's files on disk (not archive members), in manifest order."""
        for entry in self.files:
            if ARCHIVE_SEPARATOR not in entry.path:
                yield self.root / entry.path

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "hash_sets": list(self.hash_sets),
            "files": [{k: v for k, v in asdict(f).items() if v is not None} for f in self.files],
        }

    def write(self) -> Path:
        path = self.root / "manifest.json"
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> SampleManifest:
        """Read a ``manifest.json``; the root is the folder it lies in."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = tuple(SampleFile(**f) for f in doc["files"])
        return cls(path.parent, int(doc["seed"]), tuple(doc["hash_sets"]), files)

"""The evidence manifest: what was read, as ``sha256  size  path`` lines in byte order of path."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sqlalchemy import select

from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance


def manifest_lines(store: Store, evidence_id: int) -> Iterator[str]:
    """One line per file instance; unreadable ones show ``-`` for the digest and size."""
    path = FileInstance.path
    # Byte order on both engines, so the manifest digest does not depend on the server's locale.
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        order = path.collate("C") if dialect == "postgresql" else path.collate("BINARY")
        rows = session.execute(
            select(FileInstance.sha256, FileInstance.size, path)
            .where(FileInstance.evidence_id == evidence_id)
            .order_by(order)
            .execution_options(yield_per=5000)
        )
        for sha256, size, shown in rows:
            yield f"{sha256 or '-'}  {size if size is not None else '-'}  {shown}\n"


def manifest_sha256(store: Store, evidence_id: int) -> str:
    digest = hashlib.sha256()
    for line in manifest_lines(store, evidence_id):
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()

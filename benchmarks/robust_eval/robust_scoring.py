"""Scores of the robust signal: inlier counts, negated into distances for ``metrics``.

With ``kaitiaki.index.robust.RobustIndex`` present, each query goes through it as a scan
would: the index retrieves its candidates (top 20 by LSH votes) and verifies them, and a pair
it does not retrieve scores 0 inliers (it is not a match, whatever a direct verification
would say). Without the index, every query is verified against every reference
(``robust.verify``, ~0.5 ms a pair): the upper bound on what retrieval can find.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import Progress


def scores(
    queries: Sequence[Any], references: Sequence[Any], console: Console
) -> tuple[NDArray[np.float32], str]:
    """(-inliers (Q, R), a note on how they were obtained)."""
    robust = importlib.import_module("kaitiaki.signals.robust")
    inliers = np.zeros((len(queries), len(references)), np.float32)
    try:
        index_mod = importlib.import_module("kaitiaki.index.robust")
    except ImportError:
        index_mod = None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("robust: matching", total=len(queries))
        if index_mod is not None:
            index = index_mod.RobustIndex()
            index.add(list(range(len(references))), list(references))
            for q, sig in enumerate(queries):
                # min_inliers=1: every retrieved candidate's verified inlier count, not only
                # those the index would report, so the threshold can be swept below the
                # module's own MIN_INLIERS (which is then one point on the same scores).
                for ref_id, count in index.query(sig, min_inliers=1):
                    inliers[q, int(ref_id)] = max(inliers[q, int(ref_id)], float(count))
                progress.advance(task)
            how = " (RobustIndex retrieval + verification; unreturned pairs count 0 inliers)"
        else:
            for q, sig in enumerate(queries):
                for r, ref in enumerate(references):
                    inliers[q, r] = robust.verify(sig, ref).inliers
                progress.advance(task)
            how = " (kaitiaki.index.robust absent: every pair verified directly)"
    return -inliers, how

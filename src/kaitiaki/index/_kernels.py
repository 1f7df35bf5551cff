"""Compiled kernels of the PDQ range index (numba; ``nogil``, so Python threads run them at once).

Conventions shared by every kernel:

* a hash is four ``uint64`` words (the 32 bytes after the index's bit permutation); bit ``i`` of
  the 256 is bit ``i % 64`` of word ``i // 64``;
* ``state[row] == 0`` means the row is live and enabled; anything else hides it;
* results grow in three parallel arrays (query number, row, distance) that double when full,
  and the kernel returns them with their used length.

All integer arithmetic on words is kept in ``uint64`` on purpose: numba turns a mix of signed
and unsigned 64-bit integers into ``float64``, which silently breaks bit operations.

The kernels and the intrinsics they call stay in this one module on purpose: numba's on-disk
cache is keyed to each function's own source file and misses changes to callees elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

ABORTED = -1
OVERFLOW = -2

F = TypeVar("F", bound=Callable[..., Any])


def _jit(fn: F) -> F:
    """Compile with numba: cached on disk (first use in a fresh checkout compiles for ~10 s),
    without the GIL, and typed for mypy as the Python function it replaces."""
    return cast(F, njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")(fn))


@intrinsic
def _popcount(typingctx: Any, x: Any) -> Any:
    """Population count as one ``popcnt`` instruction (LLVM ``ctpop``), returned as ``int64``."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        count = builder.ctpop(args[0])
        if x.bitwidth < 64:  # type: ignore[attr-defined]
            count = builder.zext(count, ir.IntType(64))
        return count

    return types.int64(x), codegen


popcount = cast(Callable[[Any], int], _popcount)


def _prefetch_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    index = list(args[1:])
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, index, wraparound=False)  # type: ignore[no-untyped-call]
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    # The intrinsic's mangled name follows the pointer model of the LLVM under llvmlite.
    suffix = "p0" if str(i8p) == "ptr" else "p0i8"
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    name = "llvm.prefetch." + suffix
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)  # type: ignore[no-untyped-call]
    builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
    return context.get_dummy_value()


@intrinsic
def _prefetch2(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Hint the CPU to fetch ``arr[i, j]``."""
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None
    return types.void(arr, i, j), _prefetch_codegen


prefetch2 = cast(Callable[[Any, Any, Any], None], _prefetch2)


@_jit
def hamming4(words: Any, row: int, q0: Any, q1: Any, q2: Any, q3: Any) -> int:
    return (
        popcount(words[row, 0] ^ q0)
        + popcount(words[row, 1] ^ q1)
        + popcount(words[row, 2] ^ q2)
        + popcount(words[row, 3] ^ q3)
    )


@_jit
def extract(words: Any, row: int, start: int, nbits: int) -> Any:
    """Bits ``start .. start + nbits`` (``nbits`` <= 32) of a hash as an integer."""
    w = start >> 6
    off = np.uint64(start & 63)
    val = words[row, w] >> off
    if (start & 63) + nbits > 64:
        val |= words[row, w + 1] << (np.uint64(64) - off)
    return val & ((np.uint64(1) << np.uint64(nbits)) - np.uint64(1))


@_jit
def extract_one(query: Any, start: int, nbits: int) -> Any:
    w = start >> 6
    off = np.uint64(start & 63)
    val = query[w] >> off
    if (start & 63) + nbits > 64:
        val |= query[w + 1] << (np.uint64(64) - off)
    return val & ((np.uint64(1) << np.uint64(nbits)) - np.uint64(1))


@_jit
def permute_bits(hashes: Any, lut: Any, out: Any) -> None:
    """Apply the index's fixed bit permutation; ``lut[p, v]`` is byte ``p`` = ``v`` permuted.

    ``out`` comes from the caller because numpy, unlike numba, asks the kernel for huge
    pages on large arrays, and random reads into hundreds of megabytes miss the TLB without.
    """
    for i in range(hashes.shape[0]):
        for w in range(4):
            out[i, w] = 0
        for p in range(32):
            v = hashes[i, p]
            for w in range(4):
                out[i, w] |= lut[p, v, w]


@_jit
def table_keys(words: Any, start: int, nbits: int) -> Any:
    n = words.shape[0]
    keys = np.empty(n, dtype=np.uint32)
    for i in range(n):
        keys[i] = np.uint32(extract(words, i, start, nbits))
    return keys


@_jit
def build_table(
    words: Any, start: int, nbits: int, resbits: int, rowbits: int, offsets: Any, entries: Any
) -> None:
    """One table by counting sort into ``offsets`` (over the coarse key: the top ``nbits -
    resbits`` bits) and ``entries`` (``residue << rowbits | row``, rows ascending per bucket).
    The caller allocates both, with numpy, for the huge pages (see ``permute_bits``)."""
    n = words.shape[0]
    nbuckets = 1 << (nbits - resbits)
    keys = table_keys(words, start, nbits)
    offsets[:] = 0
    for i in range(n):
        offsets[(keys[i] >> resbits) + 1] += 1
    for b in range(nbuckets):
        offsets[b + 1] += offsets[b]
    fill = offsets[:-1].copy()
    resmask = np.uint32((1 << resbits) - 1)
    for i in range(n):
        k = keys[i]
        b = k >> resbits
        entries[fill[b]] = ((k & resmask) << rowbits) | np.uint32(i)
        fill[b] += 1


@_jit
def _grow(qs: Any, rows: Any, ds: Any, need: int) -> Any:
    """Bigger output arrays. Callers reassign them only outside their innermost loops: numba
    reference-counts an array variable at each reassignment, and one inside the row loop made
    the scan twenty times slower."""
    size = max(need, qs.shape[0] * 2)
    nq = np.empty(size, dtype=np.int64)
    nr = np.empty(size, dtype=np.int64)
    nd = np.empty(size, dtype=np.int32)
    nq[: qs.shape[0]] = qs
    nr[: rows.shape[0]] = rows
    nd[: ds.shape[0]] = ds
    return nq, nr, nd


@_jit
def _emit(
    dist: Any, nb: int, b0: int, state: Any, qnum: int, threshold: int, qs: Any, rows: Any,
    ds: Any, count: int,
) -> int:  # fmt: skip
    for r in range(nb):
        if dist[r] <= threshold and state[b0 + r] == 0:
            qs[count] = qnum
            rows[count] = b0 + r
            ds[count] = dist[r]
            count += 1
    return count


@_jit
def scan(words: Any, state: Any, lo: int, hi: int, queries: Any, qnums: Any, threshold: int) -> Any:
    """Exact range search of ``queries`` over rows ``lo .. hi`` by linear scan.

    Rows are taken in blocks that stay in L1/L2 while every query passes over them, so a batch
    of queries reads the stored hashes from memory once. With several queries a block is first
    turned word-major, which lets the distance loop vectorise (AVX-512 VPOPCNTQ where the CPU
    has it): 0.3 ns per row and query against 1.7 row-major; a block whose closest row is out of
    range (nearly all of them) is then skipped without looking at its rows one by one. With one
    or two queries the transposition costs more than it saves, so they read rows in place.
    """
    size = 2048
    block = np.empty((4, size), dtype=np.uint64)
    w0 = block[0]
    w1 = block[1]
    w2 = block[2]
    w3 = block[3]
    dist = np.empty(size, dtype=np.int64)
    qs = np.empty(4 * size, dtype=np.int64)
    rows = np.empty(4 * size, dtype=np.int64)
    ds = np.empty(4 * size, dtype=np.int32)
    count = 0
    nq = queries.shape[0]
    for b0 in range(lo, hi, size):
        nb = min(size, hi - b0)
        if nq >= 3:
            for r in range(nb):
                w0[r] = words[b0 + r, 0]
                w1[r] = words[b0 + r, 1]
                w2[r] = words[b0 + r, 2]
                w3[r] = words[b0 + r, 3]
        for qi in range(nq):
            # Grown here, never inside the row loops: see ``_grow``.
            if count + nb > qs.shape[0]:
                qs, rows, ds = _grow(qs, rows, ds, count + nb)
            q0 = queries[qi, 0]
            q1 = queries[qi, 1]
            q2 = queries[qi, 2]
            q3 = queries[qi, 3]
            low = 1 << 30
            if nq >= 3:
                for r in range(nb):
                    d = popcount(w0[r] ^ q0) + popcount(w1[r] ^ q1)
                    d += popcount(w2[r] ^ q2) + popcount(w3[r] ^ q3)
                    dist[r] = d
                    low = min(low, d)
            else:
                for r in range(nb):
                    d = hamming4(words, b0 + r, q0, q1, q2, q3)
                    dist[r] = d
                    low = min(low, d)
            if low <= threshold:
                count = _emit(dist, nb, b0, state, qnums[qi], threshold, qs, rows, ds, count)
    return qs[:count], rows[:count], ds[:count]


# Distance (in loop iterations) at which the staged loops below prefetch: enough to cover a DRAM
# access at the loops' speed; 8 to 32 measured alike.
AHEAD = 16


@_jit
def _probe_query(
    words: Any,
    state: Any,
    entries: Any,
    offsets: Any,
    tstart: Any,
    tbits: Any,
    tres: Any,
    radii: Any,
    rowbits: int,
    query: Any,
    qnum: int,
    threshold: int,
    work_limit: int,
    verify_weight: int,
    scratch: Any,
    cand: Any,
    ctab: Any,
    cdist: Any,
    qs: Any,
    rows: Any,
    ds: Any,
    count: int,
) -> int:
    """One query through the tables: the new result count, ``ABORTED``, or ``OVERFLOW`` when
    ``cand`` or ``qs`` is too small (the caller grows them and asks again).

    The work runs in stages, each a tight loop of independent memory accesses, so that the CPU
    keeps many cache misses in flight: a bucket or a candidate hash is a random access into
    hundreds of megabytes, and a loop that also branches on each one waits for them one by one
    (measured: ~100 ns per candidate in one loop against ~15 ns staged).
    """
    m = tstart.shape[0]
    q0 = query[0]
    q1 = query[1]
    q2 = query[2]
    q3 = query[3]
    qkey = scratch[0]
    qres = scratch[1]
    ptab = scratch[2]
    pbucket = scratch[3]
    prem = scratch[4]
    plo = scratch[5]
    phi = scratch[6]
    # Stage 1: every bucket to visit, and its bounds.
    nprobe = 0
    for j in range(m):
        key = extract_one(query, tstart[j], tbits[j])
        qkey[j] = np.int64(key)
        r = radii[j]
        if r < 0:
            continue
        e = tres[j]
        c = tbits[j] - e
        qc = np.int64(key >> np.uint64(e))
        qres[j] = np.int64(key & ((np.uint64(1) << np.uint64(e)) - np.uint64(1)))
        for k in range(min(r, c) + 1):
            mask = (1 << k) - 1
            while mask < (1 << c):
                ptab[nprobe] = j
                pbucket[nprobe] = qc ^ mask
                prem[nprobe] = r - k
                nprobe += 1
                if k == 0:
                    break
                # Gosper's hack: the next larger integer with the same number of set bits.
                u = mask & -mask
                v = mask + u
                mask = v + (((v ^ mask) // u) >> 2)
    nentries = 0
    for i in range(nprobe):
        plo[i] = offsets[ptab[i], pbucket[i]]
        phi[i] = offsets[ptab[i], pbucket[i] + 1]
        nentries += phi[i] - plo[i]
    if nentries > work_limit:
        return ABORTED
    if nentries > cand.shape[0]:
        return OVERFLOW
    # Stage 2: entries whose residue is close enough; appended without a branch.
    rowmask = np.uint32((1 << rowbits) - 1)
    ush = np.uint32(rowbits)
    ncand = 0
    for i in range(nprobe):
        if i + AHEAD < nprobe:
            prefetch2(entries, ptab[i + AHEAD], plo[i + AHEAD])
        j = ptab[i]
        qr = np.uint32(qres[j])
        rem = prem[i]
        for p in range(plo[i], phi[i]):
            ev = entries[j, p]
            cand[ncand] = ev & rowmask
            ctab[ncand] = j
            ncand += popcount((ev >> ush) ^ qr) <= rem
    if nentries + verify_weight * ncand > work_limit:
        return ABORTED
    # Stage 3: full distances of the candidates.
    for i in range(ncand):
        if i + AHEAD < ncand:
            prefetch2(words, cand[i + AHEAD], 0)
        cdist[i] = hamming4(words, cand[i], q0, q1, q2, q3)
    # Stage 4: hits, each reported by the first table that yields it (see ``probe``).
    for i in range(ncand):
        d = cdist[i]
        row = cand[i]
        if d > threshold or state[row] != 0:
            continue
        seen = False
        for jj in range(ctab[i]):
            if radii[jj] >= 0:
                xk = extract(words, row, tstart[jj], tbits[jj])
                if popcount(np.int64(xk) ^ qkey[jj]) <= radii[jj]:
                    seen = True
                    break
        if seen:
            continue
        if count == qs.shape[0]:
            return OVERFLOW
        qs[count] = qnum
        rows[count] = row
        ds[count] = d
        count += 1
    return count


@_jit
def probe(
    words: Any,
    state: Any,
    entries: Any,
    offsets: Any,
    tstart: Any,
    tbits: Any,
    tres: Any,
    radii: Any,
    rowbits: int,
    max_probes: int,
    queries: Any,
    qnums: Any,
    threshold: int,
    work_limit: int,
    verify_weight: int,
) -> Any:
    """Exact range search through the multi-index tables (see ``_plan`` for why it is exact).

    Table ``j`` files every row under the top bits of its substring (the coarse key); a probe
    flips ``k`` <= ``radii[j]`` coarse bits of the query's key and keeps the bucket's entries
    whose packed residue differs in at most ``radii[j] - k`` bits, so table ``j`` yields exactly
    the rows within ``radii[j]`` of the query on its used bits. A hit is reported only by the
    first table that yields it, which is checked from its bits and needs no set of seen rows.

    A query whose work (entries read plus ``verify_weight`` per full comparison) would pass
    ``work_limit`` is left undone and flagged in ``aborted``; the caller scans it instead, which
    bounds the cost of near-constant data (all-zero hashes fill single buckets).
    """
    scratch = np.empty((7, max(max_probes, tstart.shape[0])), dtype=np.int64)
    cand = np.empty(4096, dtype=np.int64)
    ctab = np.empty(4096, dtype=np.int64)
    cdist = np.empty(4096, dtype=np.int64)
    qs = np.empty(1024, dtype=np.int64)
    rows = np.empty(1024, dtype=np.int64)
    ds = np.empty(1024, dtype=np.int32)
    count = 0
    aborted = np.zeros(queries.shape[0], dtype=np.bool_)
    for qi in range(queries.shape[0]):
        while True:
            new = _probe_query(
                words, state, entries, offsets, tstart, tbits, tres, radii, rowbits,
                queries[qi], qnums[qi], threshold, work_limit, verify_weight, scratch,
                cand, ctab, cdist, qs, rows, ds, count,
            )  # fmt: skip
            if new != OVERFLOW:
                break
            # Too small: either the candidates (bounded by the entries read) or the results.
            size = 2 * cand.shape[0]
            cand = np.empty(size, dtype=np.int64)
            ctab = np.empty(size, dtype=np.int64)
            cdist = np.empty(size, dtype=np.int64)
            qs, rows, ds = _grow(qs, rows, ds, 2 * qs.shape[0])
        if new == ABORTED:
            aborted[qi] = True
        else:
            count = new
    return qs[:count], rows[:count], ds[:count], aborted

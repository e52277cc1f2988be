"""Fused numba kernels for the matrix-free products Z(t) V of the iterative solver.

`SimilarityOperator` (``kernel="numpy"``) computes each tile of Z(t) = exp(-t D) with
``cdist``, then ``np.exp``, then a BLAS product: three passes over a tile-sized temporary, and
numpy's float64 ``exp`` is scalar libm on CPUs without AVX-512. The kernels here fuse the three
steps: for one k-d leaf of rows against the column ranges that the operator computes (the
same tiles: the far-field pairs it skips are skipped here too), they compute for every pair
j > i the distance, e = exp(-t d_ij), and both ``Y[i] += e V[j]`` and ``Y[j] += e V[i]`` (Z is
symmetric), with buffers of one column block only (no tile-sized temporaries).

Speed comes from three choices, each measured on AVX2 (2 shared cores; see
``benchmarks/bench_kernels.py``):

* distances are accumulated one coordinate at a time over a block of columns (points stored
  transposed, d x n), so the loop over columns vectorises whatever d is (d = 3 has no inner
  loop worth vectorising);
* ``exp`` is our own branch-free, vectorisable implementation (`_exp_inplace`): LLVM calls
  scalar libm for ``math.exp`` (no SVML here), which cost as much as the distances; ours is
  about 2x faster than a vectorised Taylor polynomial on [-ln2/2, ln2/2] and 3x faster than
  libm (measured on 512-entry buffers);
* the row sums use four partial sums (float reductions are not vectorised without fastmath),
  and the column sums go into a block-sized buffer that is added to ``Y`` once per block;
* inner loops index slices by the loop counter: indexing ``a[j0 + jj]`` makes numba emit its
  negative-index wraparound, which stops LLVM from vectorising (3 to 4x slower distances).

Accuracy (no fastmath anywhere: no reassociation, no FMA contraction):

* distances are summed over the coordinates in the same order as ``cdist``, so they agree
  with it to the last bit or nearly;
* `_exp_inplace` (x = -t d in [-746, 0]), the table method of Tang (1989) as in glibc:
  x = k ln2/128 + r with |r| <= ln2/256 (Cody-Waite: ln2/128 split in a 32-bit head, so that
  k * head is exact and x - k * head is exact by Sterbenz's lemma, and a tail, whose rounding
  error is recovered by Fast2Sum); s = exp(r) - 1 by a degree-5 Taylor polynomial (truncation
  below 6e-19); exp(x) = 2^(k >> 7) * T_j * (1 + s) with T_j = 2^(j/128), j = k mod 128,
  stored as head + tail (about 106 bits, computed with 60-digit decimals at import). Before the
  final rounding of ``head + (tail + head * s)`` the error is below 0.02 ulp (|s| < 0.0028
  makes every other rounding tiny), so a normal result is within 0.52 ulp, i.e. relative error
  below 1.04 u, inside the 2 u that the solver's certificate charges for ``exp``. Measured
  against 120-bit mpmath on 60,000 arguments: at most 0.504 ulp (glibc: 0.502); it differs
  from numpy's ``exp`` in about 0.1% of the arguments, by one ulp. The power of two is applied
  as two exact factors, so a subnormal result (x < -708.4) is rounded once more, with an
  absolute error below 2^-1074 (as libm's, and far below what the certificate charges), and
  x < -745.2 gives exactly 0.0.
* Rounding of the sums: the certificate charges gamma_m per entry of a product with
  m = ``_ScaledSimilarity.sum_terms`` = width + 4 L + threads + 16 (width >= min(n, 8192),
  L leaves). Here a term of Y_i passes through at most min(block, n) / 4 additions in its
  partial sum, 3 combining the four, one per column block of row i's ranges (at most
  n / block + L <= 2 L, as block >= leaf), one per leaf adding column sums (a column sum
  itself has at most leaf <= width terms), one for the diagonal and one per thread: within m.

Single precision (``apply_product(..., single=True)``, the search-direction products of
``solve_iterative(precision="mixed")``): the same kernel compiled for float32 points and
values (centred coordinates, V scaled to at most 1), with `_exp32_inplace` (Cody-Waite
reduction by ln2 and a degree-7 polynomial, within 0.96 float32 ulp measured against mpmath)
chosen by `_exp_block` when numba compiles it; the row and column sums of a block are float32,
the product itself float64. Never used for anything certified.

Gram tiles (`apply_gram_product`, euclidean points in many dimensions, where the distances
dominate): each tile's |x'|^2 + |y'|^2 - 2 x'.y' (coordinates relative to the row leaf's
centre) comes from one BLAS product, then `_gram_tile_product` does the rest in one pass
(distance, exp, both symmetric updates, with `_add_row`): the same tiles and additions as the
numpy kernel's Gram path, whose numpy passes over each tile cost 1.5x more in R^96. In float32
(search directions) and in float64, where the certificate charges the Gram distances' own
error bound (`iterative.SimilarityOperator._gram_distance_error`).

Compilation: ``cache=True``, so the first call on a machine compiles for about 6 s (measured
on 2 busy cores) and writes the machine code next to this file (or to ``NUMBA_CACHE_DIR``);
later processes load it in about 0.5 s, after importing numba (0.5 to 1.5 s).
``SimilarityOperator(kernel="auto")`` therefore uses these kernels only from 2,048 points up,
where a solve's products cost more than that.

Threads: the kernels release the GIL (``nogil=True``) and the operator's own thread pool
shares out the leaves, as it does for the numpy path. We do not use ``parallel=True``: numba's
fallback threading layer (workqueue, where neither TBB nor OpenMP is available) aborts the
process when two Python threads enter a parallel region at once, and the leaves are already
independent units of work with per-thread accumulators.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
from numba import njit, types
from numba.extending import overload

__all__ = ["METRICS", "apply_product", "exp_nonpositive"]

# metric name -> code used inside the kernels
METRICS = {"euclidean": 0, "cityblock": 1, "chebyshev": 2}

_TABLE_BITS = 7
_N = 1 << _TABLE_BITS  # table of 2^(j/N), j = 0..N-1


def _exp_constants():
    """2^(j/N) as head + tail (about 106 bits), and ln2/N split for Cody-Waite reduction.

    Computed with 60-digit decimal arithmetic (stdlib): no platform long double involved.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        head = np.empty(_N)
        tail = np.empty(_N)
        for j in range(_N):
            v = Decimal(2) ** (Decimal(j) / _N)
            head[j] = float(v)
            tail[j] = float(v - Decimal(head[j]))
        step = Decimal(2).ln() / _N
        # 32 significant bits: k * hi is exact for |k| < 2^21 (here |k| <= 137,770)
        mant, ex = math.frexp(float(step))
        hi = math.ldexp(math.floor(mant * 2.0**32) / 2.0**32, ex)
        lo = float(step - Decimal(hi))
        inv = float(_N / Decimal(2).ln())
    return head, tail, hi, lo, inv


_T_HEAD, _T_TAIL, _STEP_HI, _STEP_LO, _INV_STEP = _exp_constants()
_MAGIC = 6755399441055744.0  # 1.5 * 2^52: y + MAGIC - MAGIC rounds y to an integer
_MAGIC_BITS = np.int64(0x4338000000000000)  # the bits of _MAGIC
_C3, _C4, _C5 = 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0

_JIT = {"nogil": True, "cache": True, "fastmath": False, "boundscheck": False,
        "error_model": "numpy"}


@njit(**_JIT)
def _exp_inplace(buf, kbuf, w, scale):  # pragma: no cover - compiled
    """buf[:w] = exp(scale * buf[:w]) for scale * buf <= 0 (module docstring); kbuf: scratch."""
    # pass 1 (floating point, vectorised): x = k ln2/N + r, |r| <= ln2/(2N), and
    # s = exp(r) - 1 by a degree-5 Taylor polynomial
    for j in range(w):
        x = max(buf[j] * scale, -746.0)
        kf = x * _INV_STEP + _MAGIC  # the integer k sits in the low bits of kf
        k = kf - _MAGIC
        h = x - k * _STEP_HI  # exact (Sterbenz)
        lo = k * _STEP_LO
        r = h - lo
        # the rounding error of r (Fast2Sum; where |h| < |lo| it may be off, by about u |lo|,
        # |lo| < 2e-7: negligible)
        rl = (h - r) - lo
        r2 = r * r
        p = (0.5 + _C3 * r) + (_C4 + _C5 * r) * r2
        buf[j] = r + (rl + r2 * p)
        kbuf[j] = kf
    # pass 2 (integers): exp(x) = 2^(k >> 7) * 2^(j/N) * (1 + s), j = k mod N; the power of
    # two as two exact factors, both normal for k >= -137,770, so a subnormal result is
    # rounded once
    kb = kbuf.view(np.int64)
    for j in range(w):
        k = kb[j] - _MAGIC_BITS
        i = k & (_N - 1)
        e = k >> _TABLE_BITS
        head = _T_HEAD[i]
        y = head + (_T_TAIL[i] + head * buf[j])
        e1 = e >> 1
        kb[j] = (e1 + 1023) << 52
        y *= kbuf[j]
        kb[j] = (e - e1 + 1023) << 52
        buf[j] = y * kbuf[j]


# single precision (the search-direction products of precision="mixed"): x = k ln2 + r,
# |r| <= ln2/2, with ln2 split Cody-Waite style (a 9-bit head, so k * head is exact for
# |k| <= 127) and exp(r) by its degree-7 Taylor polynomial (truncation below 5e-9)
_F32 = np.float32
_INV_LN2_32 = _F32(1.0 / math.log(2.0))
_LN2_HI_32 = _F32(0.693359375)
_LN2_LO_32 = _F32(math.log(2.0) - 0.693359375)
_MAGIC_32 = _F32(12582912.0)  # 1.5 * 2^23
_MAGIC_BITS_32 = np.int32(0x4B400000)
_P32 = tuple(_F32(1.0 / math.factorial(k)) for k in range(2, 8))


@njit(**_JIT)
def _exp32_inplace(buf, kbuf, w, scale):  # pragma: no cover - compiled
    """buf[:w] = exp(scale * buf[:w]) in float32 for scale * buf <= 0; exp(-87) below -87
    (entries below 2e-38: an absolute error far below what single precision keeps)."""
    c2, c3, c4, c5, c6, c7 = _P32
    s = _F32(scale)
    for j in range(w):
        x = max(buf[j] * s, _F32(-87.0))
        kf = x * _INV_LN2_32 + _MAGIC_32
        k = kf - _MAGIC_32
        r = (x - k * _LN2_HI_32) - k * _LN2_LO_32
        buf[j] = r + r * r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * (c6 + r * c7)))))
        kbuf[j] = kf
    kb = kbuf.view(np.int32)
    for j in range(w):
        kb[j] = (kb[j] - _MAGIC_BITS_32 + 127) << 23  # 2^k, k >= -126: normal
        buf[j] = (_F32(1.0) + buf[j]) * kbuf[j]


def _exp_block(buf, kbuf, w, scale):  # pragma: no cover - replaced by its overload
    raise NotImplementedError


@overload(_exp_block, jit_options=_JIT)
def _exp_block_typed(buf, kbuf, w, scale):
    """The exponential for the kernel's precision: chosen when numba compiles it."""
    if buf.dtype == types.float32:
        return lambda buf, kbuf, w, scale: _exp32_inplace(buf, kbuf, w, scale)
    return lambda buf, kbuf, w, scale: _exp_inplace(buf, kbuf, w, scale)


@njit(**_JIT)
def _exp_array(x):  # pragma: no cover - compiled
    out = x.copy()
    kbuf = np.empty_like(out)
    _exp_block(out, kbuf, out.shape[0], 1.0)
    return out


@njit(**_JIT)
def _dot(buf, vrow, w, zero):  # pragma: no cover - compiled
    """buf[:w] . vrow[:w] by four partial sums (float reductions do not vectorise without
    fastmath)."""
    w4 = w - w % 4
    s0 = zero
    s1 = zero
    s2 = zero
    s3 = zero
    for jj in range(0, w4, 4):
        s0 += buf[jj] * vrow[jj]
        s1 += buf[jj + 1] * vrow[jj + 1]
        s2 += buf[jj + 2] * vrow[jj + 2]
        s3 += buf[jj + 3] * vrow[jj + 3]
    for jj in range(w4, w):
        s0 += buf[jj] * vrow[jj]
    return (s0 + s1) + (s2 + s3)


@njit(**_JIT)
def _add_row(buf, VT, YT, colacc, src, dst, i, j0, b1, off, w, zero):  # pragma: no cover
    """YT[dst, i] += buf[:w] . VT[src, j0:b1] and colacc[dst, off:off + w] += buf VT[src, i]."""
    vi = VT[src, i]
    acc = colacc[dst, off:off + w]
    for jj in range(w):
        acc[jj] += buf[jj] * vi
    YT[dst, i] += _dot(buf, VT[src, j0:b1], w, zero)


@njit(**_JIT)
def _add_diagonal(VT, YT, r0, k, m, shift):  # pragma: no cover - compiled
    """YT[:, r0:r0 + k] += (1 - shift) VT[:, r0:r0 + k]: the diagonal, Z_ii = 1."""
    diag = 1.0 - shift  # in float64, as YT (1.0 * v is v exactly: unshifted, the same bits)
    for mm in range(m):
        yseg = YT[mm, r0:r0 + k]
        vseg = VT[mm, r0:r0 + k]
        for i in range(k):
            yseg[i] += diag * vseg[i]


@njit(**_JIT)
def _add_columns(YT, colacc, b0, b1):  # pragma: no cover - compiled
    """YT[:, b0:b1] += the block's column sums."""
    for mm in range(YT.shape[0]):
        yseg = YT[mm, b0:b1]
        cseg = colacc[mm]
        for jj in range(b1 - b0):
            yseg[jj] += cseg[jj]


@njit(**_JIT)
def _extremes(tmin, tmax):  # pragma: no cover - compiled
    """(min, max) over the per-slot tracked distances."""
    dmin = np.inf
    dmax = 0.0
    for jj in range(tmin.shape[0]):
        dmin = min(dmin, tmin[jj])
        dmax = max(dmax, tmax[jj])
    return dmin, dmax


@njit(**_JIT)
def _leaf_product(PT, VT, YT, r0, r1, cols, t, metric, track, block,
                  weighted, shift, coef, rc):  # pragma: no cover
    """YT += (Z restricted to pairs (i, j), j > i, i in r0:r1, j in cols) applied both ways.

    PT: points transposed (d, n); VT: (m, n); YT: (m, n), or (m + k, n) for ``weighted`` 2
    (the weighted products of VT's first k rows, 1 <= k <= m);
    cols: (k, 2) column ranges, each either the leaf itself (r0, r1) or entirely to its
    right. The diagonal (Z_ii = 1) is added too when (r0, r1) is among the ranges.
    ``weighted``: 0 for Z, 1 for D o Z (zero diagonal), 2 for both (Z V in YT's first m
    rows, (D o Z) V[:k] in the next k: each entry and sum computed as by the two products
    alone, so the same bits). ``shift`` (``weighted`` 0 only): every entry less that
    constant, the diagonal's too (`_ScaledSimilarity.single_shift`). ``weighted`` 3: the
    short-range part of `_grid_split`'s kernel, exp(-t d) - sum_k coef[k] d^(2k) for d < rc
    and 0 beyond (euclidean; ``shift`` = coef[0] for the diagonal). Returns (min, max) of
    the distances met (when track).
    """
    d = PT.shape[0]
    m = VT.shape[0]
    mo = YT.shape[0]
    # float64, or float32 for precision="mixed" (PT and VT of that type; YT stays float64)
    buf = np.empty(block, PT.dtype)
    kbuf = np.empty(block, PT.dtype)
    dbuf = np.empty(block if weighted else 0, PT.dtype)
    colacc = np.empty((mo, block), PT.dtype)
    zero = np.zeros(1, PT.dtype)[0]
    # extreme distances per column slot (selects, which vectorise), reduced once at the
    # end: a running scalar min and max made the tracking product 50% slower than the
    # others in float32, these about 40% (bench_kernels.py, 20,000 points)
    tmin = np.full(block if track else 0, np.inf, PT.dtype)
    tmax = np.zeros(block if track else 0, PT.dtype)
    neg_t = -t
    for q in range(cols.shape[0]):
        c0 = cols[q, 0]
        c1 = cols[q, 1]
        if c0 == r0 and weighted != 1:  # the diagonal block: Z_ii = 1 exactly
            _add_diagonal(VT, YT, r0, r1 - r0, m, shift)
        for b0 in range(c0, c1, block):
            b1 = min(c1, b0 + block)
            colacc[:, : b1 - b0] = 0.0
            for i in range(r0, r1):
                j0 = max(b0, i + 1)
                if j0 >= b1:
                    continue
                w = b1 - j0
                # distances, one coordinate at a time (the order cdist sums them in); the
                # loops index slices by the loop counter: numba's negative-index handling
                # of `row[j0 + jj]` stops LLVM from vectorising (4x slower, measured)
                pk = PT[0, i]
                row = PT[0, j0:b1]
                if metric == 0:
                    for jj in range(w):
                        diff = pk - row[jj]
                        buf[jj] = diff * diff
                else:
                    for jj in range(w):
                        buf[jj] = abs(pk - row[jj])
                for k in range(1, d):
                    pk = PT[k, i]
                    row = PT[k, j0:b1]
                    if metric == 0:
                        for jj in range(w):
                            diff = pk - row[jj]
                            buf[jj] += diff * diff
                    elif metric == 1:
                        for jj in range(w):
                            buf[jj] += abs(pk - row[jj])
                    else:
                        for jj in range(w):
                            buf[jj] = max(buf[jj], abs(pk - row[jj]))
                if metric == 0:
                    for jj in range(w):
                        buf[jj] = np.sqrt(buf[jj])
                off = j0 - b0
                if track:
                    lo = tmin[off:off + w]
                    hi = tmax[off:off + w]
                    for jj in range(w):
                        v = buf[jj]
                        a = lo[jj]
                        b = hi[jj]
                        lo[jj] = v if v < a else a
                        hi[jj] = v if v > b else b
                if weighted:
                    for jj in range(w):
                        dbuf[jj] = buf[jj]
                _exp_block(buf, kbuf, w, neg_t)
                if weighted == 3:
                    for jj in range(w):
                        d2 = dbuf[jj] * dbuf[jj]
                        poly = coef[0] + d2 * (coef[1] + d2 * (coef[2] + d2 * (
                            coef[3] + d2 * coef[4])))
                        buf[jj] = buf[jj] - poly if dbuf[jj] < rc else zero
                elif weighted == 1:
                    for jj in range(w):
                        buf[jj] *= dbuf[jj]
                elif weighted == 2:
                    for jj in range(w):
                        dbuf[jj] *= buf[jj]
                elif shift != zero:
                    for jj in range(w):
                        buf[jj] -= shift
                for mm in range(m):
                    _add_row(buf, VT, YT, colacc, mm, mm, i, j0, b1, off, w, zero)
                if weighted == 2:
                    for mm in range(mo - m):
                        _add_row(dbuf, VT, YT, colacc, mm, m + mm, i, j0, b1, off, w, zero)
            _add_columns(YT, colacc, b0, b1)
    return _extremes(tmin, tmax)


@njit(**_JIT)
def _gram_tile_product(G, sr, sc, VT, YT, r0, c0, t, own, track,
                       weighted, shift):  # pragma: no cover - compiled
    """The rest of a Gram tile's product, in one pass: for the tile's pairs (i, j), rows
    r0 + i and columns c0 + j (with ``own``, the leaf's own square: j > i and the
    diagonal), distance sqrt(max(0, sr_i + sc_j - 2 G_ij)), e = exp(-t d), and both
    YT[:, r0 + i] += e VT[:, c0 + j] and YT[:, c0 + j] += e VT[:, r0 + i]; ``weighted`` as
    and ``shift`` as in `_leaf_product`. Returns (min, max) of the distances met (when
    ``track``)."""
    R, C = G.shape
    m = VT.shape[0]
    mo = YT.shape[0]
    buf = np.empty(C, G.dtype)
    kbuf = np.empty(C, G.dtype)
    dbuf = np.empty(C if weighted else 0, G.dtype)
    colacc = np.zeros((mo, C), G.dtype)
    zero = np.zeros(1, G.dtype)[0]
    tmin = np.full(C if track else 0, np.inf, G.dtype)
    tmax = np.zeros(C if track else 0, G.dtype)
    neg_t = -t
    if own and weighted != 1:  # Z_ii = 1 exactly
        _add_diagonal(VT, YT, r0, R, m, shift)
    for i in range(R):
        j0 = i + 1 if own else 0
        w = C - j0
        if w <= 0:
            continue
        g = G[i, j0:C]
        s = sc[j0:C]
        si = sr[i]
        for jj in range(w):
            d2 = (si + s[jj]) - (g[jj] + g[jj])
            buf[jj] = np.sqrt(d2 if d2 > zero else zero)
        # (the same steps as `_leaf_product`'s, written out again: a shared helper, even
        # with inline="always", made the fused float32 product 10% slower in R^3)
        if track:
            lo = tmin[j0:C]
            hi = tmax[j0:C]
            for jj in range(w):
                v = buf[jj]
                a = lo[jj]
                b = hi[jj]
                lo[jj] = v if v < a else a
                hi[jj] = v if v > b else b
        if weighted:
            for jj in range(w):
                dbuf[jj] = buf[jj]
        _exp_block(buf, kbuf, w, neg_t)
        if weighted == 1:
            for jj in range(w):
                buf[jj] *= dbuf[jj]
        elif weighted == 2:
            for jj in range(w):
                dbuf[jj] *= buf[jj]
        elif shift != zero:
            for jj in range(w):
                buf[jj] -= shift
        for mm in range(m):
            _add_row(buf, VT, YT, colacc, mm, mm, r0 + i, c0 + j0, c0 + C, j0, w, zero)
        if weighted == 2:
            for mm in range(m):
                _add_row(dbuf, VT, YT, colacc, mm, m + mm, r0 + i, c0 + j0, c0 + C, j0, w,
                         zero)
    _add_columns(YT, colacc, c0, c0 + C)
    return _extremes(tmin, tmax)


def apply_gram_product(S, V: np.ndarray, track_min: bool = False,
                       distance_weighted: bool | str = False, single: bool = False,
                       shift: float = 0.0) -> tuple[np.ndarray, float, float]:
    """Z~ @ V for a `_ScaledSimilarity` S of euclidean points from Gram tiles: the tiles of
    its numpy ``apply`` (coordinates relative to each row leaf's centre, G = R C^T by BLAS),
    the rest fused in one compiled pass (`_gram_tile_product`: distances, our exp, both
    symmetric updates) instead of numpy's eight passes over each tile. In float32 with
    ``single`` (the caller scales V to at most 1, so that no product overflows; sums within a
    tile row in float32, float64 across), else float64 with the distances
    `SimilarityOperator._gram_distance_error` bounds. ``shift``: (Z~ - shift 1 1^T) V (see
    `apply_product`). Returns (that product, min, max of the computed distances): the
    caller makes rigorous bounds of those.
    """
    from .iterative import _CHUNK_ENTRIES, _run_jobs

    op = S.op
    n, m = V.shape
    mode = 2 if distance_weighted == "both" else int(bool(distance_weighted))
    mo = 2 * m if mode == 2 else m
    dtype = np.float32 if single else np.float64
    VT = np.ascontiguousarray(V.T, dtype=dtype)
    shift = dtype(shift)
    starts = op.starts
    jobs = [(i, int(starts[i]), int(starts[i + 1])) for i in range(op.n_leaves)]

    def leaf(YT, job):
        i, r0, r1 = job
        centre = 0.5 * (op._lo[i] + op._hi[i])
        R, sr = op._centred(r0, r1, centre, dtype)
        lo, hi = _gram_tile_product(R @ R.T, sr, sr, VT, YT, r0, r0, S.t, True, track_min,
                                    mode, shift)
        width = max(1, _CHUNK_ENTRIES // (r1 - r0))
        for a, b in S.near[i]:
            for c0 in range(a, b, width):
                c1 = min(b, c0 + width)
                C, sc = op._centred(c0, c1, centre, dtype)
                lo2, hi2 = _gram_tile_product(R @ C.T, sr, sc, VT, YT, r0, c0, S.t, False,
                                              track_min, mode, shift)
                lo, hi = min(lo, lo2), max(hi, hi2)
        return lo, hi

    YT, lo, hi = _run_jobs(jobs, S.tile_work(), op.threads, (mo, n), leaf)
    return np.ascontiguousarray(YT.T), lo, hi


def exp_nonpositive(x, single: bool = False) -> np.ndarray:
    """exp(x) for x <= 0 with the kernels' own vectorised exponential (tests and benchmarks):
    in float64, or with ``single`` in float32 (the products of ``precision="mixed"``).

    Examples
    --------
    >>> import numpy as np
    >>> x = -np.linspace(0.0, 745.0, 11)
    >>> bool(np.allclose(exp_nonpositive(x), np.exp(x), rtol=3e-16, atol=0))
    True
    >>> x = -np.linspace(0.0, 80.0, 11)
    >>> y = exp_nonpositive(x, single=True)
    >>> y.dtype.name, bool(np.allclose(y, np.exp(x), rtol=3e-7, atol=0))
    ('float32', True)
    """
    dtype = np.float32 if single else np.float64
    return _exp_array(np.ascontiguousarray(x, dtype=dtype).ravel())


def _block_size(d: int, m: int, leaf: int) -> int:
    # columns per block: the block's coordinates, values and buffers stay in L1 (32 KiB) for
    # small d; at least a leaf (the rounding count in the module docstring), a multiple of 8
    b = 3072 // (d + 2 * m + 2)
    return int(max(leaf, min(1024, b)) + 7) // 8 * 8


def _transposed_points(op, single: bool = False) -> np.ndarray:
    name = "_kernel_PT32" if single else "_kernel_PT"
    PT = getattr(op, name, None)
    if PT is None:
        P = op._P
        if single:
            # centred first: float32 keeps 24 bits of the coordinates, and distances are
            # what matter, not the offset of the cloud
            P = (P - 0.5 * (P.min(axis=0) + P.max(axis=0))).astype(np.float32)
        PT = np.ascontiguousarray(P.T)
        setattr(op, name, PT)  # the operator's points never change
    return PT


def _kernel_columns(V: np.ndarray, single: bool) -> tuple[np.ndarray, float]:
    """(V^T for the kernels, the scale to multiply their product by): in float32 V scaled
    to at most 1, so that no product overflows (float32 keeps 8 exponent bits); a scale of
    0 where V is 0."""
    if not single:
        return np.ascontiguousarray(V.T), 1.0
    scale = float(np.max(np.abs(V), initial=0.0))
    if not scale > 0:
        return V.T, 0.0
    return np.ascontiguousarray((V / scale).T, dtype=np.float32), scale


def _float32_distance_bounds(lo: float, hi: float, d: int, diameter: float):
    """Bounds on the true extreme distances from those computed in float32.

    A centred coordinate vector c rounds to float32 within u32 ||c|| <= u32 diameter / 2 in
    each of the three norms (||c|| is at most half the bounding box's diameter), so a
    distance between rounded points is within u32 diameter of the true one; computing it in
    float32 (differences, squares, d sums, square root) adds (d + 5) u32 relative.
    Returns (a lower bound on the smallest, an upper bound on the largest distance), in the
    float64 convention of the tracked distances (as if computed in float64: the caller's
    margins for float64 rounding then only make them safer).
    """
    u32 = float(np.finfo(np.float32).eps) / 2
    rel = (d + 5) * u32 * 1.01
    shift = 1.01 * u32 * diameter
    return (max(0.0, lo * (1.0 - rel) - shift),
            hi * (1.0 + rel) + shift if hi > 0 else hi)


def apply_product(S, V: np.ndarray, track_min: bool = False, leaves=None,
                  distance_weighted: bool | str = False, single: bool = False,
                  shift: float = 0.0, near=None, split=None, starts=None) -> np.ndarray:
    """Z~ @ V for a `_ScaledSimilarity` S (sorted order), as its numpy ``apply`` computes it.

    V has shape (n, m). Updates ``S.min_distance`` / ``S.max_distance`` when ``track_min``.
    ``leaves``: only the tiles of these row leaves (as ``apply(leaves=...)``).
    ``distance_weighted``: (D o Z~) @ V instead; ``"both"``: [Z~ V, (D o Z~) V], shape
    (n, 2 m), from one pass over the pairs (each computed as by its own product);
    ``"first"``: [Z~ V, (D o Z~) V[:, :1]], shape (n, m + 1).
    ``single``: distances, exponentials and the sums within a column block in float32
    (about 2.2x faster, measured in ``bench_kernels.py``), accumulated in float64; the
    error of an entry of the product is then below u32 (4 + t d diam) times the same
    product with |Z| and |V| (u32 = 2^-24; measured at most a tenth of that), not certified
    (see `solve_iterative`'s ``precision``). The extreme distances tracked with ``single``
    are still rigorous bounds (`_float32_distance_bounds`), only looser by about
    u32 diam. ``shift`` (unweighted products only): (Z~ - shift 1 1^T) V instead, every
    computed entry and the diagonal less ``shift`` (rounded to the entries' type): the
    caller adds shift 1 (1^T V) back in float64 (`_ScaledSimilarity.single_shift`), and the
    bound above holds with |Z| + shift in place of |Z|. ``near`` (per leaf, the column
    ranges to its right; default ``S.near``) and ``split`` = (coef, rc): the short-range part
    of `_grid_split`'s kernel over those ranges instead (``_leaf_product``'s mode 3);
    ``starts``: the row blocks ``near`` is given for (default the leaves, ``op.starts``;
    the grid split's are the twigs).
    """
    from .iterative import _run_jobs

    op = S.op
    n, m = V.shape
    mode = 2 if distance_weighted in ("both", "first") else int(bool(distance_weighted))
    coef, rc = np.zeros(5), 0.0
    if split is not None:
        mode, (coef, rc), shift = 3, split, split[0][0]
    near = S.near if near is None else near
    mo = m + (m if distance_weighted == "both" else 1) if mode == 2 else m
    metric = METRICS[op.metric]
    PT = _transposed_points(op, single)
    VT, scale = _kernel_columns(V, single)
    if not scale > 0:
        return np.zeros((n, mo))
    starts = op.starts if starts is None else starts
    shift = PT.dtype.type(shift)
    block = _block_size(op.dim, mo, op.leaf)
    coef, rc = np.asarray(coef, dtype=PT.dtype), PT.dtype.type(rc)
    # per leaf: its own block, then the column ranges to its right that are computed
    jobs = []
    for i in range(starts.size - 1) if leaves is None else leaves:
        r0, r1 = int(starts[i]), int(starts[i + 1])
        cols = np.array([(r0, r1), *near[i]], dtype=np.int64)
        work = (r1 - r0) * int((cols[:, 1] - cols[:, 0]).sum())
        jobs.append((work, r0, r1, cols))

    def leaf(YT, job):
        _, r0, r1, cols = job
        return _leaf_product(PT, VT, YT, r0, r1, cols, S.t, metric, track_min, block, mode,
                             shift, coef, rc)

    YT, lo, hi = _run_jobs(jobs, [job[0] for job in jobs], op.threads, (mo, n), leaf)
    if track_min:
        if single:
            lo, hi = _float32_distance_bounds(lo, hi, op.dim, op.diameter_bound)
        S.min_distance = min(S.min_distance, lo)
        S.max_distance = max(S.max_distance, hi)
    if single:
        YT *= scale
    return np.ascontiguousarray(YT.T)

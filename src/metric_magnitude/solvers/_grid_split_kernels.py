"""The compiled spreading, gathering and cross rows of `_grid_split` (needs numba)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import _dot, _exp_block

_JIT = {"nogil": True, "cache": True, "fastmath": False, "boundscheck": False}


@njit(**_JIT)
def spread(base, w0, w1, w2, VT, g):  # pragma: no cover - compiled
    """g[c] += sum_i VT[c, i] (w0[i] x w1[i] x w2[i]) placed at base[i] (g zeroed by the
    caller; one thread: the points' stencils overlap)."""
    m, n = VT.shape
    p0, p1, p2 = w0.shape[1], w1.shape[1], w2.shape[1]
    for c in range(m):
        for i in range(n):
            v = VT[c, i]
            b0, b1, b2 = base[i, 0], base[i, 1], base[i, 2]
            for a in range(p0):
                va = v * w0[i, a]
                for b in range(p1):
                    vab = va * w1[i, b]
                    row = g[c, b0 + a, b1 + b, b2:b2 + p2]
                    for e in range(p2):
                        row[e] += vab * w2[i, e]


@njit(**_JIT)
def gather(base, w0, w1, w2, g, YT, i0, i1):  # pragma: no cover - compiled
    """YT[c, i] += sum over i's stencil of g[c] times its weights, for i in i0:i1."""
    m = YT.shape[0]
    p0, p1, p2 = w0.shape[1], w1.shape[1], w2.shape[1]
    for c in range(m):
        for i in range(i0, i1):
            b0, b1, b2 = base[i, 0], base[i, 1], base[i, 2]
            acc = 0.0
            for a in range(p0):
                sa = 0.0
                for b in range(p1):
                    row = g[c, b0 + a, b1 + b, b2:b2 + p2]
                    sb = 0.0
                    for e in range(p2):
                        sb += row[e] * w2[i, e]
                    sa += sb * w1[i, b]
                acc += sa * w0[i, a]
            YT[c, i] += acc


@njit(**_JIT)
def cross_rows(PT, VT, YT, rows, keep, t, block):  # pragma: no cover - compiled
    """YT += Z's rows ``rows`` applied to VT (all columns, the diagonal's 1 included), and
    the same entries as columns into the other rows j where keep[j] is 1 (0 where row j is
    one of ``rows``: it has its own pass), in PT's precision within a block of columns."""
    d, n = PT.shape
    m = VT.shape[0]
    buf = np.empty(block, PT.dtype)
    kbuf = np.empty(block, PT.dtype)
    zero = np.zeros(1, PT.dtype)[0]
    for q in range(rows.shape[0]):
        i = rows[q]
        for mm in range(m):
            YT[mm, i] += VT[mm, i]
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            w = b1 - b0
            pk = PT[0, i]
            row = PT[0, b0:b1]
            for jj in range(w):
                diff = pk - row[jj]
                buf[jj] = diff * diff
            for k in range(1, d):
                pk = PT[k, i]
                row = PT[k, b0:b1]
                for jj in range(w):
                    diff = pk - row[jj]
                    buf[jj] += diff * diff
            for jj in range(w):
                buf[jj] = np.sqrt(buf[jj])
            _exp_block(buf, kbuf, w, -t)
            if b0 <= i < b1:
                buf[i - b0] = zero
            kseg = keep[b0:b1]
            for mm in range(m):
                YT[mm, i] += _dot(buf, VT[mm, b0:b1], w, zero)
                vi = VT[mm, i]
                yseg = YT[mm, b0:b1]
                for jj in range(w):
                    yseg[jj] += buf[jj] * kseg[jj] * vi

"""The compiled spreading and gathering of `_grid_split` (needs numba)."""

from __future__ import annotations

from numba import njit

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

"""The compiled column loop of `_sparse_inverse.factor` (needs numba)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._kernels import _exp_inplace


@njit(nogil=True, cache=True, fastmath=False, boundscheck=False)
def factor_columns(P, metric, t, colptr, rows, c0, c1, maxm, vals):  # pragma: no cover
    """vals[colptr[i]:colptr[i+1]] = Z_s^-1 e_1 / sqrt(e_1^T Z_s^-1 e_1) for i in c0:c1, with
    Z_s = exp(-t D) on s = rows[colptr[i]:colptr[i+1]] (metric 0: euclidean, 1: cityblock).

    Z_s is held as its upper triangle, row by row, and factored as R^T R (R = L^T) so that
    every inner loop runs along a row (they vectorise; column-wise they were 2x slower
    than LAPACK's calls).
    """
    d = P.shape[1]
    G = np.empty((maxm, maxm))
    C = np.empty((maxm, maxm))
    Q = np.empty((d, maxm))  # the column's points, transposed
    y = np.empty(maxm)
    kbuf = np.empty(maxm)
    for i in range(c0, c1):
        a = colptr[i]
        m = colptr[i + 1] - a
        for u in range(m):
            for k in range(d):
                Q[k, u] = P[rows[a + u], k]
        for u in range(m):
            g = G[u, u:m]
            g[:] = 0.0
            for k in range(d):
                q = Q[k, u]
                row = Q[k, u:m]
                if metric == 0:
                    for v in range(m - u):
                        diff = q - row[v]
                        g[v] += diff * diff
                else:
                    for v in range(m - u):
                        g[v] += abs(q - row[v])
            if metric == 0:
                for v in range(m - u):
                    g[v] = math.sqrt(g[v])
            _exp_inplace(g, kbuf, m - u, -t)
        # R^T R = Z_s (+ a shift where round-off, near duplicates, breaks it: this is only
        # a preconditioner)
        shift = 0.0
        for _attempt in range(30):
            for u in range(m):
                C[u, u:m] = G[u, u:m]
                C[u, u] += shift
            ok = True
            for k in range(m):
                piv = C[k, k]
                if not piv > 0.0:
                    ok = False
                    break
                piv = math.sqrt(piv)
                C[k, k] = piv
                rk = C[k, k + 1:m]
                for v in range(m - k - 1):
                    rk[v] /= piv
                for u in range(k + 1, m):
                    f = C[k, u]
                    cu = C[u, u:m]
                    ck = C[k, u:m]
                    for v in range(m - u):
                        cu[v] -= ck[v] * f
            if ok:
                break
            shift = max(10.0 * shift, 1e-14 * m)
        # y = Z_s^-1 e_1: R^T z = e_1 (by columns of R^T: rows of R), then R y = z
        y[:m] = 0.0
        y[0] = 1.0
        for k in range(m):
            y[k] /= C[k, k]
            f = y[k]
            rk = C[k, k + 1:m]
            yk = y[k + 1:m]
            for v in range(m - k - 1):
                yk[v] -= rk[v] * f
        for u in range(m - 1, -1, -1):
            acc = y[u]
            for k in range(u + 1, m):
                acc -= C[u, k] * y[k]
            y[u] = acc / C[u, u]
        norm = math.sqrt(y[0])
        for u in range(m):
            vals[a + u] = y[u] / norm

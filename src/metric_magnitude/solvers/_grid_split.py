"""Z(t) V for points in R^3 in about O(n) work: the kernel split at a radius.

exp(-t r) = s(r) + (exp(-t r) - s(r)), where s(r) = exp(-t r) for r >= rc and, below rc,
the even polynomial sum_{k<=4} c_k r^(2k) that matches exp(-t r)'s value and first four
derivatives at rc (`split_coefficients`). So

* the short-range part exp(-t r) - s(r) vanishes beyond rc: the numba kernel computes it
  over the k-d twigs' pairs within rc (`_kernels.apply_product`'s ``split``), in float32;
* s is C^4, without the cusp of exp(-t |x - y|) at x = y, and varies on the scale
  min(rc, 1/t): sum_j s(|x_i - x_j|) v_j is interpolated from a grid of spacing
  h = `SPACING` min(rc, 1/t), by Lagrange polynomials on `ORDER` nodes per axis (a
  tensor stencil of ORDER^d nodes per point): W S_grid W^T v, where S_grid (s between
  grid nodes) is block Toeplitz and applied by FFTs of about 8 times the grid's size.

One grid serves an operator (its spacing minimises a product's estimated cost within a
budget of `GRID_NODES` nodes, and rc = h / SPACING), at every scale t <= 1 / rc where it
is estimated `GAIN` times cheaper than the kernel's product. A larger scale may get a grid
of its own (rc = `RC_SCALE` / t) over a box around the points' median: the points outside
it then have their rows and columns of Z by a compiled kernel (`_cross_product`), which
pays where they are few (a Gaussian cloud's tails). This is the precorrected-FFT
idea (Phillips and White 1997) with a smooth split in place of the correction per pair.

Accuracy (not certified; the search directions of precision="mixed" only, as float32
products): the split's error relative to (|Z| |V|) grows with t rc, like the interpolation
error of s near rc: on Gaussian points in R^3, 0.9e-9 to 6.4e-8 at 100,000 points (t rc
= 0.04 to 0.67), 2.4e-7 at 20,000 (t rc = 0.97) and 8.4e-7 at 3,000 (t rc = 1)
(`benchmarks/study_grid_split.py`, tests/test_grid_split.py); the short-range part adds
float32's rounding. A scale's own grid (t rc = 0.8), as the solver computes it (float32
short-range part and outside rows): at most 6.0e-7 to 1.4e-6, medians
2e-8 to 5e-8 (100,000 points, t = 2.58 to 7.68; the float32 kernel: 5e-7 to 8e-7, medians
3e-8 to 7e-8), and its solves took as many iterations as with the kernel. The error is
systematic: where it exceeded about 1e-8 a solve took a few more iterations (a prototype
on 20,000 points), which the product's 5x lower cost at 100,000 points more than pays.
The solver's certificates use exact float64 products.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft

ORDER = 8  # interpolation nodes per axis
SPACING = 0.15  # grid spacing in units of min(rc, 1/t)
GRID_NODES = 4_000_000  # at most this many grid nodes (FFTs of ~8x: ~800 MB in all)
_MATCHED = 4  # derivatives of exp(-t r) matched at rc
# costs in units of one pair of the float32 kernel (measured on this machine, 100,000
# points: a pair 1.1 ns, an FFT element ~0.2 ns per log2 of the FFT's size, a stencil
# node ~1 ns for spreading and gathering together). A short-range pair, in the twigs'
# pairs (`SimilarityOperator._twig_boxes`): 1.4 ns against 0.92 ns for the kernel's pair on
# a slower day; with 1.8 the operator's grid for 100,000 Gaussian points in R^3 is the
# faster of the two the model chose between 1.4 and 2.0 (1.39 s against 1.49 to 1.52 s
# a product at t = 0.3, a one-off script)
_NEAR_COST = 1.8
_FFT_COST = 0.55
_STENCIL_COST = 1.4
# the grid serves a scale when it is estimated this many times cheaper than the kernel
GAIN = 2.0
# a scale the operator's grid does not resolve may get a grid of its own, rc = this / t
RC_SCALE = 0.8


def split_coefficients(t: float, rc: float) -> np.ndarray:
    """c_0..c_4 of the even polynomial matching exp(-t r) and its first four derivatives
    at r = rc (the smooth part's inner piece)."""
    K = _MATCHED
    A = np.zeros((K + 1, K + 1))
    b = np.empty(K + 1)
    for j in range(K + 1):
        b[j] = (-t) ** j * math.exp(-t * rc)
        for k in range(K + 1):
            if 2 * k >= j:
                A[j, k] = math.perm(2 * k, j) * rc ** (2 * k - j)
    return np.linalg.solve(A, b)


def smooth_part(r: np.ndarray, t: float, rc: float, coef: np.ndarray) -> np.ndarray:
    """s(r): exp(-t r) for r >= rc, the matched polynomial below."""
    out = np.exp(-t * r)
    inner = r < rc
    r2 = r[inner] ** 2
    out[inner] = np.polynomial.polynomial.polyval(r2, coef)
    return out


def _lagrange_weights(f: np.ndarray, p: int) -> np.ndarray:
    """Weights of the p nodes 0..p-1 for interpolating at f (shape (n,) -> (n, p))."""
    W = np.ones((f.shape[0], p))
    for a in range(p):
        for b in range(p):
            if b != a:
                W[:, a] *= (f - b) / (a - b)
    return W


def _grid_shape(ext: np.ndarray, h: float) -> np.ndarray:
    return np.floor(ext / h).astype(np.int64) + ORDER + 1


def _grid_nodes(ext: np.ndarray, h: float) -> float:
    return float(np.prod(_grid_shape(ext, h).astype(float)))


def _fft_shape(shape) -> tuple:
    """FFT sizes of at least 2 s - 1 per axis: circular convolutions that do not wrap."""
    return tuple(scipy.fft.next_fast_len(2 * int(s) - 1, real=True) for s in shape)


def _near_pair_counts(op, rcs: np.ndarray) -> np.ndarray:
    """Ordered point pairs in twig pairs whose boxes are closer than each of ``rcs``,
    counted one twig's row at a time (memory O(twigs))."""
    from .iterative import _box_distances

    starts, lo, hi = op._twig_boxes()
    sizes = np.diff(starts).astype(float)
    pairs = np.zeros(rcs.size)
    for i in range(sizes.size):
        bd = _box_distances(lo, hi, i, 2.0)
        order = np.argsort(bd)
        cum = np.concatenate([[0.0], np.cumsum(sizes[order])])
        pairs += sizes[i] * cum[np.searchsorted(bd[order], rcs, side="left")]
    return pairs


def _core_box(P: np.ndarray, lo: np.ndarray, ext: np.ndarray, h: float, nodes: float):
    """(lo, ext) of the largest box around the points' coordinate-wise median, within their
    bounding box, whose grid of spacing h has at most ``nodes`` nodes."""
    a, b = 0.0, float(ext.max())
    for _ in range(60):
        side = 0.5 * (a + b)
        if _grid_nodes(np.minimum(ext, side), h) > nodes:
            b = side
        else:
            a = side
    sub = np.minimum(ext, a)
    start = np.clip(np.median(P, axis=0) - 0.5 * sub, lo, lo + ext - sub)
    return start, sub


class GridLayout:
    """A grid for split products: spacing, rc, the points' stencils and the twig pairs
    within rc (`SimilarityOperator._twig_boxes`).

    Without ``t``, the operator's grid, over all the points, for every scale t <= 1 / rc.
    With ``t``, a scale's own: rc = `RC_SCALE` / t, over the largest box around the points'
    median that `GRID_NODES` allow. The points outside that box (``outside``, sorted order)
    then have their rows of Z, and the columns into the others, by the kernel
    (`cross_rows`): worth it where they are few (the dense core of a cloud).
    """

    def __init__(self, op, nodes: float | None = None, t: float | None = None):
        from .iterative import _box_distances, _ranges

        nodes = GRID_NODES if nodes is None else nodes
        P = op._P
        n, d = P.shape
        lo = P.min(axis=0)
        ext = P.max(axis=0) - lo
        self.outside = np.zeros(0, dtype=np.int64)
        self.core = None  # the points on the grid (sorted order), where not all of them
        if t is None:
            # the finest spacing whose grid has at most `nodes` nodes (bisection on log h)...
            a, b = 1e-12 * float(ext.max()), float(ext.max())
            for _ in range(80):
                h = math.sqrt(a * b)
                if _grid_nodes(ext, h) > nodes:
                    a = h
                else:
                    b = h
            # ... or a coarser one where that is cheaper: the pairs within rc = h / SPACING
            # grow as h^3, the FFTs shrink as h^-3
            hs = b * 1.15 ** np.arange(16)
            rcs = hs / SPACING * (1.0 + 1e-9)
            pairs = _near_pair_counts(op, rcs)
            costs = [self._cost(p, _grid_shape(ext, h), n, d) for p, h in zip(pairs, hs,
                                                                              strict=True)]
            best = int(np.argmin(costs))
            h, rc_near, near_pairs = float(hs[best]), float(rcs[best]), float(pairs[best])
        else:
            h = SPACING * RC_SCALE / t
            rc_near = RC_SCALE / t * (1.0 + 1e-9)
            near_pairs = float(_near_pair_counts(op, np.array([rc_near]))[0])
            if _grid_nodes(ext, h) > nodes:
                lo, ext = _core_box(P, lo, ext, h, nodes)
                inside = np.all((P >= lo) & (P <= lo + ext), axis=1)
                self.outside = np.flatnonzero(~inside)
                if self.outside.size:
                    self.core = np.flatnonzero(inside)
        self.near_pairs = near_pairs
        self.h = h
        self.rc = h / SPACING
        # ordered pairs by the kernel: the outside rows, and their columns into the others
        self.cross_pairs = float(self.outside.size) * (2 * n - self.outside.size)
        Pc = P if self.core is None else P[self.core]
        half = ORDER // 2
        u = (Pc - lo) / h + half
        base = np.floor(u).astype(np.int64) - (half - 1)
        weights = [_lagrange_weights(u[:, k] - base[:, k], ORDER) for k in range(d)]
        shape = [int(s) for s in base.max(axis=0) + ORDER]
        self.base = np.ascontiguousarray(base)
        self.weights = [np.ascontiguousarray(w) for w in weights]
        self.shape = tuple(shape)
        self.fft_shape = _fft_shape(shape)
        # per twig, the twigs to its right with a pair possibly closer than rc
        self.starts, tlo, thi = op._twig_boxes()
        self.near = []
        for i in range(self.starts.size - 1):
            bd = _box_distances(tlo, thi, i, 2.0)[i + 1:]
            self.near.append(_ranges(np.flatnonzero(bd < rc_near) + i + 1, self.starts))

    @staticmethod
    def _cost(pairs: float, shape, n: int, d: int) -> float:
        """A product's estimated cost, in (ordered) pairs of the float32 kernel."""
        total = float(np.prod(_fft_shape(shape), dtype=float))
        return (_NEAR_COST * pairs + _FFT_COST * 2 * total * math.log2(max(total, 2.0))
                + _STENCIL_COST * n * ORDER ** d)

    def cost(self) -> float:
        """A product's estimated cost, in (ordered) pairs of the float32 kernel."""
        return (self._cost(self.near_pairs, self.shape, self.base.shape[0], len(self.weights))
                + self.cross_pairs)

    def scale_bytes(self, columns: int = 4) -> float:
        """Memory of one scale's split product: the kernel's transform, one product's FFT
        arrays, and the grids of ``columns`` columns."""
        total = float(np.prod(self.fft_shape, dtype=float))
        return 8.0 * (2 * total + total + columns * float(np.prod(self.shape, dtype=float)))

    def serves(self, t: float, kernel_pairs: float) -> bool:
        """Whether the grid resolves Z(t) (t rc <= 1), pays against ``kernel_pairs`` and
        fits in a quarter of the available memory."""
        from .._validation import available_memory

        return (t * self.rc <= 1.0 + 1e-9 and GAIN * self.cost() <= kernel_pairs
                and self.scale_bytes() <= 0.25 * available_memory())


class GridSplit:
    """The split product at one scale: `apply` (n, m) -> (n, m), in sorted order."""

    def __init__(self, layout: GridLayout, t: float, threads: int):
        self.layout = layout
        self.t = t
        self.threads = threads
        self.coef = split_coefficients(t, layout.rc)
        # s between grid nodes, at the wrapped offsets of a circular convolution
        axes = [np.minimum(np.arange(N), N - np.arange(N)) * layout.h
                for N in layout.fft_shape]
        X, Y, Z = np.meshgrid(*axes, indexing="ij", sparse=True)
        R = np.sqrt(X * X + Y * Y + Z * Z)
        S = smooth_part(R.ravel(), t, layout.rc, self.coef).reshape(R.shape)
        self.kernel_hat = scipy.fft.rfftn(S, workers=threads)

    def apply(self, S, V: np.ndarray, single: bool = True) -> np.ndarray:
        """(Z(t) V) by the split (S: the `_ScaledSimilarity`, whose leaves the short-range
        part runs over, in float32 unless not ``single``)."""
        from ._grid_split_kernels import gather, spread
        from ._kernels import apply_product

        lay = self.layout
        m = V.shape[1]
        w0, w1, w2 = lay.weights
        nc = lay.base.shape[0]
        inner = V if lay.core is None else V[lay.core]
        g = np.zeros((m, *lay.shape))
        spread(lay.base, w0, w1, w2, np.ascontiguousarray(inner.T), g)
        sl = tuple(slice(0, s) for s in lay.shape)
        for c in range(m):
            F = scipy.fft.rfftn(g[c], s=lay.fft_shape, workers=self.threads)
            F *= self.kernel_hat
            g[c] = scipy.fft.irfftn(F, s=lay.fft_shape, workers=self.threads)[sl]
        YT = np.zeros((m, nc))
        bounds = np.linspace(0, nc, self.threads + 1).astype(int)
        if self.threads > 1:
            with ThreadPoolExecutor(self.threads) as ex:
                for f in [ex.submit(gather, lay.base, w0, w1, w2, g, YT, int(a), int(b))
                          for a, b in itertools.pairwise(bounds)]:
                    f.result()
        else:
            gather(lay.base, w0, w1, w2, g, YT, 0, nc)
        if lay.core is None:
            near = apply_product(S, V, near=lay.near, split=(self.coef, lay.rc),
                                 single=single, starts=lay.starts)
            return YT.T + near
        # the outside points take no part in the grid's pairs nor in their short-range
        # corrections (their values zeroed, their rows dropped): the kernel computes
        # their rows, and their columns into the inside rows, in full
        Vin = V.copy()
        Vin[lay.outside] = 0.0
        Y = apply_product(S, Vin, near=lay.near, split=(self.coef, lay.rc), single=single,
                          starts=lay.starts)
        Y[lay.core] += YT.T
        Y[lay.outside] = 0.0
        return Y + _cross_product(S, V, lay, single)


def _cross_product(S, V: np.ndarray, lay: GridLayout, single: bool) -> np.ndarray:
    """Z's rows ``lay.outside`` applied to V, and their columns applied into the other
    rows (`_grid_split_kernels.cross_rows`), on the operator's threads."""
    from ._grid_split_kernels import cross_rows
    from ._kernels import _block_size, _kernel_columns, _transposed_points
    from .iterative import _run_jobs

    op = S.op
    n, m = V.shape
    PT = _transposed_points(op, single)
    VT, scale = _kernel_columns(V, single)
    if not scale > 0:
        return np.zeros((n, m))
    keep = np.ones(n, dtype=PT.dtype)
    keep[lay.outside] = 0
    block = _block_size(op.dim, m, op.leaf)
    chunk = 64
    jobs = [lay.outside[a:a + chunk] for a in range(0, lay.outside.size, chunk)]

    def rows(YT, job):
        cross_rows(PT, VT, YT, job, keep, PT.dtype.type(S.t), block)
        return np.inf, 0.0

    YT = _run_jobs(jobs, [job.size for job in jobs], op.threads, (m, n), rows)[0]
    return YT.T * scale

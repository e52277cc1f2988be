"""A reduced-basis model of the weighting w(t) = Z(t)^{-1} 1 over a range of scales.

Few exact factorisations (the *snapshots*) give the weighting and its Taylor coefficients in t;
their span V (n x r, r a few dozen) holds the weighting at every scale in the range to high
accuracy. At any scale t the Galerkin value

    f_V(t) = max_{v in span V} 2 1^T v - v^T Z(t) v = b^T G(t)^{-1} b,
    G(t) = V^T Z(t) V,  b = V^T 1,

is a *lower bound* on |tX| when Z(t) is positive definite, exact at the snapshots, and its error
f - f_V = e^T Z e (e = w - v) is quadratic in the error of the weighting. For the usual range of
scales the model converges exponentially in the number of snapshots: five or six of them carry
100 scales to 1e-10 (docs/benchmarks.md).

G(t) is assembled for every t at once from a Chebyshev expansion in the distances,

    exp(-t x) = sum_q eps_q (-1)^q ive(q, t h) T_q(x / h - 1),   x in [0, 2h],

(h half the diameter, ive the scaled Bessel function) so that the n^2 work is Q passes over the
lower triangle of D, each a recurrence step and a product with V, after which each scale costs
O(Q r^2 + r^3). The expansion is truncated where its tail is below 1e-17, i.e. at the rounding
level of the entries of Z.

Error estimate: the model built from the snapshot vectors of Taylor orders < K is a subspace of
the full one, so f_sub <= f_V <= f. Their difference estimates the error of the smaller model,
which in practice exceeds the error of the full one by orders of magnitude (tests check that it
bounds the true error on random and adversarial inputs).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import blas
from scipy.special import ive

from .solvers.dense import _block_rows, _solve_scale

# Taylor order of the snapshot vectors: w, dw/dt, ..., d^K w / dt^K (scaled)
_ORDER = 3
# relative size below which a new direction is dropped from the basis
_RANK_TOL = 1e-12
# absolute truncation error of the Chebyshev expansion of each entry of Z
_CHEB_TAIL = 1e-17
# above this degree the expansion costs more than it saves: callers fall back
MAX_DEGREE = 160


def chebyshev_degree(a: float) -> int:
    """Smallest Q with 2 sum_{q > Q} ive(q, a) <= _CHEB_TAIL."""
    qs = np.arange(int(a + 40.0 * math.sqrt(a + 1.0) + 60.0))
    tail = np.cumsum((2.0 * ive(qs, a))[::-1])[::-1]
    ok = np.flatnonzero(tail[1:] <= _CHEB_TAIL)
    return int(ok[0]) if ok.size else int(qs[-1])


def _coefficient_derivatives(t: np.ndarray, h: float, Q: int, nu: int) -> np.ndarray:
    """d^k/dt^k of c_q(t) = eps_q (-1)^q ive(q, t h) for k = 0..nu: shape (nu+1, len(t), Q+1).

    d/da [e^{-a} I_q(a)] = e^{-a} ((I_{q-1} + I_{q+1}) / 2 - I_q): a stencil on the index,
    applied k times (I_{-q} = I_q).
    """
    p = np.arange(-nu, Q + nu + 1)
    seq = ive(np.abs(p)[None, :], (t * h)[:, None])
    sign = np.where(np.arange(Q + 1) == 0, 1.0, 2.0) * (-1.0) ** np.arange(Q + 1)
    out = np.empty((nu + 1, t.size, Q + 1))
    out[0] = seq[:, nu : nu + Q + 1] * sign
    cur = seq
    for k in range(1, nu + 1):
        cur = 0.5 * (cur[:, :-2] + cur[:, 2:]) - cur[:, 1:-1]  # shrinks by one each side
        off = nu - k
        out[k] = cur[:, off : off + Q + 1] * sign * h**k
    return out


class ReducedModel:
    """Snapshots of the weighting, their span and the Galerkin model on it.

    Only for positive definite spaces with finite distances (the lower-bound property and
    the Cholesky-based snapshots need it); `function.py` falls back to exact anchors
    otherwise.
    """

    def __init__(self, D: np.ndarray, *, order: int = _ORDER):
        self.D = D
        self.n = D.shape[0]
        self.order = order
        self.h = 0.5 * float(D.max()) if self.n > 1 else 1.0
        self.scales: list[float] = []
        self.exact: dict[float, np.ndarray] = {}  # t -> |tX| and its t-derivatives
        self._direct: dict[float, np.ndarray] = {}
        self._vectors: list[list[np.ndarray]] = [[] for _ in range(order + 1)]
        self._buf: np.ndarray | None = None
        self._V: np.ndarray | None = None
        self._ranks: tuple[int, int] = (0, 0)
        self._gram: tuple[float, np.ndarray] | None = None  # (t_max, G_q)

    # ------------------------------------------------------------------ snapshots
    def add(self, ts) -> None:
        """Exact weighting and its Taylor coefficients at each new scale."""
        D, n = self.D, self.n
        if self._buf is None:
            self._buf = np.empty((n, n))
        ones = np.ones(n)
        for t in np.atleast_1d(np.asarray(ts, dtype=float)):
            t = float(t)
            if t in self.scales:
                continue
            sol = _solve_scale(D, t, "auto", self._buf, ones, True)
            coeffs = [sol.w]
            for _k in range(1, self.order + 1):
                # Z c_k = -sum_j A_j c_{k-j}, A_j = ((-D)^j / j!) o Z, c_k = w^(k) / k!
                rhs = -_hadamard_taylor(D, t, self._buf, sol.z_intact, coeffs[::-1])
                coeffs.append(sol.solve(rhs))
            for k, c in enumerate(coeffs):
                self._vectors[k].append(c)
            # f^(k) = k! 1^T c_k: the snapshot's exact value and slope
            self.exact[t] = np.array(
                [math.factorial(k) * float(c.sum()) for k, c in enumerate(coeffs)]
            )
            self.scales.append(t)
            self._V = None
            self._gram = None
            self._direct = {}

    @property
    def n_snapshots(self) -> int:
        return len(self.scales)

    def release(self) -> None:
        """Free the n x n work matrix (the model itself stays usable)."""
        self._buf = None

    # ------------------------------------------------------------------ basis
    def _basis(self) -> np.ndarray:
        """Orthonormal V with nested blocks: [1, orders < K | order K]."""
        if self._V is not None:
            return self._V
        groups = [[np.ones(self.n)] + self._vectors[0]]
        groups += [self._vectors[k] for k in range(1, self.order + 1)]
        V = np.empty((self.n, 0))
        sub_rank = 0
        for k, g in enumerate(groups):
            if not g:
                continue
            B = np.column_stack([v / max(np.linalg.norm(v), 1e-300) for v in g])
            for _ in range(2):  # classical Gram-Schmidt twice
                B -= V @ (V.T @ B)
            U, s, _ = np.linalg.svd(B, full_matrices=False)
            V = np.hstack([V, U[:, s > _RANK_TOL]])
            if k == self.order - 1:
                sub_rank = V.shape[1]
        self._V = V
        self._ranks = (sub_rank, V.shape[1])
        return V

    # ------------------------------------------------------------------ Gram matrices
    def _chebyshev_gram(self, t_max: float) -> np.ndarray:
        """G_q = V^T T_q(D / h - 1) V for q = 0..Q, from the lower triangle of D.

        Row blocks of the lower triangle, each carried through the whole recurrence while it
        is in cache; the products go through scipy's BLAS (see `solvers.dense._matvec`).
        """
        if self._gram is not None and self._gram[0] >= t_max:
            return self._gram[1]
        V = self._basis()
        Q = chebyshev_degree(t_max * self.h)
        n, r = V.shape
        G = np.zeros((Q + 1, r, r))
        step = _block_rows(n)
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            Vb = V[r0:r1]
            VhT = V[:r1].copy()
            VhT[r0:r1] *= 0.5  # the diagonal block is counted by S and by S^T
            VhT = VhT.T  # Fortran-ordered (r, r1): no copies inside dgemm
            u2 = self.D[r0:r1, :r1] * (2.0 / self.h)
            u2 -= 2.0  # 2 u, u = D / h - 1 in [-1, 1]
            prev = np.ones_like(u2)
            cur = 0.5 * u2
            nxt = np.empty_like(u2)
            for q in range(Q + 1):
                if q >= 2:
                    np.multiply(u2, cur, out=nxt)
                    nxt -= prev
                    prev, cur, nxt = cur, nxt, prev
                T = prev if q == 0 else cur
                MT = blas.dgemm(1.0, VhT, T.T)  # (T_q V_h)^T, shape (r, rows)
                S = blas.dgemm(1.0, MT, Vb.T, trans_b=1)  # V_b^T T_q V_h
                G[q] += S
                G[q] += S.T
        self._gram = (t_max, G)
        return G

    def evaluate(self, ts, t_max: float, nu: int = 3, *, with_sub: bool = True):
        """Model values and t-derivatives up to ``nu`` (<= 3) at ``ts``, and the sub-model's.

        Returns (main, sub): arrays of shape (len(ts), nu + 1) and (len(ts), 2) (value and
        first derivative of the smaller model); sub is None with ``with_sub=False``, which
        skips its solves.
        """
        ts = np.atleast_1d(np.asarray(ts, dtype=float))
        G = self._chebyshev_gram(t_max)
        Q = G.shape[0] - 1
        V = self._V
        b = V.sum(axis=0)
        rs = self._ranks[0]
        main = np.empty((ts.size, nu + 1))
        sub = np.empty((ts.size, 2)) if with_sub else None
        for c0 in range(0, ts.size, 64):  # chunks bound the (nu+1, chunk, r, r) temporary
            chunk = ts[c0 : c0 + 64]
            C = _coefficient_derivatives(chunk, self.h, Q, nu)
            Gt = np.tensordot(C, G, axes=(2, 0))
            for i in range(chunk.size):
                main[c0 + i] = _galerkin(Gt[:, i], b, nu)
                if with_sub:
                    sub[c0 + i] = _galerkin(Gt[:2, i, :rs, :rs], b[:rs], 1) if rs else np.nan
        return main, sub

    def direct(self, t: float) -> np.ndarray:
        """[f_V, f_V', f_V'', f_sub] at t from an exact pass over Z(t) (cached per basis).

        No Chebyshev degree limit; one exp of n^2 entries and three products with V.
        """
        if t in self._direct:
            return self._direct[t]
        V = self._basis()
        n, r = V.shape
        Gt = np.zeros((3, r, r))
        step = _block_rows(n)
        VT = V.T
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            Db = self.D[r0:r1]
            Zb = np.exp(Db * -t)
            for j in range(3):  # (D^j o Z) restricted to the block's rows
                if j:
                    Zb *= Db
                MT = blas.dgemm(1.0, VT, Zb.T)
                Gt[j] += blas.dgemm(1.0, MT, V[r0:r1].T, trans_b=1)
        Gt[1] *= -1.0
        b = V.sum(axis=0)
        rs = self._ranks[0]
        sub = _galerkin(Gt[:1, :rs, :rs], b[:rs], 0)[0] if rs else np.nan
        out = np.append(_galerkin(Gt, b, 2), sub)
        self._direct[t] = out
        return out


def _galerkin(Gd: np.ndarray, b: np.ndarray, nu: int) -> np.ndarray:
    """b^T G^{-1} b and its t-derivatives up to nu (<= 3), given G and its derivatives Gd."""
    G0 = 0.5 * (Gd[0] + Gd[0].T)
    y = np.linalg.solve(G0, b)
    out = [float(b @ y)]
    if nu >= 1:
        g1y = Gd[1] @ y
        out.append(-float(y @ g1y))
    if nu >= 2:
        z1 = np.linalg.solve(G0, g1y)
        out.append(2.0 * float(g1y @ z1) - float(y @ Gd[2] @ y))
    if nu >= 3:
        out.append(
            -6.0 * float(z1 @ Gd[1] @ z1) + 6.0 * float(y @ Gd[2] @ z1) - float(y @ Gd[3] @ y)
        )
    return np.array(out)


def _hadamard_taylor(D, t, buf, z_intact, coeffs) -> np.ndarray:
    """sum_{j=1..k} ((-D)^j / j! o Z) coeffs[j-1] (coeffs[j-1] = c_{k-j}).

    One pass over the strict lower triangle in row blocks (the diagonal of D^j o Z is zero
    for j >= 1), each block used for the product and its transpose. Z's lower triangle is
    read from the factorisation buffer where LAPACK left it intact, else recomputed.
    """
    n = D.shape[0]
    out = np.zeros(n)
    step = _block_rows(n)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        Db = D[r0:r1, :r1]
        block = buf[r0:r1, :r1].copy() if z_intact else np.exp(Db * -t)
        block[:, r0:r1] = np.tril(block[:, r0:r1], -1)
        for j, c in enumerate(coeffs, start=1):
            block *= Db
            a = (-1.0) ** j / math.factorial(j)
            out[r0:r1] += blas.dgemv(a, block.T, c[:r1], trans=1)  # block @ c
            out[:r1] += blas.dgemv(a, block.T, c[r0:r1])  # block^T @ c
    return out


# ---------------------------------------------------------------------- searches and refinement
_MAX_DECADES = 60
_MAX_NEWTON = 60


def convergence_search(model: ReducedModel, target: float, t: float, rtol: float) -> float | None:
    """The scale where |tX| = target, from few snapshots and the model's lower bound.

    Bracketing steps up from ``t`` (or down by decades) with snapshots, each step guessed from
    the snapshot's exact slope (a power law through it, at most a decade). An upper end needs
    no factorisation when the model's lower bound f_V <= |tX| already reaches the target there.
    Inside the bracket, Halley steps on the model (exact passes over Z(t), no factorisation)
    find its root to about 1e-3, where the next snapshot goes; from there Halley steps on
    exact (snapshot) or model data converge, and the search stops when the model's error
    estimate at the root moves t by less than ``rtol``. Returns None where no bracket is
    found (the caller warns).
    """
    model.add(t)
    lo = hi = None
    for _ in range(_MAX_DECADES):
        f, df = model.exact[t][:2]
        if f < target:
            lo = t
            slope = t * df / f  # d log f / d log t: the power law through the snapshot
            guess = t * math.exp(min(math.log(target / f) / slope, 10.0)) if slope > 0 else np.inf
            t_up = float(np.clip(1.5 * guess, 1.5 * t, 10.0 * t))
            if model.direct(t_up)[0] >= target:  # a lower bound at or above the target
                hi = t_up
                break
            model.add(t_up)
            t = t_up
        else:
            hi = t
            if lo is not None:
                break
            t = 0.1 * t
            model.add(t)
    if lo is None or hi is None:
        return None
    # the model's root to about 1e-3 (Halley on exact passes, no factorisation); it is an
    # upper end where the model is a lower bound, and the next snapshot goes there
    t = hi
    for _ in range(_MAX_NEWTON):
        data = model.exact[t] if t in model.exact else model.direct(t)
        t_new = t + _halley_step(data, target)
        if not (lo < t_new <= hi):
            t_new = float(np.sqrt(lo * hi))
        done = abs(t_new - t) <= 1e-3 * t
        t = t_new
        if done:
            break
    model.add(t)
    for _ in range(_MAX_NEWTON):
        data = model.exact[t] if t in model.exact else model.direct(t)
        if data[0] >= target:  # exact, or a lower bound: an upper end either way
            hi = min(hi, t)
        elif t in model.exact:  # only an exact value below the target is a lower end
            lo = max(lo, t)
        step = _halley_step(data, target)
        if abs(step) <= rtol * t:
            check = data if t not in model.exact else model.direct(t)
            # the model's error as a move in t (f' > 0 near the root)
            if abs(check[0] - check[3]) <= rtol * t * check[1]:
                return float(t + step)
            model.add(t)  # not accurate enough here yet: make it exact at t
            continue
        t_new = t + step
        if not (lo < t_new < hi):
            t_new = float(np.sqrt(lo * hi))
        check = model.direct(t_new)
        if abs(check[0] - check[3]) > 1e-6 * check[0]:
            model.add(t_new)  # the model is far from converged here
        t = t_new
    return t


def _halley_step(d: np.ndarray, target: float) -> float:
    """The Halley step for f(t) = target from f, f', f'' at t (Newton's where it fails)."""
    g, g1, g2 = d[0] - target, d[1], d[2]
    if not g1 > 0:
        return np.inf
    denom = 2.0 * g1 * g1 - g * g2
    return float(-2.0 * g * g1 / denom) if denom > 0 else float(-g / g1)


_FILL = 5  # snapshots at hi (k / _FILL)^2: the model's error is even in sqrt(t) spacing
_MAX_ROUNDS = 12


def _estimates(model: ReducedModel, cand: np.ndarray, hi: float):
    """Relative error estimates of the model's values and slopes at ``cand``."""
    main, sub = model.evaluate(cand, hi, nu=1)
    ev = np.abs(main[:, 0] - sub[:, 0]) / np.abs(main[:, 0])
    ed = np.abs(main[:, 1] - sub[:, 1]) / max(float(np.abs(main[:, 1]).max()), 1e-300)
    return ev, ed


def refine(model: ReducedModel, lo: float, hi: float, rtol: float, extra=()) -> tuple[float, float]:
    """Add snapshots until the model's error estimate is below ``rtol`` on [lo, hi].

    Starts from snapshots at hi (k / 5)^2 (skipping those near existing snapshots) and one at
    a fifteenth of the smallest where the range reaches below a quarter of it, then adds
    one snapshot per gap between snapshots where the estimate still exceeds the tolerance, at
    its worst scale. The estimate is checked on 400 scales spread geometrically and linearly
    over the range, plus ``extra``. Returns the largest estimates (relative, of the value and
    of the derivative against its largest size); the caller warns if they exceed rtol.
    """
    root = np.sqrt(hi) * np.arange(1, _FILL + 1) / _FILL
    have = np.sqrt(np.asarray(model.scales))
    new = [r * r for r in root if have.size == 0 or np.abs(have - r).min() > 0.5 * root[0]]
    new = [t for t in new if lo <= t <= hi] or [hi]
    # below the smallest snapshot the model extrapolates: one more there, decided now, costs
    # less than a second round of the Chebyshev products (measured at n = 4000 in R^10)
    smallest = min([*model.scales, *new])
    if lo < smallest / 4:
        new.append(max(lo, smallest / 15))
    model.add(new)
    cand = np.unique(np.concatenate([
        np.geomspace(lo, hi, 200), np.linspace(lo, hi, 201)[1:], np.asarray(extra, float)
    ]))
    cand = cand[(cand >= lo) & (cand <= hi)]
    d_tol = max(rtol, 1e-9)
    for _ in range(_MAX_ROUNDS):
        ev, ed = _estimates(model, cand, hi)
        bad = (ev > rtol) | (ed > d_tol)
        if not bad.any():
            break
        score = np.maximum(ev / rtol, ed / d_tol)
        edges = np.sort(np.asarray(model.scales))
        gap = np.searchsorted(edges, cand)
        add = []
        for g in np.unique(gap[bad]):
            inside = np.flatnonzero((gap == g) & bad)
            add.append(float(cand[inside[np.argmax(score[inside])]]))
        model.add(add)
    else:
        ev, ed = _estimates(model, cand, hi)
    return float(ev.max()), float(ed.max())

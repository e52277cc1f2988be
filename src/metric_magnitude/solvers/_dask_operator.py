"""Products with Z(t) over row blocks on the workers of a Dask cluster, for the CG solver.

`DaskSimilarityOperator` is a `SimilarityOperator` whose products run on a
``dask.distributed`` cluster; everything else the CG loop asks of it (columns for the
Nystrom preconditioner, diagonal blocks for block Jacobi, the rounding and far-field
bounds of the certificate) is computed where the solver runs, from the same points, so the
certified bounds hold unchanged.

* The points, in the operator's k-d order, are sent to every worker once
  (``client.scatter(..., broadcast=True)``).
* At each scale, the k-d leaves are cut into one contiguous range of rows per worker, of
  about equal work (tiles actually computed, after the far-field skipping), and each
  worker receives its range and the tile lists of its leaves once.
* Each product sends V to the workers; each computes the tiles of its rows with the
  single-machine code (numpy, or the numba kernels where the worker has numba) on its own
  threads. Every tile is used twice (Z is symmetric), so a worker's part is a full
  (n, m) array; the parts are summed on the workers, pairwise, and only the sum comes back.

The work per product is the single-machine product's, shared; the traffic per product is
(n, m) floats to and from each worker. Workers are assumed to stay for the solve: if one
is lost, the product fails with Dask's error.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
from dataclasses import dataclass

import numpy as np

from ..exceptions import InvalidInputError
from .iterative import SimilarityOperator, _ScaledSimilarity

__all__ = ["DaskSimilarityOperator"]


@dataclass
class _Share:
    """One worker's rows at one scale: leaves a:b and their tile lists (sent once a scale)."""

    a: int
    b: int
    near: list


class DaskSimilarityOperator(SimilarityOperator):
    """`SimilarityOperator` whose products Z(t) V run over row blocks on Dask workers.

    Parameters
    ----------
    points : array_like of shape (n, d)
    client : distributed.Client
        A client of the cluster; not closed here.
    metric : str or callable, default="euclidean"
    leaf : int, optional
        Points per k-d leaf, as in `SimilarityOperator`.
    workers : sequence of str, optional
        Addresses of the workers to use (default: all of the cluster's workers when the
        operator is made).
    kernel : {"auto", "numpy", "numba"}, default="auto"
        As in `SimilarityOperator`; a worker without numba computes with numpy.

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client, LocalCluster
    >>> from metric_magnitude.solvers._dask_operator import DaskSimilarityOperator
    >>> from metric_magnitude.solvers.iterative import SimilarityOperator
    >>> X = np.random.default_rng(0).standard_normal((3000, 3))
    >>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
    ...                   dashboard_address=None) as cluster, Client(cluster) as client:
    ...     v = DaskSimilarityOperator(X, client=client).matvec(np.ones(3000), 2.0)
    >>> bool(np.allclose(v, SimilarityOperator(X).matvec(np.ones(3000), 2.0), rtol=1e-13))
    True
    """

    def __init__(self, points, *, client, metric="euclidean", leaf=None, workers=None,
                 kernel="auto"):
        if points is None:
            raise InvalidInputError("DaskSimilarityOperator computes from points; give them")
        # threads=1: what runs here (columns, diagonal blocks) is small
        super().__init__(points, metric=metric, leaf=leaf, threads=1, kernel=kernel)
        nthreads = dict(client.nthreads())
        if workers is not None:
            unknown = sorted(set(workers) - set(nthreads))
            if unknown:
                raise InvalidInputError(f"workers {unknown} are not in the cluster; it has "
                                        f"{sorted(nthreads)}")
            nthreads = {w: nthreads[w] for w in workers}
        if not nthreads:
            raise InvalidInputError("the Dask cluster has no workers; start some first")
        self.workers = dict(sorted(nthreads.items()))
        plain = SimilarityOperator.__new__(SimilarityOperator)
        plain.__dict__.update(self.__dict__)
        self._client = client
        # the points (and the k-d leaves) on every worker, once
        self._remote = client.scatter(plain, broadcast=True, hash=False,
                                      workers=list(self.workers))

    @property
    def partial_sums(self) -> int:
        """Accumulators summed into a product: one per worker thread, then across workers."""
        return sum(self.workers.values()) + len(self.workers)

    def scaled(self, t: float, far_field_budget: float = 0.0) -> _DaskScaledSimilarity:
        return _DaskScaledSimilarity(self, float(t), float(far_field_budget))


def _leaf_work(S: _ScaledSimilarity) -> np.ndarray:
    """Entries each leaf's tiles compute (its diagonal block, and the pairs to its right)."""
    sizes = np.diff(S.op.starts)
    return np.array([sizes[i] * (sizes[i] + 2 * sum(b - a for a, b in S.near[i]))
                     for i in range(S.op.n_leaves)], dtype=float)


def _split(work: np.ndarray, weights: list[int]) -> list[tuple[int, int]]:
    """Cut the leaves 0..L into contiguous ranges with work in proportion to ``weights``."""
    cum = np.concatenate([[0.0], np.cumsum(work)])
    targets = cum[-1] * np.cumsum(weights)[:-1] / sum(weights)
    cuts = np.searchsorted(cum, targets, side="left")
    bounds = [0, *np.clip(cuts, 0, len(work)).tolist(), len(work)]
    bounds = np.maximum.accumulate(bounds)
    return list(itertools.pairwise(int(b) for b in bounds))


class _DaskScaledSimilarity(_ScaledSimilarity):
    """Z(t) of a DaskSimilarityOperator: `apply` on the workers, the rest here."""

    def __init__(self, op: DaskSimilarityOperator, t: float, budget: float):
        super().__init__(op, t, budget)
        # rounding of the certificate: more partial sums than the local threads
        self.sum_terms += op.partial_sums - op.threads
        client = op._client
        ranges = _split(_leaf_work(self), list(op.workers.values()))
        self._shares = []
        for (a, b), worker in zip(ranges, op.workers, strict=True):
            if a == b:
                continue
            share = client.scatter(_Share(a, b, self.near[a:b]), workers=[worker], hash=False)
            self._shares.append((worker, share))

    def apply(self, V: np.ndarray, track_min: bool = False,
              distance_weighted: bool = False, single: bool = False) -> np.ndarray:
        V = np.ascontiguousarray(V, dtype=np.float64)
        if V.ndim == 1:
            return self.apply(V[:, None], track_min, distance_weighted, single)[:, 0]
        op = self.op
        client = op._client
        workers = [w for w, _ in self._shares]
        Vf = client.scatter(V, broadcast=True, hash=False, workers=workers)
        parts = [client.submit(_worker_product, op._remote, share, Vf, self.t, track_min,
                               op.workers[w], distance_weighted, single,
                               bool(self.gram_double), workers=[w], pure=False)
                 for w, share in self._shares]
        while len(parts) > 1:  # pairwise sums on the workers
            parts = [client.submit(_add, *parts[i:i + 2], pure=False) if i + 1 < len(parts)
                     else parts[i] for i in range(0, len(parts), 2)]
        Y, lo, hi = parts[0].result()
        if track_min:
            self.min_distance = min(self.min_distance, lo)
            self.max_distance = max(self.max_distance, hi)
        return Y


def _worker_product(op: SimilarityOperator, share: _Share, V: np.ndarray, t: float,
                    track_min: bool, threads: int, distance_weighted: bool = False,
                    single: bool = False, gram_double: bool = False):
    """One worker's part of Z~ V: the tiles of its rows, by the single-machine code."""
    if op.kernel == "numba" and importlib.util.find_spec("numba") is None:
        op.kernel = "numpy"  # this worker's copy only
    if op.kernel == "numba":
        from ._kernels import _transposed_points

        _transposed_points(op, single)  # kept with the worker's copy
    rows = copy.copy(op)  # the same points; its leaves are this worker's range
    rows.starts = op.starts[share.a:share.b + 1]
    rows.threads = max(1, int(threads))
    S = _ScaledSimilarity.__new__(_ScaledSimilarity)
    S.op, S.t, S.n, S.near = rows, t, op.n, share.near
    S.min_distance, S.max_distance = np.inf, 0.0
    S.gram_double = gram_double  # (its error bounds are charged by the client's copy)
    S.single_shift = 0.0  # (the shift's rank-one term belongs to the whole product)
    # (no grid split: it works on all the points)
    S._split, S._split_checked, S._layout = None, True, None
    Y = S.apply(V, track_min, distance_weighted, single)
    return Y, S.min_distance, S.max_distance


def _add(x, y):
    return x[0] + y[0], min(x[1], y[1]), max(x[2], y[2])

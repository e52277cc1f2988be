"""Spaces with exact references, shared by tests/test_accuracy.py and benchmarks/accuracy.py.

Each case builder returns (X, metric or None for graphs, ref) where ref(t) gives
(|tX|, |tX| - 1, weights or None, d|tX|/dt) as mpmath numbers.
"""

from __future__ import annotations

import functools

import networkx as nx
import numpy as np
from oracles import (
    equidistant_magnitude,
    grid_magnitude,
    homogeneous_magnitude,
    line_magnitude,
    mp_distances_from_points,
    mp_from_float_matrix,
    mp_magnitude,
)

import metric_magnitude as mm

SCALES = [1e-8, 1e-6, 1e-4, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1000.0]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _line():
    x = np.sort(_rng(1).uniform(0, 3, 12))
    return x[:, None], "euclidean", functools.partial(line_magnitude, x)


def _simplex():
    # regular simplex: scaled standard basis, all distances sqrt(2) * 0.7
    return 0.7 * np.eye(8), "euclidean", functools.partial(equidistant_magnitude, 8, 0.7 * 2**0.5)


def _two_points():
    return np.array([[0.0, 0.0], [0.3, 0.4]]), "euclidean", functools.partial(
        equidistant_magnitude, 2, 0.5
    )


def _cycle():
    G = nx.cycle_graph(9)
    row = [min(j, 9 - j) for j in range(9)]
    return G, None, functools.partial(homogeneous_magnitude, row)


def _grid_points():
    P = np.array([[i, j] for i in range(4) for j in range(3)], dtype=float)
    return P, "cityblock", functools.partial(grid_magnitude, 4, 3)


def _grid_graph():
    return nx.grid_2d_graph(3, 5), None, functools.partial(grid_magnitude, 3, 5)


def _l1_product():
    # X x Y with d = d_X + d_Y: Z = Z_X kron Z_Y, so |t(X x Y)| = |tX| |tY|
    x = np.sort(_rng(2).uniform(0, 2, 4))
    y = np.sort(_rng(3).uniform(0, 2, 3))
    P = np.array([[a, b] for a in x for b in y])

    def ref(t):
        mx, mx1, _, dx = line_magnitude(x, t)
        my, my1, _, dy = line_magnitude(y, t)
        return mx * my, mx1 + my1 + mx1 * my1, None, dx * my + mx * dy

    return P, "cityblock", ref


CLOSED_FORMS = {
    "line": _line,
    "simplex": _simplex,
    "two_points": _two_points,
    "cycle_graph": _cycle,
    "grid_l1_points": _grid_points,
    "grid_graph": _grid_graph,
    "l1_product": _l1_product,
}


def _mp_points(X, metric):
    Dmp = mp_distances_from_points(X, metric)
    return X, metric, functools.lru_cache(None)(functools.partial(mp_magnitude, Dmp))


def _gauss():
    return _mp_points(_rng(10).normal(size=(20, 3)), "euclidean")


def _l1_cloud():
    return _mp_points(_rng(11).normal(size=(20, 5)), "cityblock")


def _near_duplicates():
    base = _rng(12).normal(size=(12, 3))
    off = _rng(13).normal(size=(6, 3))
    off /= np.linalg.norm(off, axis=1)[:, None]
    return _mp_points(np.vstack([base, base[:6] + 1e-6 * off]), "euclidean")


def _two_clusters():
    # two tight clusters far apart: Z is ill-conditioned at every scale where |tX| ~ 2
    r = _rng(14)
    X = np.vstack([1e-3 * r.normal(size=(8, 2)), [10.0, 0.0] + 1e-3 * r.normal(size=(8, 2))])
    return _mp_points(X, "euclidean")


def _random_graph():
    G = nx.connected_watts_strogatz_graph(18, 4, 0.3, seed=5)
    r = _rng(15)
    for u, v in G.edges:
        G[u][v]["weight"] = float(r.integers(1, 4))
    D = mm.distance_matrix(G)
    return G, None, functools.lru_cache(None)(
        functools.partial(mp_magnitude, mp_from_float_matrix(D))
    )


MPMATH = {
    "gauss_R3": _gauss,
    "l1_cloud_R5": _l1_cloud,
    "near_duplicates_1e-6": _near_duplicates,
    "two_tight_clusters": _two_clusters,
    "weighted_graph": _random_graph,
}
ALL_CASES = {**CLOSED_FORMS, **MPMATH}


@functools.lru_cache(None)
def _case(name):
    return ALL_CASES[name]()




@functools.lru_cache(None)
def case(name):
    return ALL_CASES[name]()

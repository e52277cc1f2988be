"""Study: how close are the certified lambda_min bounds, and what does a tighter one save?

Question (issue 7): the certificate's upper bound charges ||r||^2 / lambda, so a weak lower
bound lambda on lambda_min(Z(t)) costs iterations (or, where it vanishes, certification).
Three parts, each optional:

* ``--ratios``: on 200 Gaussian points (seed d) in each of ``--dims``, at t = 0.01 ... 30,
  the true lambda_min (numpy's eigvalsh) over the separation bound and over the
  subordination bound (both ``metric_magnitude.solvers.iterative``);
* ``--function``: a magnitude function's 20 scales over [t_conv / 1000, t_conv] of ``--n``
  Gaussian points in R^3, solved in one chain with derivatives (as ``magnitude_function``'s
  per-scale engine), with the subordination bound switched off (the separation bound
  alone, as before it), with it but certificates still also triggered by r^T M^-1 r (as
  before ``iterative._SUBORDINATION_SKIPS_RZ_TEST``), and as now, alternating,
  ``--repeats`` times: time, iterations and products with Z;
* ``--cost N:D ...``: the subordination bound's one-off cost for N Gaussian points in R^D,
  its neighbour search (two threads) and its profile, timed apart;
* ``--embeddings N``: N clustered points in R^768 (8 centres, spread 0.3; "embeddings"),
  one certified solve at t = 0.05, 0.5 and 5 (rtol 1e-6), against the dense Cholesky value.

Usage::

    .venv/bin/python benchmarks/study_eigenvalue_bounds.py --ratios --dims 1 3 10 50 768
    .venv/bin/python benchmarks/study_eigenvalue_bounds.py --function --n 20000 --repeats 2
    .venv/bin/python benchmarks/study_eigenvalue_bounds.py --embeddings 5000
    .venv/bin/python benchmarks/study_eigenvalue_bounds.py --cost 100000:3 100000:10 20000:768
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import _common


def ratios(dims) -> list[dict]:
    import numpy as np
    from scipy.spatial.distance import cdist

    from metric_magnitude.solvers.iterative import separation_bound, subordination_bound

    rows = []
    ts = [0.01, 0.1, 1.0, 5.0, 30.0]
    for d in dims:
        X = np.random.default_rng(d).standard_normal((200, d))
        D = cdist(X, X)
        q = float(D[D > 0].min())
        sub = subordination_bound(ts, X)
        for t, c in zip(ts, sub, strict=True):
            lam = float(np.linalg.eigvalsh(np.exp(-t * D))[0])
            rows.append({"d": d, "t": t, "lambda_min": lam, "subordination": float(c),
                         "separation": separation_bound(t, q, d)})
    print("| d | t | λ_min | λ_min / subordination | λ_min / separation |")
    print("|---|---|---|---|---|")
    for r in rows:
        sep = r["lambda_min"] / r["separation"] if r["separation"] > 0 else float("inf")
        print(f"| {r['d']} | {r['t']:g} | {r['lambda_min']:.3g} | "
              f"{r['lambda_min'] / r['subordination']:.2f} | {sep:.3g} |")
    return rows


@contextlib.contextmanager
def _configured(name: str):
    """"separation" (no subordination bound), "subordination+rz" (certificates also on
    r^T M^-1 r) or "subordination" (the solver as it is)."""
    import numpy as np

    from metric_magnitude.solvers import iterative

    original = iterative._subordination_profile, iterative._SUBORDINATION_SKIPS_RZ_TEST
    if name == "separation":  # a profile that bounds nothing: the separation bound alone
        iterative._subordination_profile = lambda op: (np.array([0.0]), np.array([0.0]))
    iterative._SUBORDINATION_SKIPS_RZ_TEST = name == "subordination"
    try:
        yield
    finally:
        iterative._subordination_profile, iterative._SUBORDINATION_SKIPS_RZ_TEST = original


def function(n: int, t_conv: float, repeats: int, rtol: float) -> list[dict]:
    import numpy as np

    from metric_magnitude.solvers.iterative import solve_iterative

    X = np.random.default_rng(0).standard_normal((n, 3))
    scales = np.geomspace(t_conv / 1000, t_conv, 20)
    runs = {"separation": [], "subordination+rz": [], "subordination": []}
    counts = {}
    for _ in range(repeats):
        for name in runs:
            with _configured(name):
                t0 = time.perf_counter()
                res = solve_iterative(X, scales, rtol=rtol, weights=False, derivative=True)
                runs[name].append(time.perf_counter() - t0)
            counts[name] = (int(res.iterations.sum()), int(res.matvecs.sum()),
                            sorted(set(res.lambda_bound_source)), bool(res.certified.all()))
            print(f"# {name}: {runs[name][-1]:.1f} s, {counts[name]}", flush=True)
    print("\n| λ bound | time (s), runs | median | iterations | products with Z | sources "
          "| all certified |")
    print("|---|---|---|---|---|---|---|")
    for name, ts in runs.items():
        its, mvs, src, ok = counts[name]
        print(f"| {name} | {', '.join(f'{x:.1f}' for x in ts)} | {statistics.median(ts):.1f} "
              f"| {its} | {mvs} | {', '.join(src)} | {ok} |")
    return [{"bound": k, "seconds": v, "counts": counts[k]} for k, v in runs.items()]


def cost(cases) -> list[dict]:
    import numpy as np

    from metric_magnitude.solvers import _subordination as sub

    rows = []
    for case in cases:
        n, d = (int(x) for x in case.split(":"))
        X = np.random.default_rng(0).standard_normal((n, d))
        t0 = time.perf_counter()
        A = sub.nearest_squared_distances(X, sub.NEIGHBOURS, threads=2)
        t1 = time.perf_counter()
        sub.gershgorin_profile(A, n)
        t2 = time.perf_counter()
        rows.append({"n": n, "d": d, "neighbours_s": t1 - t0, "profile_s": t2 - t1,
                     "search": "k-d tree" if d <= sub._TREE_MAX_DIM else "Gram blocks"})
        print(f"# {rows[-1]}", flush=True)
    print("| n | d | neighbour search | search (s) | profile (s) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['d']} | {r['search']} | {r['neighbours_s']:.2f} | "
              f"{r['profile_s']:.2f} |")
    return rows


def embeddings(n: int, rtol: float) -> dict:
    import numpy as np

    import metric_magnitude as mm
    from metric_magnitude.solvers.iterative import solve_iterative

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((8, 768))[rng.integers(8, size=n)]
         + 0.3 * rng.standard_normal((n, 768)))
    ts = [0.05, 0.5, 5.0]
    t0 = time.perf_counter()
    res = solve_iterative(X, ts, rtol=rtol, weights=False)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, dense = mm.solve(X, np.array(ts), method="cholesky")
    dense_s = time.perf_counter() - t0
    print("| t | \\|tX\\| | certified gap | inside | λ bound (source) | iterations |")
    print("|---|---|---|---|---|---|")
    for i, t in enumerate(ts):
        inside = bool(res.lower[i] <= dense.magnitude[i] * (1 + 1e-11)
                      and res.upper[i] >= dense.magnitude[i] * (1 - 1e-11))
        print(f"| {t:g} | {res.magnitude[i]:.6g} | {res.gap[i]:.1e} | {inside} | "
              f"{res.lambda_min_bound[i]:.3g} ({res.lambda_bound_source[i]}) | "
              f"{res.iterations[i]} |")
    print(f"\ncg {seconds:.1f} s for the three scales; dense Cholesky {dense_s:.1f} s")
    return {"n": n, "seconds": seconds, "dense_s": dense_s, "dense": dense.magnitude.tolist(),
            "lower": res.lower.tolist(), "upper": res.upper.tolist(),
            "iterations": res.iterations.tolist(), "sources": list(res.lambda_bound_source)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", action="store_true")
    parser.add_argument("--dims", type=int, nargs="*", default=[1, 3, 10, 50, 768])
    parser.add_argument("--function", action="store_true")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--t-conv", type=float, default=57.2136,
                        help="the convergence scale (default: that of 20,000 points)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--embeddings", type=int, default=0, metavar="N")
    parser.add_argument("--cost", nargs="*", default=[], metavar="N:D")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    _common.import_metric_magnitude()
    print(f"# {_common.utc_now()}, commit {_common.git_commit()}, {_common.cpu_model()}")
    out = {}
    if args.ratios:
        out["ratios"] = ratios(args.dims)
    if args.function:
        out["function"] = function(args.n, args.t_conv, args.repeats, args.rtol)
    if args.cost:
        out["cost"] = cost(args.cost)
    if args.embeddings:
        out["embeddings"] = embeddings(args.embeddings, args.rtol)
    _common.write_results(args.out, out)


if __name__ == "__main__":
    main()

"""What does a magnitude function cost when the dense matrices do not fit (the per-scale engine)?

Question (issue 7): the magnitude function of n Gaussian points in R^3 (seed 0) on 20 scales,
``mm.magnitude_function(X, "auto", n_scales=20, rtol=1e-6, method=...)``: every scale is a
certified solve (sparse at large scales, matrix-free CG elsewhere), after the convergence-scale
search that fixes the range [t_conv / 1000, t_conv]. Reported: the total time, the search's
share, and for each scale the method, the CG iterations and the time of a cold solve
(``--per-scale``; the function itself warm-starts each scale from the previous one).

With ``method="auto"`` the engine is chosen by memory: points whose dense matrices fit get the
reduced basis instead, so below about 30,000 points on a 24 GB machine pass ``--method cg`` to
time the per-scale engine (then the large scales use CG, not the sparse solver).

Usage::

    .venv/bin/python benchmarks/bench_large_function.py --n 20000 --method cg --per-scale
    .venv/bin/python benchmarks/bench_large_function.py --n 10000 --method cg --per-scale --double
    .venv/bin/python benchmarks/bench_large_function.py --n 100000 --skip-search [--log]
    .venv/bin/python benchmarks/bench_large_function.py --n 100000 --search-only
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=20_000)
    parser.add_argument("--method", default="auto", choices=["auto", "cg", "sparse"])
    parser.add_argument("--skip-search", action="store_true",
                        help="do not time the convergence-scale search on its own (the "
                             "function's time includes its own search)")
    parser.add_argument("--search-only", action="store_true",
                        help="time only the convergence-scale search, listing its solves")
    parser.add_argument("--per-scale", action="store_true",
                        help="also time a cold solve at each scale (about doubles the run)")
    parser.add_argument("--double", action="store_true",
                        help="with --per-scale and --method cg: also time each cold solve "
                             "with precision='double', the baseline of the default 'mixed'")
    parser.add_argument("--log", action="store_true",
                        help="print the solvers' log lines (each scale's bounds, iterations "
                             "and seconds) with timestamps on stderr as they come")
    args = parser.parse_args()
    if args.log:
        import logging

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("metric_magnitude").addHandler(handler)
        logging.getLogger("metric_magnitude").setLevel(logging.INFO)
    mm, X = _common.gaussian_points("bench_large_function.py", args, method=args.method)
    from metric_magnitude.solvers.iterative import solve_iterative

    if args.search_only:
        _search_only(mm, X, args)
        return
    t_conv = search = None
    if not args.skip_search:
        t0 = time.perf_counter()
        t_conv = mm.convergence_scale(X, method=args.method)
        search = time.perf_counter() - t0
    with _iterative_chains() as chains:
        t0 = time.perf_counter()
        f = mm.magnitude_function(X, "auto", n_scales=args.n_scales, rtol=args.rtol,
                                  method=args.method)
        total = time.perf_counter() - t0
    out = {
        "n": args.n, "d": args.d, "rtol": args.rtol, "method": args.method,
        "t_conv": t_conv, "search_s": search, "function_s": total, "solver": f.solver,
        "error_estimate": f.error_estimate, "scales": f.scales.tolist(),
        "values": f.values.tolist(), "peak_rss_mb": _peak_mb(),
        "load_after": os.getloadavg(),
    }
    if search is not None:
        print(f"convergence scale {t_conv:.6g}: {search:.1f} s (the function repeats this "
              "search)")
    out["cg_chains"] = chains
    for c in chains:
        if len(c["t"]) > 1:  # the function's own chain (the search solves one scale a call)
            print(f"cg chain of {len(c['t'])} scales: {c['seconds']:.1f} s, iterations "
                  f"{c['iterations']}")
    out["certified_error"] = f.certified_error
    print(f"magnitude_function, {args.n_scales} scales: {total:.1f} s in all, engine "
          f"{f.solver!r}, certified relative error of the values <= {f.certified_error:.1e}, "
          f"estimated error of the interpolant {f.error_estimate:.1e}, peak RSS "
          f"{out['peak_rss_mb']:.0f} MB\n")
    if args.per_scale:
        double = args.double and args.method == "cg"
        print("| t | \\|tX\\| / n | method | CG iterations | cold solve (s) |"
              + (" iterations, double | cold solve, double (s) |" if double else ""))
        print("|---|---|---|---|---|" + ("---|---|" if double else ""))
        rows = []
        for t in f.scales:
            row = {"t": float(t)}
            for precision in ("mixed", "double") if double else ("mixed",):
                t0 = time.perf_counter()
                if args.method == "cg":  # the same solve as mm.solve's, with its iterations
                    res = solve_iterative(X, [t], rtol=args.rtol, weights=False,
                                          precision=precision)
                    used, its = "cg", int(res.iterations[0])
                else:
                    _, res = mm.solve(X, [t], method=args.method, rtol=args.rtol,
                                      weights=False)
                    used, its = res.methods[0], ""
                key = "" if precision == "mixed" else "_double"
                row.update({"magnitude" + key: float(res.magnitude[0]), "method": used,
                            "iterations" + key: its,
                            "seconds" + key: time.perf_counter() - t0})
            rows.append(row)
            line = (f"| {t:.4g} | {row['magnitude'] / args.n:.4f} | {used} | "
                    f"{row['iterations']} | {row['seconds']:.1f} |")
            if double:
                line += f" {row['iterations_double']} | {row['seconds_double']:.1f} |"
            print(line, flush=True)
        out["per_scale"] = rows
        if double:
            mixed_s = sum(r["seconds"] for r in rows)
            double_s = sum(r["seconds_double"] for r in rows)
            print(f"\ncold solves in all: mixed {mixed_s:.1f} s, double {double_s:.1f} s "
                  f"({double_s / mixed_s:.2f}x)")
    _common.write_results(args.out, out)


@contextlib.contextmanager
def _recorded(module, name: str, summary):
    """Replace ``module.name`` by a wrapper that records, for every call made inside,
    ``summary(args, kwargs, result)`` and the call's seconds; yields the list of records.
    (The solvers look these functions up on their modules when they run.)"""
    calls = []
    original = getattr(module, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = original(*args, **kwargs)
        calls.append({**summary(args, kwargs, out), "seconds": time.perf_counter() - t0})
        return out

    setattr(module, name, timed)
    try:
        yield calls
    finally:
        setattr(module, name, original)


def _iterative_chains():
    """Record every `solve_iterative` call made inside: scales, seconds, iterations."""
    from metric_magnitude.solvers import iterative

    return _recorded(iterative, "solve_iterative", lambda args, kwargs, res: {
        "t": res.scales.tolist(), "iterations": res.iterations.tolist(),
        "matvecs": res.matvecs.tolist(), "preconditioners": list(res.preconditioners)})


def _search_only(mm, X, args) -> None:
    """Time `convergence_scale` alone, printing every solve it makes (scale, tolerance,
    method, |tX| / n, seconds)."""
    from metric_magnitude import core

    def summary(call_args, kwargs, out):
        res = out[1]
        return {"t": float(call_args[1][0]), "rtol": kwargs.get("rtol"),
                "derivative": bool(kwargs.get("derivative", False)),
                "method": res.methods[0], "magnitude": float(res.magnitude[0])}

    with _recorded(core, "solve", summary) as solves:
        t0 = time.perf_counter()
        t_conv = mm.convergence_scale(X, method=args.method)
        search = time.perf_counter() - t0
    print("| t | rtol | derivative | method | \\|tX\\| / n | seconds |")
    print("|---|---|---|---|---|---|")
    for r in solves:
        print(f"| {r['t']:.5g} | {r['rtol']:g} | {r['derivative']} | {r['method']} | "
              f"{r['magnitude'] / args.n:.5f} | {r['seconds']:.1f} |")
    print(f"\nconvergence scale {t_conv:.8g}: {search:.1f} s, {len(solves)} solves")
    _common.write_results(args.out, {"t_conv": t_conv, "search_s": search, "solves": solves})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()

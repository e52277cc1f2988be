"""Time magnipy 1.0.0 on the benchmark data; runs in benchmarks/.venv-magnipy only.

Called by bench_functions.py as a subprocess; prints one JSON line. Only calls magnipy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--n-ts", type=int, default=100)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    import torch
    from magnipy import Magnipy

    if args.threads:
        torch.set_num_threads(args.threads)
    X = np.random.default_rng(args.n).normal(size=(args.n, args.dim))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        m = Magnipy(X, n_ts=args.n_ts, target_prop=0.95, method="cholesky")
        mag, ts = m.get_magnitude()
    seconds = time.perf_counter() - start
    print(
        json.dumps({"seconds": seconds, "ts": list(map(float, ts)), "mag": list(map(float, mag))})
    )


if __name__ == "__main__":
    main()

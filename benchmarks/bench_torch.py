"""How fast is the PyTorch backend's dense magnitude (and its gradient) on the GPU against the CPU?

Question (issue 8): `metric_magnitude.torch.magnitude(X, t)` on Gaussian points in R^10 at
t = 1 (well conditioned, so float32 factorises too), for each device (CPU, and CUDA when
available) and dtype (float64, float32):

  * ``forward``: the magnitude alone (distances, Z, one Cholesky factorisation, one solve);
  * ``forward+backward``: the magnitude and its gradient with respect to the points and t
    (the implicit gradient: O(n^2) work after the factorisation, no second factorisation);
  * the relative difference from the numpy core ``mm.magnitude`` (float64, CPU), for
    n <= --check-max;
  * the peak GPU memory of one forward+backward.

The numpy core's own time (``mm.magnitude``, CPU, float64) is measured beside the torch CPU
rows, for n <= --numpy-max. Medians over --repeats runs after one warm-up run; on the GPU
every timed run ends with ``torch.cuda.synchronize()``. Sizes that do not fit in the device's
memory are reported as such (the backend refuses them before allocating).

Usage::

    .venv/bin/python benchmarks/bench_torch.py                       # CPU, and CUDA if present
    .venv/bin/python benchmarks/bench_torch.py --sizes 200 400 --repeats 1   # a smoke run
    .venv/bin/python benchmarks/bench_torch.py --devices cuda --out torch.json
    .venv/bin/python benchmarks/bench_torch.py --accuracy      # errors only, no timings

Default sizes: 500, 1000 and 2000 on the CPU; 1000 to 50,000 on the GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import _common

CPU_SIZES = [500, 1000, 2000]
CUDA_SIZES = [1000, 2000, 5000, 10_000, 20_000, 50_000]
DIM, SCALE = 10, 1.0


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _median_time(fn, device: str, repeats: int) -> float:
    fn()  # warm-up: kernels, allocator, BLAS threads
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_case(n: int, device: str, dtype_name: str, repeats: int, check_max: int,
             reference: dict) -> dict:
    import numpy as np
    import torch

    import metric_magnitude as mm
    import metric_magnitude.torch as mmt

    dtype = getattr(torch, dtype_name)
    X64 = np.random.default_rng(0).standard_normal((n, DIM))
    X = torch.from_numpy(X64).to(device=device, dtype=dtype)
    row = {"n": n, "device": device, "dtype": dtype_name}

    def forward():
        return mmt.magnitude(X, SCALE)

    def forward_backward():
        Xg = X.detach().requires_grad_()
        t = torch.tensor(SCALE, dtype=dtype, device=device, requires_grad=True)
        m = mmt.magnitude(Xg, t)
        m.backward()
        return m

    try:
        row["forward_s"] = _median_time(forward, device, repeats)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        row["forward_backward_s"] = _median_time(forward_backward, device, repeats)
        if device == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    except (mm.InsufficientMemoryError, torch.OutOfMemoryError) as exc:
        row["error"] = f"does not fit: {str(exc).split(';')[0]}"
        return row
    if n <= check_max:
        if n not in reference:
            reference[n] = mm.magnitude(X64, SCALE)
        value = float(forward())
        row["rel_diff_vs_core"] = abs(value - reference[n]) / reference[n]
    return row


def run_numpy(n: int, repeats: int) -> dict:
    import numpy as np

    import metric_magnitude as mm

    X = np.random.default_rng(0).standard_normal((n, DIM))
    return {"n": n, "device": "cpu", "dtype": "numpy core",
            "forward_s": _median_time(lambda: mm.magnitude(X, SCALE), "cpu", repeats)}


def accuracy(sizes: list[int], device: str) -> str:
    """Errors of |tX|, w and d|tX|/dX in float64 and float32 against the numpy core.

    The reference gradient is the float64 torch gradient on the CPU, which the tests check
    against central differences of the core (relative 1e-7) and gradcheck.
    """
    import warnings

    import numpy as np
    import torch

    import metric_magnitude as mm
    import metric_magnitude.torch as mmt

    lines = [
        "| n | d | t | magnitude | dtype | rel. error of the magnitude | of w (max-norm) "
        "| of the gradient |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        for d in (3, DIM):
            X = np.random.default_rng(0).standard_normal((n, d))
            for t in (0.1, 1.0, 10.0):
                m_ref, w_ref = mm.magnitude(X, t), mm.weights(X, t)
                Xg = torch.from_numpy(X).requires_grad_()
                mmt.magnitude(Xg, t).backward()
                g_ref = Xg.grad.numpy()
                for dtype in (torch.float64, torch.float32):
                    Xd = torch.from_numpy(X).to(device=device, dtype=dtype).requires_grad_()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        try:
                            m = mmt.magnitude(Xd, t)
                            m.backward()
                            w = mmt.weights(Xd.detach(), t).cpu().double().numpy()
                        except mm.NotPositiveDefiniteError:
                            lines.append(f"| {n} | {d} | {t:g} | {m_ref:.4g} | "
                                         f"{str(dtype)[6:]} | no Cholesky factor | | |")
                            continue
                    mark = " (warned)" if caught else ""
                    g = Xd.grad.cpu().double().numpy()
                    g_err = np.abs(g - g_ref).max() / np.abs(g_ref).max()
                    is_ref = dtype == torch.float64 and device == "cpu"
                    g_txt = "reference" if is_ref else f"{g_err:.1e}"
                    lines.append(
                        f"| {n} | {d} | {t:g} | {m_ref:.4g} | {str(dtype)[6:]}{mark} "
                        f"| {abs(m.item() - m_ref) / m_ref:.1e} "
                        f"| {np.abs(w - w_ref).max() / np.abs(w_ref).max():.1e} "
                        f"| {g_txt} |"
                    )
    return "\n".join(lines)


def _fmt(row: dict, key: str, spec: str) -> str:
    return format(row[key], spec) if key in row else ""


def table(rows: list[dict]) -> str:
    lines = [
        "| device | dtype | n | forward (s) | forward+backward (s) | peak GPU memory (GiB) "
        "| rel. diff. vs numpy core |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['device']} | {r['dtype']} | {r['n']} | {r['error']} | | | |")
            continue
        lines.append(
            f"| {r['device']} | {r['dtype']} | {r['n']} | {_fmt(r, 'forward_s', '.4f')} "
            f"| {_fmt(r, 'forward_backward_s', '.4f')} | {_fmt(r, 'peak_gib', '.2f')} "
            f"| {_fmt(r, 'rel_diff_vs_core', '.1e')} |"
        )
    return "\n".join(lines)


def machine() -> dict:
    import torch

    info = {
        "date": _common.utc_now(),
        "commit": _common.git_commit(),
        "cpu": _common.cpu_model(),
        "cpus": _common.cpus_available(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": _common.thread_env(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="numbers of points (default: 500 1000 2000 on CPU, up to 50000 on CUDA)")
    ap.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None,
                    help="default: cpu, and cuda when available")
    ap.add_argument("--dtypes", nargs="+", choices=["float64", "float32"],
                    default=["float64", "float32"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check-max", type=int, default=5000,
                    help="compare with the numpy core up to this n")
    ap.add_argument("--numpy-max", type=int, default=2000,
                    help="time the numpy core beside the torch CPU rows up to this n")
    ap.add_argument("--out", default=None, help="write the rows and the machine as JSON")
    ap.add_argument("--accuracy", action="store_true",
                    help="only print the accuracy table (errors against the numpy core) "
                         "for --sizes (default 200 1000) on the first device")
    _common.add_threads_option(ap)
    args = ap.parse_args(argv)
    _common.pin_threads(args.threads)
    _common.import_metric_magnitude()

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if "cuda" in devices and not torch.cuda.is_available():
        ap.error("--devices cuda: no CUDA device is available")
    if args.accuracy:
        print(accuracy(args.sizes or [200, 1000], devices[0]))
        return
    reference: dict = {}
    rows = []
    for device in devices:
        sizes = args.sizes or (CUDA_SIZES if device == "cuda" else CPU_SIZES)
        for n in sizes:
            if device == "cpu" and n <= args.numpy_max:
                rows.append(run_numpy(n, args.repeats))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
            for dtype in args.dtypes:
                rows.append(run_case(n, device, dtype, args.repeats, args.check_max, reference))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    info = machine()
    print()
    print(f"Gaussian points in R^{DIM}, t = {SCALE:g}; medians of {args.repeats} runs; "
          f"{info.get('gpu', 'no GPU')}; CPU {info['cpu']} ({info['cpus']} cores, "
          f"torch threads {info['torch_threads']}); torch {info['torch']}")
    print()
    print(table(rows))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"machine": info, "rows": rows, "dim": DIM, "scale": SCALE,
                       "repeats": args.repeats}, fh, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

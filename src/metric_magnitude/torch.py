"""PyTorch backend: differentiable magnitude and weights of point clouds, on CPU and CUDA.

`magnitude` and `weights` take a torch tensor of points (or of distances, with
``metric="precomputed"``) and a scale t, and return tensors on the same device and of the same
dtype (float32 or float64) that autograd can differentiate with respect to the points, the
distances and t.

The gradient is implicit, not back-propagation through a factorisation. With Z = exp(-t D)
(elementwise), w = Z^{-1} 1 and an upstream gradient v = dL/dw, let u = Z^{-1} v (for the
magnitude, v = g 1 and u = g w: no solve at all). Differentiating Z w = 1 gives
dw = -Z^{-1} (dZ) w, so with M = (u w^T) o Z (o: elementwise product)

    dL/dD_ij = t M_ij,    dL/dt = sum_ij M_ij D_ij = u^T (D o Z) w:

one Cholesky factorisation in the forward pass, then O(n^2) work (plus one solve with the
saved factor for `weights`). For Euclidean points the chain through the distances is
dL/dx_i = t sum_j H_ij (x_i - x_j) with H = (M + M^T) / D off the diagonal: one matrix
product. Coincident points are merged first (as the numpy core does), so no 0/0 arises.

Only first derivatives are supported: differentiating the gradient again (double backward)
raises an error.

Accuracy (measured in ``docs/guide-torch.md``): in float64 the magnitude agrees with the numpy
core (`metric_magnitude.magnitude`) to about 1e-15 relative and the weights to cond(Z) eps
(at most 3e-13 there). float32 solves in float32: the magnitude to about 2e-7 relative, the
weights and gradients to 1e-6 .. 2e-4 there. An `IllConditionedWarning` says when the weights
may be worse than 1e-4 (small t, nearly coincident points), and `NotPositiveDefiniteError`
when Z(t) has no Cholesky factor in the working precision.

Examples
--------
>>> import torch
>>> import metric_magnitude.torch as mmt
>>> X = torch.tensor([[0.0], [1.0]], dtype=torch.float64, requires_grad=True)
>>> m = mmt.magnitude(X, 1.0)          # two points: 2 / (1 + e^-1)
>>> round(m.item(), 10)
1.4621171573
>>> m.backward()
>>> X.grad.flatten().tolist()          # -+ 2 e^-1 / (1 + e^-1)^2
[-0.39322386648296..., 0.39322386648296...]
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._optional import import_optional
from ._validation import (
    _SYMMETRY_RTOL,
    available_memory,
    check_distance_matrix,
    check_points,
    check_scales,
)
from .exceptions import (
    IllConditionedWarning,
    InsufficientMemoryError,
    InvalidInputError,
    NotPositiveDefiniteError,
)
from .solvers.dense import _WARN_WEIGHT_ERROR
from .spaces import _groups_in_order

torch = import_optional("torch")

__all__ = ["METRICS", "magnitude", "weights"]

# metric name -> p of torch.cdist; 0 stands for a precomputed distance matrix
METRICS = {
    "euclidean": 2,
    "l2": 2,
    "cityblock": 1,
    "manhattan": 1,
    "l1": 1,
    "precomputed": 0,
}
_PRECOMPUTED_NAME = "X (a precomputed distance matrix)"  # as the core names it

# Dense (n, n) matrices alive at the peak: D, Z and its Cholesky factor in the forward pass;
# D, M and M + M^T in the backward pass, plus the saved factor for `weights`.
_MATRICES_MAGNITUDE = 3.5
_MATRICES_WEIGHTS = 4.5

# Rows per block in the l1 gradient: the (rows, n, d) temporaries stay near this many entries.
_L1_BLOCK_ENTRIES = 1 << 22


# ----------------------------------------------------------------------------- validation


def _raise_like_core(check, value, **kwargs):
    """Run the core's check on a CPU numpy copy, so the message is the core's own.

    Called only once the cheap tests on the device found a problem.
    """
    arr = value.detach().cpu()
    if arr.is_conj():
        arr = arr.resolve_conj()
    check(arr.numpy(), **kwargs)
    raise InvalidInputError(f"invalid input for {kwargs.get('name', 'X')}")  # pragma: no cover


def _as_tensor(X, name: str):
    """A float32/float64 tensor from a tensor, or from an array-like (checked as points)."""
    if not isinstance(X, torch.Tensor):
        return torch.from_numpy(check_points(X, name=name))
    if X.is_complex():
        _raise_like_core(check_points, X, name=name)
    if X.dtype in (torch.float16, torch.bfloat16):
        raise InvalidInputError(
            f"{name} has dtype {X.dtype}; the torch backend computes in float32 or float64 "
            f"(Cholesky has no half-precision kernels): convert with {name}.float()"
        )
    if not X.is_floating_point():  # integers and booleans: float64, as the numpy core does
        X = X.to(torch.float64)
    return X


def _check_point_tensor(X, name: str):
    X = _as_tensor(X, name)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0 or not bool(torch.isfinite(X).all()):
        _raise_like_core(check_points, X, name=name)
    return X


def _check_distance_tensor(D):
    D = _as_tensor(D, _PRECOMPUTED_NAME) if isinstance(D, torch.Tensor) else torch.from_numpy(
        check_distance_matrix(D, name=_PRECOMPUTED_NAME))
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] == 0:
        _raise_like_core(check_distance_matrix, D, name=_PRECOMPUTED_NAME)
    Dd = D.detach()
    # the core's tolerance in float64; float32 round-off in a user's own distances is larger
    rtol = max(_SYMMETRY_RTOL, 4.0 * torch.finfo(D.dtype).eps if D.dtype != torch.float64 else 0)
    finite = torch.isfinite(Dd).all()
    tol = rtol * torch.clamp(torch.nan_to_num(Dd, posinf=0.0).abs().max(),
                             min=torch.finfo(D.dtype).tiny)
    bad = (
        ~finite
        | (Dd < -tol).any()
        | ((Dd - Dd.mT).abs() > tol).any()
        | (Dd.diagonal().abs() > tol).any()
    )
    if bool(bad):
        _raise_like_core(check_distance_matrix, D, name=_PRECOMPUTED_NAME)
    return D


def _check_scale(t, like):
    """(t as a 0-d tensor of X's dtype and device, keeping its graph; t as a float), or the
    core's error."""
    if isinstance(t, torch.Tensor):
        if t.numel() != 1 or t.ndim > 1:
            raise InvalidInputError(
                f"t must be one scale (a number or a 0-d tensor), got a tensor of shape "
                f"{tuple(t.shape)}; the torch backend solves one scale per call: loop over them"
            )
        if t.is_complex() or not t.is_floating_point():
            check_scales(t.detach().cpu().numpy().reshape(()))  # the core's message
            t = t.to(like.dtype)
        value = float(t.detach().reshape(()))
        check_scales(value)
        return t.reshape(()).to(device=like.device, dtype=like.dtype), value
    scales, scalar = check_scales(t)
    if not scalar or scales.shape[0] != 1:
        raise InvalidInputError(
            f"t must be one scale (a number or a 0-d tensor), got {scales.shape[0]} scales; "
            "the torch backend solves one scale per call: loop over them"
        )
    value = float(scales[0])
    return torch.tensor(value, dtype=like.dtype, device=like.device), value


def _check_metric(metric) -> int:
    key = metric.lower() if isinstance(metric, str) else metric
    if key not in METRICS:
        raise InvalidInputError(
            f"unknown metric {metric!r} for the torch backend: use 'euclidean' (or 'l2'), "
            "'cityblock' (or 'manhattan', 'l1'), or 'precomputed' with a distance tensor "
            "(compute other distances with torch and pass them that way)"
        )
    return METRICS[key]


def _free_memory(device) -> float:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        # memory torch has cached but not handed out is free for our tensors too
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "cpu":
        return available_memory()
    return math.inf  # other backends do not say; let the allocator decide


def _check_memory(n: int, matrices: float, dtype, device) -> None:
    """Refuse early, naming the largest n that fits, rather than fail inside the allocator."""
    size = torch.finfo(dtype).bits // 8
    need = matrices * size * n * n
    free = _free_memory(device)
    if need > free:
        n_max = int(math.sqrt(free / (matrices * size)))
        raise InsufficientMemoryError(
            f"the torch backend needs about {need / 2**30:.1f} GiB for n = {n} points "
            f"({matrices:g} dense {n}x{n} {str(dtype).removeprefix('torch.')} matrices) but only "
            f"{free / 2**30:.1f} GiB is free on {device}; n may be at most about {n_max} there: "
            "subsample the points, or use float32 or a device with more memory"
        )


# ----------------------------------------------------------------------------- distances


def _pairwise(X, p: int):
    # the direct formula, not the |x|^2 + |y|^2 - 2 x.y shortcut, which cancels for close
    # points; its diagonal is exactly 0
    return torch.cdist(X, X, p=float(p), compute_mode="donot_use_mm_for_euclid_dist")


def _groups(zero) -> tuple[np.ndarray, np.ndarray] | None:
    """Connected groups of a boolean 'distance zero' matrix (diagonal excluded), or None."""
    zero = zero.clone()
    zero.fill_diagonal_(False)
    if not bool(zero.any()):
        return None
    ij = zero.nonzero().cpu().numpy()
    n = zero.shape[0]
    adj = coo_matrix((np.ones(ij.shape[0]), (ij[:, 0], ij[:, 1])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    return _groups_in_order(labels)


def _group_mean(A, labels, k: int, dim: int):
    """Mean of A's slices along ``dim`` over the groups: differentiable, O(size of A)."""
    shape = list(A.shape)
    shape[dim] = k
    total = torch.zeros(shape, dtype=A.dtype, device=A.device).index_add(dim, labels, A)
    count = torch.bincount(labels, minlength=k).to(A.dtype)
    return total / (count[:, None] if dim == 0 else count[None, :])


def _prepare(X, metric, matrices: float):
    """Checked input -> (solver input P, its distances D (detached), group labels or None, p).

    Points at distance 0 (the core's round-off rule: within 4 eps of the diameter) are merged
    into their mean, and copies in a distance matrix into the mean of their rows and columns:
    the magnitude is then that of the distinct points, as in the numpy core, and each copy
    receives an equal share of the merged point's gradient.
    """
    p = _check_metric(metric)
    if p == 0:
        P = _check_distance_tensor(X)
        # the user's matrix stays alive beside the cleaned copy
        _check_memory(P.shape[0], matrices + 1, P.dtype, P.device)
        with torch.no_grad():
            D = 0.5 * (P + P.mT)  # the core symmetrises round-off asymmetry too
            D.clamp_(min=0.0)
            D.fill_diagonal_(0.0)
            groups = _groups(D <= 0)
        if groups is None:
            return P, D, None, p
        labels = torch.from_numpy(groups[1]).to(P.device)
        k = groups[0].shape[0]
        P = _group_mean(_group_mean(P, labels, k, 0), labels, k, 1)
        with torch.no_grad():
            D = 0.5 * (P + P.mT)
            D.clamp_(min=0.0)
            D.fill_diagonal_(0.0)
        return P, D, labels, p
    P = _check_point_tensor(X, "X")
    _check_memory(P.shape[0], matrices, P.dtype, P.device)
    with torch.no_grad():
        D = _pairwise(P.detach(), p)
        tol = 4.0 * torch.finfo(P.dtype).eps * D.max()
        groups = _groups(D <= tol)
    if groups is None:
        return P, D, None, p
    labels = torch.from_numpy(groups[1]).to(P.device)
    P = _group_mean(P, labels, groups[0].shape[0], 0)
    with torch.no_grad():
        D = _pairwise(P.detach(), p)
    return P, D, labels, p


# ----------------------------------------------------------------------------- the solve


def _not_pd_error(t: float, p: int, dtype) -> NotPositiveDefiniteError:
    kind = str(dtype).removeprefix("torch.")
    if p == 0:
        state = "not positive definite"
        advice = (
            f" (or too ill-conditioned for a {kind} Cholesky factorisation); the torch backend "
            "factorises by Cholesky only: for a metric that is not of negative type use the "
            "numpy core, mm.magnitude(D.numpy(), t, metric='precomputed'), which switches to "
            "LDL^T"
        )
    else:
        state = (
            "numerically singular (the points are positive definite, but Z(t) is too "
            f"ill-conditioned at this scale for a {kind} Cholesky factorisation)"
        )
        advice = (
            "; use float64, a larger t, or the numpy core mm.magnitude, which has a small-t form"
        )
    return NotPositiveDefiniteError(f"Z(t) is {state} at t = {t!r}{advice}", scale=t)


def _warn_if_ill_conditioned(t: float, cond: float, dtype) -> None:
    if torch.finfo(dtype).eps * cond > _WARN_WEIGHT_ERROR:
        kind = str(dtype).removeprefix("torch.")
        # no estimate in the text: a training loop then sees it once per call site and scale
        # (Python's default filter), not once per step
        warnings.warn(
            f"Z(t) is ill-conditioned at t = {t!r} in {kind}: the magnitude is reliable but "
            f"the weights and the gradients may have relative errors above "
            f"{_WARN_WEIGHT_ERROR:.0e} (a small t, or near-duplicate points?"
            + (" float64 would help)" if dtype != torch.float64 else ")"),
            IllConditionedWarning,
            stacklevel=6,  # the caller of magnitude() or weights()
        )


class _Weighting(torch.autograd.Function):
    """Z(t) w = 1 by Cholesky; the implicit gradient in backward (see the module docstring).

    Inputs: P (points, or the distance matrix itself when p == 0), t (0-d), D (the
    distances of P, detached, zero diagonal), p, whether to return w or sum(w), and t as
    the user gave it (for messages).
    """

    @staticmethod
    def forward(ctx, P, t, D, p: int, want_weights: bool, t_value: float):
        n = D.shape[0]
        Z = D * -t
        Z.exp_()  # in place: one n x n temporary fewer
        mean_row_sum = Z.sum() / n
        L, info = torch.linalg.cholesky_ex(Z)
        del Z
        # A lower bound on cond_2(Z): lambda_max >= 1^T Z 1 / n (Rayleigh quotient) and
        # lambda_min <= min_i L_ii^2 (each pivot is a Schur complement, >= lambda_min). One
        # synchronisation for both numbers.
        failed, cond = torch.stack(
            [info.to(D.dtype), mean_row_sum / L.diagonal().min() ** 2]
        ).tolist()
        if failed != 0 or not math.isfinite(cond):
            raise _not_pd_error(t_value, p, D.dtype)
        _warn_if_ill_conditioned(t_value, cond, D.dtype)
        w = torch.cholesky_solve(torch.ones(n, 1, dtype=D.dtype, device=D.device), L)[:, 0]
        ctx.p = p
        ctx.want_weights = want_weights
        ctx.save_for_backward(P, t, D, w, L if want_weights else None)
        if want_weights:
            return w
        # a float64 sum costs nothing next to the solve and keeps float32 sums tidy
        return w.sum(dtype=torch.float64).to(D.dtype)

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():  # autograd enables it in backward only for create_graph
            # the returned gradient would not depend on the points (w and its factor were
            # computed outside the graph), so a gradient penalty would be silently wrong
            raise RuntimeError(
                "metric_magnitude.torch gives first derivatives only: its gradient cannot be "
                "differentiated again (create_graph=True, e.g. for a gradient penalty or a "
                "Hessian); compute such terms without create_graph, or by finite differences"
            )
        return _Weighting._backward(ctx, grad)

    @staticmethod
    def _backward(ctx, grad):
        P, t, D, w, L = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if ctx.want_weights:
            u = torch.cholesky_solve(grad[:, None], L)[:, 0]  # Z is symmetric: Z^-T v = Z^-1 v
        else:
            u = grad * w
        M = D * -t
        M.exp_().mul_(u[:, None]).mul_(w[None, :])  # M = (u w^T) o Z
        grad_t = torch.vdot(M.reshape(-1), D.reshape(-1)) if need_t else None
        grad_p = None
        if need_p:
            # D_ij and D_ji are one distance: its gradient is t (M + M^T)_ij
            S = M + M.mT if ctx.want_weights else M.mul_(2.0)
            del M
            S.fill_diagonal_(0.0)
            if ctx.p == 0:
                grad_p = S.mul_(0.5 * t)  # D enters through (D + D^T) / 2
            elif ctx.p == 2:
                S.div_(D)
                S.fill_diagonal_(0.0)  # 0 / 0: a point has no distance to itself to move
                grad_p = (P * S.sum(dim=1, keepdim=True) - S @ P).mul_(t)
            else:
                grad_p = _l1_gradient(P, S).mul_(t)
        return grad_p, grad_t, None, None, None, None


def _l1_gradient(P, S):
    """sum_j S_ij sign(x_i - x_j), coordinatewise, in row blocks to bound the temporaries."""
    n, d = P.shape
    out = torch.empty_like(P)
    step = max(1, _L1_BLOCK_ENTRIES // max(1, n * d))
    for r in range(0, n, step):
        sign = torch.sign(P[r:r + step, None, :] - P[None, :, :])
        out[r:r + step] = (sign * S[r:r + step, :, None]).sum(dim=1)
    return out


def _solve(X, t, metric, want_weights: bool):
    matrices = _MATRICES_WEIGHTS if want_weights else _MATRICES_MAGNITUDE
    P, D, labels, p = _prepare(X, metric, matrices)
    t, t_value = _check_scale(t, P)
    out = _Weighting.apply(P, t, D, p, want_weights, t_value)
    if labels is not None and want_weights:
        count = torch.bincount(labels).to(out.dtype)
        out = (out / count)[labels]  # copies share their point's weight equally
    return out


# ----------------------------------------------------------------------------- public API


def magnitude(X, t, *, metric: str = "euclidean"):
    r"""Magnitude `|tX| = \mathbf 1^T Z(t)^{-1} \mathbf 1` as a differentiable 0-d tensor.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d), or of shape (n, n) with ``metric="precomputed"``
        Points (rows), float32 or float64, on any device; may require grad. Integer tensors
        are read as float64; numpy arrays and lists become float64 CPU tensors. Repeated
        points are merged, as in the numpy core: the result is the magnitude of the distinct
        points, and each copy receives an equal share of the merged point's gradient.
    t : float or 0-d torch.Tensor
        One scale, finite and > 0; a tensor may require grad.
    metric : {"euclidean", "l2", "cityblock", "manhattan", "l1", "precomputed"}
        With ``"precomputed"``, X is a symmetric distance matrix with a zero diagonal (as in
        the numpy core), which may itself be computed by differentiable torch code. Z(t)
        must then be positive definite: the torch backend factorises by Cholesky only.

    Returns
    -------
    torch.Tensor
        0-d, of X's dtype and on X's device.

    Raises
    ------
    InvalidInputError
        Malformed input: the same messages as the numpy core (non-finite values, wrong
        shapes, empty sets, t <= 0 or not finite), and a half-precision dtype.
    NotPositiveDefiniteError
        Z(t) has no Cholesky factorisation in X's dtype at this scale (the message names the
        scale): a precomputed matrix that is not positive definite, or Z(t) too
        ill-conditioned (small t or nearly coincident points, mostly in float32).
    InsufficientMemoryError
        The dense matrices would not fit in the free memory of X's device.

    Warns
    -----
    IllConditionedWarning
        Z(t) is so ill-conditioned in X's dtype that the weights and the gradients may have
        relative errors above 1e-4 (the magnitude itself stays accurate).

    Notes
    -----
    Forward: one Cholesky factorisation of Z(t) = exp(-t D). Backward: the implicit gradient
    dL/dD = g t (w w^T) o Z and dL/dt = g w^T (D o Z) w, O(n^2) with no second solve; it
    is not differentiable again (``create_graph=True`` raises a ``RuntimeError``). In float64
    the value agrees with `metric_magnitude.magnitude` to about 1e-15 relative; float32
    accuracy is measured in ``docs/guide-torch.md``.

    Examples
    --------
    >>> import torch
    >>> import metric_magnitude.torch as mmt
    >>> X = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    >>> t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    >>> m = mmt.magnitude(X, t)                     # 1 + tanh(t / 2) + tanh(t)
    >>> round(m.item(), 10)
    1.7070358197
    >>> m.backward()                                # d/dt = (1/2) sech^2(t/2) + sech^2(t)
    >>> round(t.grad.item(), 10)
    1.2564551574
    """
    return _solve(X, t, metric, want_weights=False)


def weights(X, t, *, metric: str = "euclidean"):
    """The weighting w with Z(t) w = 1 as a differentiable (n,) tensor.

    Copies of a repeated point share its weight equally, as in the numpy core.

    Parameters
    ----------
    X, t, metric
        As in `magnitude`; so are the errors and warnings.

    Returns
    -------
    torch.Tensor of shape (n,)
        Of X's dtype and on X's device.

    Notes
    -----
    The backward pass solves once more with the saved Cholesky factor: for an upstream
    gradient v, u = Z^{-1} v, then dL/dD = t (u w^T) o Z (symmetrised) and
    dL/dt = u^T (D o Z) w. It holds one more n x n matrix than `magnitude`.

    Examples
    --------
    >>> import torch
    >>> import metric_magnitude.torch as mmt
    >>> w = mmt.weights(torch.tensor([[0.0], [1.0], [1.0]], dtype=torch.float64), 1.0)
    >>> w                                           # the copy of 1.0 shares its weight
    tensor([0.7311, 0.3655, 0.3655], dtype=torch.float64)
    """
    return _solve(X, t, metric, want_weights=True)

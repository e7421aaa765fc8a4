"""Numerical gradient check: central differences against backpropagation, every parameter.

`backpropagation` returns the gradient of the summed loss N*L, so the numerical gradient is
N * (L(theta + h) - L(theta - h)) / 2h, entry by entry. The error reported per parameter is the
relative error of the whole array, ||analytic - numeric|| / (||analytic|| + ||numeric||), which
stays meaningful where single entries are near zero.
"""

from __future__ import annotations

import numpy as np

from backproplab.checks import check_number, check_Xy
from backproplab.nn.defaults import GRADCHECK_STEP as STEP


def parameter_names(model) -> list[str]:
    """Names in the order of `model.parameters()`: W1, b1, W2, b2 or W[0], ..., b[0], ..."""
    if hasattr(model, "W"):
        L = len(model.W)
        return [f"W[{l}]" for l in range(L)] + [f"b[{l}]" for l in range(L)]
    return ["W1", "b1", "W2", "b2"]


def numerical_gradient(model, X, y, param, h=STEP):
    """Central differences of N * calculate_loss with respect to one parameter array (in place)."""
    grad = np.zeros_like(param)
    n = len(X)
    for idx in np.ndindex(param.shape):
        saved = param[idx]
        param[idx] = saved + h
        plus = model.calculate_loss(X, y)
        param[idx] = saved - h
        minus = model.calculate_loss(X, y)
        param[idx] = saved
        grad[idx] = n * (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


H_RANGE = (1e-12, 1.0)  # steps of a central difference that measure a float64 gradient


def gradcheck(model, X, y, h=STEP) -> dict[str, float]:
    """{parameter name: relative error} of backpropagation against central differences.

    X: (N, d) inputs, y: (N,) labels. Values below about 1e-7 in float64 mean agreement.
    """
    X, y = check_Xy(X, y, model.dims[0], model.n_classes, nonempty=True)
    check_number("h", h, low=0)
    if not H_RANGE[0] <= h <= H_RANGE[1]:  # 1e-320: every difference 0, every error 1.0;
        # 1e300: overflow, NaN errors -- a check that says nothing about backpropagation
        raise ValueError(f"h={h!r} is outside [{H_RANGE[0]:g}, {H_RANGE[1]:g}]: below, the "
                         "central difference is rounding error; above, overflow or curvature "
                         "(1e-5 is usual)")
    analytic = model.gradient_list(model.backpropagation(X, y))
    errors = {}
    for name, param, grad in zip(parameter_names(model), model.parameters(), analytic):
        errors[name] = relative_error(grad, numerical_gradient(model, X, y, param, h))
    return errors


def min_abs_net_input(model, X) -> float:
    """The smallest |z| of any hidden unit on X: ReLU's gradient check needs it away from 0."""
    model.feedforward(np.asarray(X, dtype=float))
    zs = model.z[:-1] if hasattr(model, "z") else [model.z1]
    return float(min(np.abs(z).min() for z in zs))

"""Activation functions and their derivatives, as one table.

Each entry is a pair (f, df): `f(z)` and `df(z, a)`, the derivative f'(z) given z and a = f(z)
(tanh and sigmoid are cheapest written in terms of a). Adding an activation is two functions,
one entry, and its name in `nn.defaults.ACTIVATION_NAMES`, the table's keys written out without
NumPy, from which the commands' choices and `activation_name` come (a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from backproplab.nn.defaults import activation_name  # noqa: F401 (beside the table it checks)


class Activation(NamedTuple):
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]


def tanh(z):
    return np.tanh(z)


def tanh_prime(z, a):
    return 1.0 - a**2  # sech^2(z) = 1 - tanh^2(z)


def sigmoid(z):
    # exp of a non-positive number only, so |z| > 700 neither overflows nor warns.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(z, a):
    return a * (1.0 - a)  # f(z)(1 - f(z))


def relu(z):
    return np.maximum(z, 0.0)


def relu_prime(z, a):
    return (z >= 0).astype(z.dtype)  # 1 for z >= 0, as the problem set defines it (also at 0)


LEAKY_SLOPE = 0.01


def leaky_relu(z):
    return np.where(z >= 0, z, LEAKY_SLOPE * z)


def leaky_relu_prime(z, a):
    return np.where(z >= 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def identity(z):
    return z


def identity_prime(z, a):
    return np.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(tanh, tanh_prime),
    "sigmoid": Activation(sigmoid, sigmoid_prime),
    "relu": Activation(relu, relu_prime),
    "leaky_relu": Activation(leaky_relu, leaky_relu_prime),
    "identity": Activation(identity, identity_prime),
}


def _row_reduce(ufunc, z):
    """ufunc.reduce over the last axis, keeping it. With fewer than 8 columns, on a column-major
    copy: numpy then combines whole columns instead of looping over many tiny rows (several
    times faster for a stack of networks), and the numbers are the same (max is exact, and
    below 8 terms numpy adds a row's terms in order either way)."""
    if z.shape[-1] < 8:
        z = np.asfortranarray(z)
    return ufunc.reduce(z, axis=-1, keepdims=True)


def softmax(z):
    """Row-wise softmax over the last axis; subtracting the row max keeps exp from overflowing."""
    e = np.exp(z - _row_reduce(np.maximum, z))
    return e / _row_reduce(np.add, e)


def log_softmax(z):
    """log(softmax(z)) computed without ever taking log(0)."""
    shifted = z - _row_reduce(np.maximum, z)
    return shifted - np.log(_row_reduce(np.add, np.exp(shifted)))

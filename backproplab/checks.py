"""Checks of user input, in one place: a ValueError naming the argument, its value and what is
valid. NumPy is imported only by the array checks, so the command line can use the rest."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Set


def check_layer_dims(dims, name="nn_layer_dims") -> list[int]:
    """Layer sizes [d_0, ..., d_L]: integers >= 1, an input, at least one hidden layer and an
    output of at least 2 classes. (A network without hidden layers is refused everywhere: the
    hidden activation, the studies' diagnostics and geometry all need one.)"""
    if isinstance(dims, (str, bytes, Set, Mapping)) or not hasattr(dims, "__len__"):
        raise ValueError(f"{name}={dims!r} must be a list of layer sizes such as [2, 3, 2]")
    dims = list(dims)
    if len(dims) < 2:
        raise ValueError(f"{name}={dims!r} needs at least 2 entries (input and output sizes)")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise ValueError(f"{name}={dims!r}: every size must be an integer, got {d!r}")
        if d < 1:
            raise ValueError(f"{name}={dims!r}: every size must be >= 1, got {d}")
    if dims[-1] < 2:
        raise ValueError(f"{name}={dims!r}: the output layer needs at least 2 classes")
    if len(dims) < 3:
        raise ValueError(f"{name}={dims!r} has no hidden layer: give input, hidden and output "
                         "sizes, such as [2, 3, 2]")
    return [int(d) for d in dims]


# Largest float64 working set a job may plan: beyond it, refuse before allocating anything.
MEMORY_LIMIT = 4 * 2**30


def memory_estimate(dims, n_examples=0, copies=1) -> int:
    """Bytes of float64 arrays a network of `dims` trained on `n_examples` needs, about: the
    parameters with their gradients and momentum (3x), and per example the inputs, net inputs,
    activations and deltas of every layer (3x), times `copies` networks."""
    params = sum((a + 1) * b for a, b in zip(dims, dims[1:]))
    return 8 * copies * (3 * params + 3 * n_examples * sum(dims))


def check_memory(dims, n_examples=0, copies=1, what=None):
    """Refuse a network (and data) whose float64 arrays would exceed MEMORY_LIMIT."""
    need = memory_estimate(dims, n_examples, copies)
    if need > MEMORY_LIMIT:
        what = what or f"layer sizes {list(dims)}" + (
            f" with {n_examples} examples" if n_examples else "")
        raise ValueError(f"{what}: about {need / 2**30:.3g} GiB of float64 arrays needed, more "
                         f"than the {MEMORY_LIMIT // 2**30} GiB allowed; use smaller sizes")
    return need


def _finite(value) -> bool:
    return isinstance(value, numbers.Integral) or math.isfinite(value)


def check_number(name, value, low=None, strict=True, integer=False):
    """`value` as a finite number (an integer with `integer`) above `low` (or at it, unless
    `strict`)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not _finite(value):
        what = "an integer" if integer else "a finite number"
        raise ValueError(f"{name}={value!r} must be {what}")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{name}={value!r} must be {'>' if strict else '>='} {low}")
    return value


def check_X(X, input_dim=None, nonempty=False):
    """X as a float64 array (N, d), real, finite, with `input_dim` columns (and, with
    `nonempty`, at least one row)."""
    import numpy as np

    if not isinstance(X, np.ndarray) or X.dtype != np.float64:
        try:  # one message for what is not a table of numbers: 'abc', [[1, 2], [3]], 10**400
            raw = np.asarray(X)
            if raw.dtype.kind == "c":
                raise ValueError("X is complex: give real inputs (the imaginary part would be "
                                 "lost)")
            X = raw.astype(np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            text = (str(exc).splitlines() or [""])[0][:120]
            raise ValueError(text if text.startswith("X is complex") else
                             f"X must be a 2-D table of real numbers: {text}") from None
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N examples, d features), got shape {X.shape}")
    if input_dim is not None and X.shape[1] != input_dim:
        raise ValueError(f"X has {X.shape[1]} columns but the network's input dim is {input_dim}")
    if nonempty and len(X) == 0:
        raise ValueError(f"X has no rows (shape {X.shape}): give at least one example")
    if not np.all(np.isfinite(X)):
        bad = int(np.size(X) - np.isfinite(X).sum())
        raise ValueError(f"X contains {bad} NaN or infinite value(s)")
    return X


def check_Xy(X, y, input_dim, n_classes, nonempty=False):
    """X (N, d) and integer labels y (N,) in [0, n_classes)."""
    import numpy as np

    X = check_X(X, input_dim, nonempty)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):  # before the cast: 2**63 stays 2**63
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(f"label {bad} in y is outside [0, {n_classes}) for output dim {n_classes}")
    return X, y.astype(np.int64)


# The largest seed: NumPy's RandomState takes 0 .. 2**32 - 1, and a held-out sample draws from
# seed + 10,000 (datasets.HELDOUT_SEED_OFFSET), so every seed of every command and class stops
# 10,000 short; beyond it NumPy's own error named no option (issue 13, retest).
SEED_MAX = 2**32 - 1 - 10_000


def check_seed(name, value, count=1):
    """A seed (with `count`, the first of `count` consecutive seeds) in 0 .. SEED_MAX."""
    check_number(name, value, low=0, strict=False, integer=True)
    if value + count - 1 > SEED_MAX:
        last = f" (the last of {count} seeds is {value + count - 1})" if count > 1 else ""
        raise ValueError(f"{name}={value!r}{last}: seeds go from 0 to {SEED_MAX}")
    return value


def check_seeds(seeds) -> list[int]:
    """A non-empty list of integer seeds in 0 .. SEED_MAX, or a ValueError naming the bad one
    (a seed may repeat: a stack of networks of different settings shares seeds)."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds={seeds!r} must be a list of integer seeds such as [0, 1, 2]")
    seeds = [check_seed("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds=[] must hold at least one seed")
    return [int(s) for s in seeds]

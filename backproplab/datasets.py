"""2-D toy datasets: the problem set's moons and blobs, plus circles, spiral and xor.

Every generator draws from its own `seed`, so a fresh sample of the same distribution is the
same call with another seed (`heldout_sample`). Blobs keep fixed centres (those of
`make_blobs(centers=4, random_state=0)`) for the same reason.

Moons, blobs and circles are scikit-learn's `make_moons`, `make_blobs` and `make_circles`
written out in NumPy: the same points from the same `RandomState` draws in the same order, bit
for bit (tests/test_datasets.py compares them), without importing scikit-learn (most of a
second). The table `DATASETS` (names, classes, default noise) loads without NumPy, so that a
command's options can list it at once; the generators import it when they draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from backproplab.checks import SEED_MAX, check_number, check_seed

BLOB_CENTERS = ((0.97627008, 4.30378733), (2.05526752, 0.89766366),
                (-1.52690401, 2.91788226), (-1.24825577, 7.83546002))
HELDOUT_SIZE = 1000
HELDOUT_SEED_OFFSET = 10_000  # held-out samples use seed + this: never a training random_state
assert SEED_MAX + HELDOUT_SEED_OFFSET == 2**32 - 1  # checks.SEED_MAX leaves room for it




def _shuffle(r, X, y):
    """sklearn.utils.shuffle(X, y, random_state=r): one permutation of both, drawn by
    r.shuffle(arange(n))."""
    import numpy as np

    order = np.arange(len(X))
    r.shuffle(order)
    return X[order], y[order]


def _two_arcs(xs_out, ys_out, xs_in, ys_in, noise, r):
    """sklearn's last steps of make_moons and make_circles: the outer points (class 0), then
    the inner ones (class 1), as the columns of one (2, n) array transposed; shuffled, then
    N(0, noise^2) added to every coordinate."""
    import numpy as np

    X = np.vstack([np.append(xs_out, xs_in), np.append(ys_out, ys_in)]).T
    y = np.hstack([np.zeros(len(xs_out), dtype=np.intp), np.ones(len(xs_in), dtype=np.intp)])
    X, y = _shuffle(r, X, y)
    X += r.normal(scale=noise, size=X.shape)
    return X, y


def _moons(n, noise, rng):
    """make_moons(n, noise=noise, random_state=rng): two interleaving half circles."""
    import numpy as np

    n_out = n // 2
    n_in = n - n_out
    r = np.random.RandomState(rng)
    return _two_arcs(np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out)),
                     1 - np.cos(np.linspace(0, np.pi, n_in)),
                     1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5, noise, r)


def _blobs(n, noise, rng):
    """make_blobs(n, centers=BLOB_CENTERS, cluster_std=noise, random_state=rng): the points
    of centre 0, 1, ... drawn in turn (the first n % k centres one point more), then shuffled."""
    import numpy as np

    r = np.random.RandomState(rng)
    centers = np.array(BLOB_CENTERS)
    k = len(centers)
    counts = [n // k + (i < n % k) for i in range(k)]
    X = np.empty((n, 2))
    y = np.empty(n, dtype=int)
    start = 0
    for i, count in enumerate(counts):
        X[start:start + count] = r.normal(loc=centers[i], scale=noise, size=(count, 2))
        y[start:start + count] = i
        start += count
    return _shuffle(r, X, y)


def _circles(n, noise, rng, factor=0.5):
    """make_circles(n, noise=noise, factor=0.5, random_state=rng): a circle inside another."""
    import numpy as np

    n_out = n // 2
    n_in = n - n_out
    r = np.random.RandomState(rng)
    angle_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angle_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    return _two_arcs(np.cos(angle_out), np.sin(angle_out), np.cos(angle_in) * factor,
                     np.sin(angle_in) * factor, noise, r)


def _spiral(n, noise, rng, k=3):
    """k interleaved spiral arms (the CS231n spiral), one class each."""
    import numpy as np

    r = np.random.RandomState(rng)
    y = np.arange(n) % k
    t = r.uniform(0.0, 1.0, n)
    angle = 4.0 * t + y * 2 * np.pi / k + r.randn(n) * noise
    X = np.c_[t * np.sin(angle), t * np.cos(angle)]
    return X, y


def _xor(n, noise, rng):
    import numpy as np

    r = np.random.RandomState(rng)
    X = r.uniform(-1.0, 1.0, (n, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    return X + r.randn(n, 2) * noise, y


class Dataset(NamedTuple):
    make: Callable
    n_classes: int
    noise: float  # default noise (cluster_std for blobs, angle jitter for spiral)


DATASETS = {
    "moons": Dataset(_moons, 2, 0.20),
    "blobs": Dataset(_blobs, 4, 1.0),
    "circles": Dataset(_circles, 2, 0.10),
    "spiral": Dataset(_spiral, 3, 0.20),
    "xor": Dataset(_xor, 2, 0.10),
}
N_SAMPLES = 200


def dataset_info(name) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"dataset={name!r} is not one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name="moons", n_samples=N_SAMPLES, noise=None, seed=0):
    """X (n_samples, 2) float64 and y (n_samples,) int labels of the named 2-D dataset.

    The defaults are the problem set's: `load_dataset("moons")` is
    `make_moons(200, noise=0.20, random_state=0)`. `noise=None` takes the dataset's default.
    """
    info = dataset_info(name)
    check_number("n_samples", n_samples, low=1, strict=False, integer=True)
    noise = info.noise if noise is None else check_number("noise", noise, low=0, strict=False)
    check_seed("seed", seed)
    return _draw(info, n_samples, noise, seed)


def _draw(info, n_samples, noise, random_state):
    import numpy as np

    X, y = info.make(int(n_samples), noise, random_state)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def heldout_sample(name="moons", noise=None, seed=0, n_samples=HELDOUT_SIZE):
    """A fresh sample from the same distribution as `load_dataset(name, noise=noise, seed=seed)`."""
    info = dataset_info(name)
    check_number("n_samples", n_samples, low=1, strict=False, integer=True)
    noise = info.noise if noise is None else check_number("noise", noise, low=0, strict=False)
    check_seed("seed", seed)
    return _draw(info, n_samples, noise, seed + HELDOUT_SEED_OFFSET)


def train_test_split(X, y, test_size=0.25, seed=0):
    """Shuffle with RandomState(seed) and split: X_train, X_test, y_train, y_test."""
    import numpy as np

    check_number("test_size", test_size, low=0)
    if test_size >= 1:
        raise ValueError(f"test_size={test_size!r} must be a fraction in (0, 1)")
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    order = np.random.RandomState(seed).permutation(len(X))
    n_test = max(1, int(round(test_size * len(X))))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]

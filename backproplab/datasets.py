"""2-D toy datasets: the problem set's moons and blobs, plus circles, spiral and xor.

Every generator draws from its own `seed`, so a fresh sample of the same distribution is the
same call with another seed (`heldout_sample`). Blobs keep fixed centres (those of
`make_blobs(centers=4, random_state=0)`) for the same reason.

The table `DATASETS` (names, classes, default noise) loads without NumPy or scikit-learn, so that
a command's options can list it at once; the generators import them when they draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from backproplab.checks import check_number

BLOB_CENTERS = ((0.97627008, 4.30378733), (2.05526752, 0.89766366),
                (-1.52690401, 2.91788226), (-1.24825577, 7.83546002))
HELDOUT_SIZE = 1000
HELDOUT_SEED_OFFSET = 10_000  # held-out samples use seed + this: never a training random_state


# scikit-learn takes a second to import: only the generators that draw from it load it.


def _moons(n, noise, rng):
    from sklearn.datasets import make_moons

    return make_moons(n, noise=noise, random_state=rng)


def _blobs(n, noise, rng):
    import numpy as np
    from sklearn.datasets import make_blobs

    return make_blobs(n, centers=np.array(BLOB_CENTERS), cluster_std=noise, random_state=rng)


def _circles(n, noise, rng):
    from sklearn.datasets import make_circles

    return make_circles(n, noise=noise, factor=0.5, random_state=rng)


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
    check_number("seed", seed, low=0, strict=False, integer=True)
    import numpy as np

    X, y = info.make(int(n_samples), noise, seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def heldout_sample(name="moons", noise=None, seed=0, n_samples=HELDOUT_SIZE):
    """A fresh sample from the same distribution as `load_dataset(name, noise=noise, seed=seed)`."""
    return load_dataset(name, n_samples, noise, seed + HELDOUT_SEED_OFFSET)


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

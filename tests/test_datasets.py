"""2-D datasets and decision-boundary plots."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_circles, make_moons

from backproplab.datasets import (
    BLOB_CENTERS,
    DATASETS,
    heldout_sample,
    load_dataset,
    train_test_split,
)
from backproplab.plots import figure, plot_decision_boundary


def test_default_moons_is_the_problem_sets():
    X, y = load_dataset("moons")
    X0, y0 = make_moons(200, noise=0.20, random_state=0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


SKLEARN = {  # what load_dataset(name, n, noise, seed) reproduces without importing scikit-learn
    "moons": lambda n, noise, seed: make_moons(n, noise=noise, random_state=seed),
    "blobs": lambda n, noise, seed: make_blobs(n, centers=np.array(BLOB_CENTERS),
                                               cluster_std=noise, random_state=seed),
    "circles": lambda n, noise, seed: make_circles(n, noise=noise, factor=0.5,
                                                   random_state=seed),
}


@pytest.mark.parametrize("name", list(SKLEARN))
@pytest.mark.parametrize("n", [1, 2, 7, 200, 1001])
@pytest.mark.parametrize("noise", [0.0, 0.05, 0.2, 1.0])
@pytest.mark.parametrize("seed", [0, 3, 10_000])
def test_moons_blobs_and_circles_are_scikit_learns_bit_for_bit(name, n, noise, seed):
    X, y = load_dataset(name, n, noise, seed)
    X0, y0 = SKLEARN[name](n, noise, seed)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert X.flags.c_contiguous == X0.flags.c_contiguous  # the engine's products see one layout


def test_drawing_every_dataset_does_not_import_scikit_learn():
    """scikit-learn takes most of a second to import; the generators are NumPy only."""
    code = ("import sys; from backproplab.datasets import load_dataset, heldout_sample; "
            "[load_dataset(n) for n in ('moons', 'blobs', 'circles', 'spiral', 'xor')]; "
            "heldout_sample('moons'); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_has_its_classes_and_is_seeded(name):
    X, y = load_dataset(name, n_samples=120, seed=3)
    assert X.shape == (120, 2) and set(np.unique(y)) == set(range(DATASETS[name].n_classes))
    X2, _ = load_dataset(name, n_samples=120, seed=3)
    X3, _ = load_dataset(name, n_samples=120, seed=4)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, X3)


def test_blobs_keep_their_centres_across_seeds():
    """A held-out sample must come from the same distribution: same centres, other points."""
    means = [np.array([load_dataset("blobs", 2000, seed=s)[0][load_dataset(
        "blobs", 2000, seed=s)[1] == k].mean(axis=0) for k in range(4)]) for s in (0, 5)]
    np.testing.assert_allclose(means[0], means[1], atol=0.15)


def test_heldout_sample_is_fresh():
    X, _ = load_dataset("moons")
    Xh, yh = heldout_sample("moons")
    assert len(Xh) == 1000 and not np.isin(X[:, 0], Xh[:, 0]).any()


def test_train_test_split_partitions_the_data():
    X, y = load_dataset("moons")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=1)
    assert len(X_test) == 50 and len(X_train) == 150
    np.testing.assert_array_equal(np.sort(np.r_[X_train[:, 0], X_test[:, 0]]), np.sort(X[:, 0]))


@pytest.mark.parametrize("kwargs,message", [
    (dict(name="swirl"), "dataset='swirl' is not one of moons, blobs"),
    (dict(n_samples=0), "n_samples=0 must be >= 1"),
    (dict(noise=-0.1), "noise=-0.1 must be >= 0"),
])
def test_bad_dataset_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_decision_boundary_colours_each_predicted_class(n_classes):
    class Sectors:  # predicts the angular sector of a point: n_classes wedges
        def predict(self, X):
            angle = np.arctan2(X[:, 1], X[:, 0]) + np.pi
            return np.minimum((angle / (2 * np.pi) * n_classes).astype(int), n_classes - 1)

    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (60, 2))
    _, axes = figure()
    ax = plot_decision_boundary(Sectors(), X, Sectors().predict(X), ax=axes[0, 0],
                                n_classes=n_classes)
    filled = ax.collections[0]  # the contourf of predicted classes
    assert len(filled.get_paths()) == n_classes
    assert sum(len(p.vertices) > 0 for p in filled.get_paths()) == n_classes

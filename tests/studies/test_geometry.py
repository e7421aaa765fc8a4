"""Boundary geometry on boundaries whose answer is known by hand."""

import itertools
import math

import numpy as np
import pytest

from backproplab.datasets import load_dataset
from backproplab.studies import geometry as G

WINDOW = G.Window((-2.0, -2.0), 4 / 128, 128, 128)  # the square [-2, 2]^2, 128 x 128 cells


def reference(outliers=(), radius=0.1, lengths=(1.0,), accuracies=(1.0,)):
    return G.Reference(WINDOW, np.array(accuracies), np.array(lengths),
                       np.array(outliers, dtype=float).reshape(-1, 2), radius)


def flat(P):  # a network without hidden units: one activation pattern everywhere
    return np.zeros((len(P), 0), dtype=bool)


def line(angle_deg, offset=0.1):
    n = np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    return lambda P: np.c_[np.zeros(len(P)), P @ n - offset]


def discs(P):
    """Class 1 inside two discs of radius 0.5 centred at (+-1, 0), class 0 outside."""
    inside = np.maximum(0.25 - ((P - [1, 0]) ** 2).sum(1), 0.25 - ((P + [1, 0]) ** 2).sum(1))
    return np.c_[np.zeros(len(P)), inside]


@pytest.mark.parametrize("angle", [0, 10, 22.5, 45, 80])
def test_a_straight_line_is_one_region_per_class_one_piece_no_turning(angle):
    g = G.measure(line(angle), reference(), 1.0, patterns=flat)
    assert (g.regions, g.islands, g.pieces) == (2, 0, 1)
    smooth = G.measure(line(angle), reference(), 1.0)
    assert smooth.turning == pytest.approx(0, abs=1e-6)


def test_the_length_of_a_line_is_its_length_in_the_window():
    # x = 0.1 runs from edge to edge: 4 (128 rows of h); x + y = 0.1 sqrt 2 runs between the
    # outermost cell centres, |x|, |y| <= a = 2 - h/2: from (c - a, a) to (a, c - a), c = 0.1 sqrt 2
    a, c = 2 - WINDOW.h / 2, 0.1 * math.sqrt(2)
    assert G.measure(line(0), reference(), 1.0).length == pytest.approx(4.0, rel=0.01)
    assert G.measure(line(45), reference(), 1.0).length == pytest.approx(
        math.sqrt(2) * (2 * a - c), rel=0.01)


def test_two_disjoint_discs_of_one_class_are_two_islands():
    g = G.measure(discs, reference(), 1.0)
    assert (g.regions, g.islands) == (3, 2)
    assert g.length == pytest.approx(2 * math.pi * 0.5 * 2, rel=0.01)  # two circumferences
    assert g.turning == pytest.approx(4 * math.pi, rel=0.02)  # each closed curve turns 2 pi


def test_regions_are_counted_with_diagonal_neighbours_and_islands_do_not_touch_the_edge():
    labels = np.array([[0, 0, 0, 0, 0],
                       [0, 1, 0, 0, 0],
                       [0, 0, 1, 0, 2],
                       [0, 0, 0, 0, 2],
                       [0, 0, 0, 0, 0]])
    # the two 1s touch diagonally: one island; the 2s reach the edge; the 0s are one region
    assert G.count_regions(labels) == (3, 1)


def test_relu_pieces_equal_the_activation_patterns_whose_region_the_boundary_crosses():
    rng = np.random.RandomState(3)
    W = [rng.randn(2, 4), rng.randn(4, 2)]
    b = [rng.randn(4) * 0.5, rng.randn(2) * 0.5]
    fwd = G.forward(W, b, "relu")
    # enumerate: on a fine grid, a pattern's (convex) region holds one straight piece of the
    # boundary exactly when both classes occur in it
    xs = np.linspace(-2, 2, 1201)
    P = np.array(list(itertools.product(xs, xs)))
    patterns = fwd.patterns(P) @ (1 << np.arange(4))
    classes = np.argmax(fwd.logits(P), axis=1)
    expected = sum(len(np.unique(classes[patterns == p])) == 2 for p in np.unique(patterns))
    assert expected >= 2  # a boundary with a bend: the test means something
    assert G.measure(fwd.logits, reference(), 1.0, fwd.patterns).pieces == expected


def test_a_relu_network_for_abs_x_equals_1_has_two_pieces_and_three_regions():
    # logit of class 1: relu(x) + relu(-x) - 1 = |x| - 1: class 0 in the strip |x| < 1
    W = [np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 1.0]])]
    b = [np.zeros(2), np.array([0.0, -1.0])]
    fwd = G.forward(W, b, "relu")
    g = G.measure(fwd.logits, reference(), 1.0, fwd.patterns)
    assert (g.regions, g.islands, g.pieces) == (3, 0, 2)
    assert g.length == pytest.approx(8.0, rel=0.01)
    assert math.isnan(g.turning)


def test_the_cutout_fraction_is_the_share_of_boundary_near_an_outlier():
    near = G.measure(discs, reference(outliers=[[1.0, 0.5]], radius=0.3), 1.0)
    # the part of the right circle within 0.3 of its top point: 2 * 2 asin(0.15) of 4 pi r
    arc = 4 * math.asin(0.3 / 2 / 0.5) * 0.5
    assert near.cutout == pytest.approx(arc / (2 * math.pi), rel=0.05)
    assert G.measure(discs, reference(outliers=[[0.0, 1.8]]), 1.0).cutout == 0.0


def test_the_length_ratio_compares_with_the_widest_reference_as_accurate():
    ref = reference(lengths=[2.0, 4.0, 8.0], accuracies=[0.8, 0.9, 1.0])
    assert ref.length_for(0.85) == 4.0 and ref.length_for(0.8) == 2.0
    assert ref.length_for(1.0) == 8.0 and ref.length_for(0.5) == 2.0
    assert G.measure(line(0), ref, 0.85).length_ratio == pytest.approx(1.0, rel=0.01)


def test_the_reference_ladder_fits_more_with_narrower_kernels():
    X, y = load_dataset("moons")
    ref = G.reference(X, y, 2)
    assert ref.train_accuracy[0] < 0.9 and ref.train_accuracy[-1] == 1.0
    assert ref.length[0] < ref.length[-1]  # wide kernels: a shorter, simpler boundary
    assert 0 < len(ref.outliers) < 20  # moons' noise puts a few points among the other class


def test_a_network_with_non_finite_weights_has_no_geometry():
    g = G.network_geometry([np.full((2, 2), np.nan)], [np.zeros(2)], "tanh", reference(), 1.0)
    assert all(math.isnan(v) for v in g)

"""The shape of a decision boundary, measured: islands, length, straight pieces, curvature,
cutouts. NumPy only; one network takes a few milliseconds.

Everything is measured on one grid, the geometry `Window`: the training data's bounding box
extended by EXTEND of its span on every side (it holds the plotting window, the box plus 0.5,
and more), cut into square cells, GRID along its longer side. A model is a function
`logits(P: (M, 2)) -> (M, C)`; its class at a point is the argmax. Per network (`measure`):

- regions: connected regions of one predicted class on the grid (8-neighbour cells of one
  class are connected); islands: those that do not reach the window's edge, regions enclosed
  by other classes (the problem set's 'island' boundaries; 0 for a boundary that runs from
  edge to edge, 2 for two discs of one class in another's territory).
- length: the boundary's total length in the window. Each crossing of the boundary by a line
  between two neighbouring cell centres (horizontally or vertically) is located by bisection;
  with n the unit normal there, it stands for h / (|n_x| + |n_y|) of boundary (h the cell
  size), which is exact for a straight line at any angle.
- length_ratio: length / the length of the simplest boundary that separates the training
  data as well. "Simplest" is defined within one family ordered by smoothness, the Gaussian
  Parzen classifier (argmax over classes of sum_n exp(-|x - x_n|^2 / 2 sigma^2) over the class's
  training points): the widest bandwidth sigma of the ladder BANDWIDTHS (fractions of the
  data's span) whose training accuracy is at least the network's. Wide kernels give short,
  straight boundaries; narrow ones fit every point (sigma -> 0 is 1-nearest neighbour, 100% on
  the training data), so every accuracy has one. 1.0: as short as it can be for its fit.
- pieces (networks whose activation is piecewise linear: relu, leaky_relu, identity): the number
  of straight segments of the boundary. Within one activation pattern (which units are active)
  the network is affine, and the pattern's region is convex, so the boundary between two
  classes there is one segment: pieces = distinct (activation pattern, class pair) at the
  boundary's crossings. A segment no grid line crosses (shorter than about a cell) is missed.
- turning (smooth activations: tanh, sigmoid): total absolute curvature of the boundary,
  sum |kappa| ds in radians, with kappa at each crossing the angle between the boundary's
  normals (the gradient of the two classes' logit difference) half a cell before and after it,
  over a cell: 0 for a straight line, 2 pi for a circle or any convex closed curve; each bend
  adds its angle, a corner sharper than a cell its angle too.
- cutout: the fraction of the boundary's length within CUTOUT_RADIUS (in units of the median
  distance from a training point to its nearest neighbour) of an "outlier", a training point
  of another class than its neighbourhood: one that the cross-validated Parzen classifier (the
  bandwidth of best leave-one-out accuracy, its own point left out) assigns to another class.
  The boundary bending to enclose such points is the problem set's "sharp cutouts".
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import numpy as np

from backproplab.datasets import load_dataset
from backproplab.nn.network import DeepNeuralNetwork

GRID = 128  # cells along the window's longer side
EXTEND = 0.5  # the window: the data's bounding box plus this fraction of its span on each side
BANDWIDTHS = np.geomspace(0.5, 0.004, 16)  # the reference ladder, widest first (x data span)
CUTOUT_RADIUS = 1.0  # x the median nearest-neighbour distance of the training points
BISECTIONS = 12  # a crossing is located to 2^-12 of a cell
PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")
FIELDS = ("regions", "islands", "length", "length_ratio", "pieces", "turning", "cutout")


class Geometry(NamedTuple):
    """One network's boundary, measured (see the module's docstring); NaN where undefined."""

    regions: float
    islands: float
    length: float
    length_ratio: float
    pieces: float  # NaN for smooth activations
    turning: float  # radians; NaN for piecewise-linear activations
    cutout: float

    @classmethod
    def undefined(cls) -> Geometry:
        return cls(*[math.nan] * len(FIELDS))


@dataclasses.dataclass(frozen=True)
class Window:
    """A grid of square cells, h wide: centres at lo + h * (i + 1/2), nx columns, ny rows."""

    lo: tuple
    h: float
    nx: int
    ny: int

    @classmethod
    def around(cls, X, grid=GRID, extend=EXTEND) -> Window:
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = hi - lo
        lo, hi = lo - extend * span, hi + extend * span
        h = float(max(hi - lo)) / grid
        nx, ny = (int(math.ceil(s / h - 1e-9)) for s in hi - lo)
        return cls((float(lo[0]), float(lo[1])), h, nx, ny)

    def points(self) -> np.ndarray:
        """Cell centres, (ny * nx, 2), row by row (row = y)."""
        xs = self.lo[0] + self.h * (np.arange(self.nx) + 0.5)
        ys = self.lo[1] + self.h * (np.arange(self.ny) + 0.5)
        xx, yy = np.meshgrid(xs, ys)
        return np.c_[xx.ravel(), yy.ravel()]


# ---------------------------------------------------------------------------------------------
# Regions


def count_regions(labels: np.ndarray) -> tuple[int, int]:
    """(regions, islands) of a 2-D array of labels: its connected regions of equal labels
    (8-neighbour connectivity), and how many of them do not touch the array's edge.

    Runs of equal labels along each row are the nodes; runs of one label touching across
    rows (straight down or diagonally) are joined, by label propagation over the run graph."""
    ny, nx = labels.shape
    starts = np.ones_like(labels, dtype=bool)
    starts[:, 1:] = labels[:, 1:] != labels[:, :-1]
    run = np.cumsum(starts.ravel()).reshape(labels.shape) - 1  # a run id per cell
    edges = []
    for dx in (-1, 0, 1):  # below-left, below, below-right
        a = labels[:-1, max(0, -dx):nx - max(0, dx)]
        b = labels[1:, max(0, dx):nx - max(0, -dx)]
        same = a == b
        edges.append(np.stack([run[:-1, max(0, -dx):nx - max(0, dx)][same],
                               run[1:, max(0, dx):nx - max(0, -dx)][same]]))
    n_runs = run[-1, -1] + 1
    u, v = np.divmod(np.unique(np.concatenate(edges, axis=1).T @ [n_runs, 1]), n_runs)
    root = np.arange(n_runs)
    while True:  # each run takes the smallest id it is joined to, until nothing changes
        m = np.minimum(root[u], root[v])
        new = root.copy()
        np.minimum.at(new, u, m)
        np.minimum.at(new, v, m)
        new = new[new]  # pointer jumping: converges in a few rounds
        if np.array_equal(new, root):
            break
        root = new
    region = root[run]
    edge = np.unique(np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]]))
    regions = np.unique(root)
    return len(regions), len(np.setdiff1d(regions, edge))


# ---------------------------------------------------------------------------------------------
# Crossings of the boundary


class Crossings(NamedTuple):
    """Where the boundary crosses the lines between neighbouring cell centres."""

    points: np.ndarray  # (K, 2)
    classes: np.ndarray  # (K, 2): the class on either side
    weight: np.ndarray  # (K,): the boundary length each stands for


def crossings(logits, window: Window, labels: np.ndarray) -> Crossings:
    """Every change of class between horizontal or vertical neighbours, located by bisection,
    with the length it stands for (h / (|n_x| + |n_y|), n the boundary's unit normal)."""
    P = window.points().reshape(window.ny, window.nx, 2)
    starts, ends, classes = [], [], []
    for a, b in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                 ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        diff = labels[a] != labels[b]
        starts.append(P[a][diff])
        ends.append(P[b][diff])
        classes.append(np.stack([labels[a][diff], labels[b][diff]], axis=1))
    p0, p1, classes = (np.concatenate(v) for v in (starts, ends, classes))
    if not len(p0):
        return Crossings(np.zeros((0, 2)), np.zeros((0, 2), dtype=int), np.zeros(0))
    lo, hi = np.zeros(len(p0)), np.ones(len(p0))
    for _ in range(BISECTIONS):  # keep [lo, hi] around the first change of class
        mid = (lo + hi) / 2
        same = np.argmax(logits(p0 + mid[:, None] * (p1 - p0)), axis=1) == classes[:, 0]
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    points = p0 + ((lo + hi) / 2)[:, None] * (p1 - p0)
    n = _normals(logits, points, classes, window.h)
    return Crossings(points, classes, window.h / (np.abs(n[:, 0]) + np.abs(n[:, 1])))


def _difference(logits, points, classes):
    """g = logit of the first class - logit of the second, at each point (its own pair)."""
    z = logits(points)
    rows = np.arange(len(points))
    return z[rows, classes[:, 0]] - z[rows, classes[:, 1]]


def _stencil(logits, points, classes, d):
    """g on the 3 x 3 stencil of step d around each point: (3, 3, K), [dy, dx]."""
    offsets = [(dy, dx) for dy in (-d, 0, d) for dx in (-d, 0, d)]
    shifted = np.concatenate([points + np.array([dx, dy]) for dy, dx in offsets])
    g = _difference(logits, shifted, np.tile(classes, (9, 1)))
    return g.reshape(3, 3, len(points))


def _normals(logits, points, classes, h):
    g = _stencil(logits, points, classes, h / 8)
    grad = np.stack([g[1, 2] - g[1, 0], g[2, 1] - g[0, 1]], axis=1)
    norm = np.linalg.norm(grad, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = grad / norm
    return np.where(norm > 0, n, np.sqrt(0.5))  # a flat g (never at a true crossing): 45 deg


def turning(logits, cross: Crossings, h) -> float:
    """sum |kappa| ds over the crossings, kappa measured at the grid's scale: the angle between
    the boundary's normals half a cell before and after each crossing (along the tangent),
    divided by h. For a smooth curve it is the curvature; at a corner sharper than a cell it
    counts the corner's angle once, not an infinite curvature."""
    if not len(cross.points):
        return 0.0
    n = _normals(logits, cross.points, cross.classes, h)
    tangent = np.stack([-n[:, 1], n[:, 0]], axis=1) * (h / 2)
    before = _normals(logits, cross.points - tangent, cross.classes, h)
    after = _normals(logits, cross.points + tangent, cross.classes, h)
    angle = np.arccos(np.clip(np.sum(before * after, axis=1), -1.0, 1.0))
    return float(np.sum(angle / h * cross.weight))


def pieces(patterns, cross: Crossings) -> int:
    """Distinct (activation pattern, class pair) over the crossings: the boundary's straight
    segments, for a piecewise-linear network (patterns(P) -> (M, units) booleans)."""
    if not len(cross.points):
        return 0
    keys = np.concatenate([np.sort(cross.classes, axis=1), patterns(cross.points)], axis=1)
    return len(np.unique(keys.astype(np.int8), axis=0))


# ---------------------------------------------------------------------------------------------
# The reference: the simplest boundaries separating the training data, by training accuracy


class Reference(NamedTuple):
    """What every network of one training set is compared with (see `reference`)."""

    window: Window
    train_accuracy: np.ndarray  # (K,) per bandwidth of the ladder, widest first
    length: np.ndarray  # (K,) its boundary's length in the window
    outliers: np.ndarray  # (n_out, 2): training points of another class than their neighbours
    radius: float  # CUTOUT_RADIUS in data units

    def length_for(self, train_accuracy: float) -> float:
        """The length of the widest-bandwidth boundary at least as accurate on the training
        data (the narrowest when none is)."""
        ok = np.flatnonzero(self.train_accuracy >= train_accuracy - 1e-12)
        return float(self.length[ok[0] if len(ok) else -1])


def _squared_distances(P, X):
    """|p - x|^2 for every pair, (M, N), shifted so that each row's nearest is 0 (so that
    the kernels of far points do not all underflow: the argmax over classes is unchanged)."""
    d2 = (P**2).sum(1)[:, None] - 2 * P @ X.T + (X**2).sum(1)[None, :]
    return d2 - d2.min(axis=1, keepdims=True)


def reference(X, y, n_classes, window: Window | None = None) -> Reference:
    """The Parzen ladder on (X, y): accuracy and boundary length per bandwidth, the outliers.

    Parzen scores: per class, the sum over its training points of exp(-|p - x|^2 / 2 sigma^2)."""
    window = window or Window.around(X)
    span = float(max(X.max(axis=0) - X.min(axis=0)))
    onehot = np.eye(n_classes)[y]
    # float32 on the grid: five times faster exponentials, and the argmax of the scores needs
    # no more (the reference is a yardstick, not a result)
    d2_grid = _squared_distances(window.points(), X).astype(np.float32)
    d2_train = _squared_distances(X, X)
    loo_kernel = 1.0 - np.eye(len(X))  # leave-one-out: a point's own kernel removed
    accuracy, length, loo = [], [], []
    for sigma in BANDWIDTHS * span:
        k = np.exp(d2_train / (-2 * sigma**2))
        accuracy.append(np.mean(np.argmax(k @ onehot, axis=1) == y))
        loo.append(np.argmax((k * loo_kernel) @ onehot, axis=1))
        scores = np.exp(d2_grid * np.float32(-0.5 / sigma**2)) @ onehot.astype(np.float32)
        labels = np.argmax(scores, axis=1)
        length.append(_grid_length(labels.reshape(window.ny, window.nx), window.h))
    best = max(range(len(loo)), key=lambda i: np.mean(loo[i] == y))
    nearest = ((X[:, None] - X[None]) ** 2).sum(-1) + np.diag(np.full(len(X), np.inf))
    radius = CUTOUT_RADIUS * float(np.median(np.sqrt(nearest.min(axis=1))))
    return Reference(window, np.array(accuracy), np.array(length), X[loo[best] != y], radius)


def _grid_length(labels, h) -> float:
    """Boundary length from the grid alone (Cauchy-Crofton over four line directions): for
    the reference, whose boundary is known only cell by cell."""
    counts = [np.count_nonzero(labels[:, 1:] != labels[:, :-1]),
              np.count_nonzero(labels[1:, :] != labels[:-1, :]),
              np.count_nonzero(labels[1:, 1:] != labels[:-1, :-1]),
              np.count_nonzero(labels[1:, :-1] != labels[:-1, 1:])]
    return math.pi / 8 * h * (counts[0] + counts[1] + (counts[2] + counts[3]) / math.sqrt(2))


@functools.lru_cache(maxsize=8)
def dataset_reference(dataset, n_samples, noise, data_seed, n_classes) -> Reference:
    """`reference` of a study's training sample, once per process (workers forked after the
    parent computed it inherit it)."""
    X, y = load_dataset(dataset, n_samples, noise, data_seed)
    return reference(X, y, n_classes)


# ---------------------------------------------------------------------------------------------
# One model, measured


def measure(logits, ref: Reference, train_accuracy: float, patterns=None) -> Geometry:
    """The Geometry of the model `logits(P) -> (M, C)` on the reference's window. With
    `patterns(P) -> (M, units)` (a piecewise-linear network) pieces are counted, else the
    turning is measured."""
    w = ref.window
    labels = np.argmax(logits(w.points()), axis=1).reshape(w.ny, w.nx)
    regions, islands = count_regions(labels)
    cross = crossings(logits, w, labels)
    length = float(cross.weight.sum())
    if len(ref.outliers) and len(cross.points):
        d2 = ((cross.points[:, None] - ref.outliers[None]) ** 2).sum(-1)
        near = d2.min(axis=1) <= ref.radius**2
        cutout = float(cross.weight[near].sum() / length)
    else:
        cutout = 0.0
    return Geometry(
        regions=float(regions), islands=float(islands),
        length=length, length_ratio=length / ref.length_for(train_accuracy),
        pieces=float(pieces(patterns, cross)) if patterns is not None else math.nan,
        turning=turning(logits, cross, w.h) if patterns is None else math.nan,
        cutout=cutout)


class Forward(NamedTuple):
    """A trained network's forward pass as `measure` wants it: logits, and (piecewise-linear
    activations) the activation pattern of its hidden units."""

    logits: object
    patterns: object  # None for a smooth activation


def forward(W, b, activation) -> Forward:
    """W[l]: (d_l, d_{l+1}), b[l]: (d_{l+1},), the network's hidden activation's name: the
    engine's own forward pass (DeepNeuralNetwork.feedforward), its net inputs read back."""
    net = DeepNeuralNetwork([len(W[0])] + [len(v) for v in b], activation)
    net.W = [np.asarray(w, dtype=float) for w in W]
    net.b = [np.asarray(v, dtype=float) for v in b]

    def logits(P):
        net.feedforward(P)
        return net.logits

    def patterns(P):
        net.feedforward(P)
        return np.concatenate([z > 0 for z in net.z[:-1]], axis=1)

    return Forward(logits, patterns if activation in PIECEWISE_LINEAR else None)


def network_geometry(W, b, activation, ref: Reference, train_accuracy) -> Geometry:
    """`measure` of a trained network; undefined (NaN) when its parameters are not finite."""
    if not all(np.all(np.isfinite(p)) for p in [*W, *b]) or not math.isfinite(train_accuracy):
        return Geometry.undefined()
    fwd = forward(W, b, activation)
    with np.errstate(all="ignore"):
        return measure(fwd.logits, ref, train_accuracy, fwd.patterns)

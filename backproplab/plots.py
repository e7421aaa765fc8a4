"""Decision boundaries, datasets and curves, for any model with `predict(X)`.

Functions draw into a matplotlib Axes; `figure()` makes a pyplot-free Figure (no global
backend state), which `backproplab.io.savefig` writes atomically.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


# Above this many panels a figure is laid out by fixed margins instead of matplotlib's
# constrained layout, whose cost grows with every tick label it measures (a 120-panel figure:
# 10 s of its 13 s). Panels are made roomy enough (their size) for their titles and labels.
CONSTRAINED_PANELS = 24


def figure(nrows=1, ncols=1, size=(4.0, 3.6), **kwargs):
    """A Figure with an (nrows x ncols) array of Axes, each about `size` inches."""
    width, height = size[0] * ncols, size[1] * nrows
    large = nrows * ncols > CONSTRAINED_PANELS
    fig = Figure(figsize=(width, height), layout=None if large else "constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    if large:  # margins in inches, as the constrained layout of a small grid leaves them
        fig.subplots_adjust(left=1.0 / width, right=1 - 0.2 / width, bottom=0.5 / height,
                            top=1 - 0.9 / height, wspace=0.35, hspace=0.55)
    return fig, axes


def suptitle(fig, text: str):
    """The figure's title: placed by the constrained layout, or in the top margin `figure`
    leaves a large grid."""
    if fig.get_layout_engine() is not None:
        return fig.suptitle(text, fontsize=11)
    return fig.suptitle(text, fontsize=11, y=1 - 0.3 / fig.get_figheight(), va="top")


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # interactive use: draw on the current pyplot figure

    return plt.figure(figsize=(5, 4)).add_subplot()


def _colors(n_classes):
    return [PALETTE[i % len(PALETTE)] for i in range(n_classes)]


def plot_dataset(X, y, ax=None, title=None, n_classes=None):
    """Scatter the 2-D points X (N, 2) coloured by label y (N,)."""
    ax = _new_axes(ax)
    y = np.asarray(y)
    n_classes = n_classes or int(y.max()) + 1
    for k, color in enumerate(_colors(n_classes)):
        pts = X[y == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=color, edgecolor="k", linewidth=0.4,
                   label=f"class {k}")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def decision_grid(X, resolution=200, margin=0.5):
    """A (resolution x resolution) mesh covering X's bounding box plus `margin`."""
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def plot_decision_boundary(model, X, y, ax=None, title=None, resolution=200, n_classes=None):
    """Colour the plane by `model.predict` and draw the data (X (N, 2), y (N,)) on top."""
    ax = _new_axes(ax)
    X = np.asarray(X, dtype=float)
    n_classes = n_classes or getattr(model, "n_classes", None) or int(np.max(y)) + 1
    xx, yy, grid = decision_grid(X, resolution)
    Z = np.asarray(model.predict(grid)).reshape(xx.shape)
    cmap = ListedColormap(_colors(n_classes))
    ax.contourf(xx, yy, Z, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.3)
    ax.contour(xx, yy, Z, levels=np.arange(n_classes) + 0.5, colors="k", linewidths=0.6)
    plot_dataset(X, y, ax=ax, title=title, n_classes=n_classes)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    return ax


def boundary_grid(models, X, y, titles, ncols=3, size=(3.6, 3.2)):
    """One decision-boundary panel per model; returns the Figure."""
    n = len(models)
    ncols = min(ncols, n)
    fig, axes = figure(math.ceil(n / ncols), ncols, size=size)
    for ax, model, title in zip(axes.flat, models, titles):
        plot_decision_boundary(model, X, y, ax=ax, title=title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig


def plot_curves(ax, x, curves, xlabel="pass", ylabel="loss", title=None, logy=False):
    """Several labelled lines {label: values} against shared x."""
    for label, values in curves.items():
        ax.plot(x, values, label=label, linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax

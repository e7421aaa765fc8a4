"""Figures of the report that no study or trainer draws: activations, datasets, CNN statistics."""

from __future__ import annotations

import numpy as np

from backproplab.datasets import load_dataset
from backproplab.nn.activations import ACTIVATIONS
from backproplab.plots import figure, plot_dataset

PROBLEM_SET_ACTIVATIONS = ("tanh", "sigmoid", "relu")


def activations_figure(names=PROBLEM_SET_ACTIVATIONS):
    """Each activation f(z) and its derivative f'(z), computed from the engine's own table."""
    fig, axes = figure(1, len(names), size=(3.6, 2.9))
    z = np.linspace(-4, 4, 801)
    for ax, name in zip(axes[0], names):
        f, df = ACTIVATIONS[name]
        a = f(z)
        ax.plot(z, a, label="f(z)", linewidth=2)
        ax.plot(z, df(z, a), label="f'(z)", linewidth=2, linestyle="--")
        ax.axhline(0, color="#999", linewidth=0.6)
        ax.axvline(0, color="#999", linewidth=0.6)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    return fig


def datasets_figure(names=("moons", "blobs")):
    """The problem set's training data: 200 points each."""
    fig, axes = figure(1, len(names), size=(4.2, 3.6))
    for ax, name in zip(axes[0], names):
        X, y = load_dataset(name)
        plot_dataset(X, y, ax=ax, title=f"{name}: {len(X)} points, {int(y.max()) + 1} classes")
    return fig


QUANTITIES = ("weight", "bias", "net_input", "activation", "pooled")


def layer_stats_figure(stats: dict):
    """Per-layer statistics over training, one run per setting overlaid.

    stats: {setting: {(layer, quantity, stat): (steps, values)}} as read from stats.csv.
    Rows are layers, columns quantities; solid lines are the standard deviation, dashed the mean.
    """
    layers = list(dict.fromkeys(key[0] for run in stats.values() for key in run))
    fig, axes = figure(len(layers), len(QUANTITIES), size=(2.9, 2.1))
    for i, layer in enumerate(layers):
        for j, quantity in enumerate(QUANTITIES):
            ax = axes[i, j]
            drawn = False
            for k, (setting, run) in enumerate(stats.items()):
                color = f"C{k}"
                for stat, style in (("std", "-"), ("mean", "--")):
                    if (layer, quantity, stat) in run:
                        steps, values = run[(layer, quantity, stat)]
                        ax.plot(steps, values, style, color=color, linewidth=1,
                                label=setting if stat == "std" else None)
                        drawn = True
            if not drawn:
                ax.set_visible(False)
                continue
            ax.set_title(f"{layer} {quantity.replace('_', ' ')}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if i == len(layers) - 1:
                ax.set_xlabel("iteration", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), fontsize=8,
               title="solid: standard deviation, dashed: mean", title_fontsize=8)
    return fig

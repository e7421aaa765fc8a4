"""The problem set's convolutional network, built from its table (`architecture.LAYERS`):
two 5x5 convolutions with max-pooling, two fully connected layers, dropout, log-softmax.

Each step is a module of its own (`conv1`, `conv1_act`, `conv1_pool`, ...), so that the monitor
can hook the net input, the activation and the pooled output of every layer by name.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from backproplab.cnn.architecture import LAYERS

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class Dropout(nn.Module):
    """Inverted dropout drawing its mask from an explicit generator (not torch's global RNG),
    so that a checkpoint can save and restore it and a resumed run draws the same masks."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None  # set by the trainer; None: global RNG

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)  # scaled so the expected activation is unchanged

    def extra_repr(self):
        return f"p={self.p}"


class Net(nn.Module):
    """The problem set's CNN with `activation` ("relu" or "tanh") where the table has one."""

    def __init__(self, activation: str = "relu"):
        super().__init__()
        self.activation = activation
        for layer in LAYERS:  # modules created in the table's order: the seeded weights too
            z, act, pool = layer.modules
            setattr(self, z, nn.Conv2d(layer.n_in, layer.n_out, layer.kernel)
                    if layer.kind == "conv" else nn.Linear(layer.n_in, layer.n_out))
            if act:
                setattr(self, act, ACTIVATIONS[activation]())
            if pool:
                setattr(self, pool, nn.MaxPool2d(layer.pool))
            if layer.dropout:
                self.dropout = Dropout(layer.dropout)

    def forward(self, x):  # x: (N, 1, 28, 28) -> log-probabilities (N, 10)
        for layer in LAYERS:
            z, act, pool = layer.modules
            if layer.kind == "linear":
                x = x.flatten(1)
            x = getattr(self, z)(x)
            if act:
                x = getattr(self, act)(x)
            if pool:
                x = getattr(self, pool)(x)
            if layer.dropout:
                x = self.dropout(x)
        return F.log_softmax(x, dim=1)


def architecture(model: nn.Module) -> dict:
    """What a checkpoint must match: each parameter's name and shape."""
    return {name: list(p.shape) for name, p in model.named_parameters()}


def build(activation: str, seed: int) -> Net:
    """A freshly initialised Net; the initial weights depend only on `seed`.

    PyTorch's initialisers draw from its global RNG, so it is seeded inside `fork_rng`, which
    restores the caller's global RNG state afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Net(activation)

"""The problem set's convolutional network, exactly:

    x (N, 1, 28, 28)
    conv1 5x5, 1->10   -> (N, 10, 24, 24)   activation, max-pool 2 -> (N, 10, 12, 12)
    conv2 5x5, 10->20  -> (N, 20, 8, 8)     activation, max-pool 2 -> (N, 20, 4, 4)
    flatten            -> (N, 320)
    fc1 320->50        -> (N, 50)           activation, dropout 0.5
    fc2 50->10         -> (N, 10)           log-softmax (so NLLLoss gives cross-entropy)

Each step is a module of its own, so the monitor can hook the net input (conv/linear output),
the activation and the pooled output of every layer by name.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}

# layer -> (net-input module, activation module, pooling module); None where the layer has none.
LAYERS = {
    "conv1": ("conv1", "act1", "pool1"),
    "conv2": ("conv2", "act2", "pool2"),
    "fc1": ("fc1", "act3", None),
    "fc2": ("fc2", None, None),
}


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
    """The problem set's CNN with `activation` ("relu" or "tanh") after conv1, conv2 and fc1."""

    def __init__(self, activation: str = "relu", dropout: float = 0.5):
        super().__init__()
        act = ACTIVATIONS[activation]
        self.activation = activation
        self.conv1, self.act1, self.pool1 = nn.Conv2d(1, 10, 5), act(), nn.MaxPool2d(2)
        self.conv2, self.act2, self.pool2 = nn.Conv2d(10, 20, 5), act(), nn.MaxPool2d(2)
        self.fc1, self.act3, self.dropout = nn.Linear(320, 50), act(), Dropout(dropout)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):  # x: (N, 1, 28, 28) -> log-probabilities (N, 10)
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.dropout(self.act3(self.fc1(x.flatten(1))))
        return F.log_softmax(self.fc2(x), dim=1)


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

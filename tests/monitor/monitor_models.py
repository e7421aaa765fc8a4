"""Tiny models and data for the monitor tests, and the user's training loop."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def mlp(dims, activation=nn.ReLU, seed=0) -> nn.Sequential:
    """Linear layers of `dims` with `activation` between them, initial weights from `seed`."""
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """A CNN with BatchNorm and functional activations and pooling in forward."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc = nn.Linear(8 * 2 * 2, 3)

    def forward(self, x):  # (N, 1, 12, 12)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (N, 4, 5, 5)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 1)[:, :, :2, :2]  # (N, 8, 2, 2)
        return self.fc(x.flatten(1))


class TwoInputs(nn.Module):
    """Two inputs, each through its own layer, joined: forward(a, b)."""

    def __init__(self):
        super().__init__()
        self.left, self.right = nn.Linear(5, 6), nn.Linear(3, 6)
        self.head = nn.Linear(12, 3)

    def forward(self, a, b):
        return self.head(torch.cat([self.left(a).relu(), torch.sigmoid(self.right(b))], 1))


def blobs(n=256, d=5, classes=3, seed=0):
    """Separable data: class means far apart in d dimensions."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    means = torch.randn(classes, d, generator=g) * 3
    return means[y] + torch.randn(n, d, generator=g), y


def noisy_blobs(n=2048, d=5, classes=3, seed=0):
    """Overlapping classes: the gradient stays noisy for the whole of a short run."""
    X, y = blobs(n, d, classes, seed)
    return X * 0.3 + torch.randn(X.shape, generator=torch.Generator().manual_seed(seed + 1)), y


def fit(model, batches, optimizer, monitor=None, loss_fn=F.cross_entropy):
    """The user's loop: forward, loss, backward, step, then `monitor.step(loss)`."""
    losses = []
    for inputs, y in batches:
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        loss = loss_fn(model(*inputs), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if monitor is not None:
            monitor.step(loss)
        losses.append(loss.item())
    return losses


def minibatches(X, y, steps, batch=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch,), generator=g)
        yield X[idx], y[idx]

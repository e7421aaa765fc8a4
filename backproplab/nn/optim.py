"""The gradient-descent step every network trains with: plain, with momentum, with a decaying rate.

Modelled on scikit-learn's `SGDOptimizer.update_params`: the optimiser holds the list of
parameter arrays (updated in place) and, with momentum, one velocity array per parameter; the
network supplies the gradients in the same order. Step t (counted from 0) uses the rate
lr = epsilon / (1 + lr_decay * t), and
    plain:     p -= lr * g
    momentum:  v = momentum * v - lr * g;  p += v     (v starts at zero)
"""

from __future__ import annotations

import numpy as np

from backproplab.checks import check_number


class SGD:
    """Gradient descent on `params`, a list of arrays; `step(grads)` updates them in place."""

    def __init__(self, params, epsilon, momentum=0.0, lr_decay=0.0):
        self.params = params
        self.epsilon = check_number("epsilon", epsilon, low=0)
        self.momentum = check_number("momentum", momentum, low=0, strict=False)
        if momentum >= 1:
            raise ValueError(f"momentum={momentum!r} must be < 1")
        self.lr_decay = check_number("lr_decay", lr_decay, low=0, strict=False)
        self.velocities = [np.zeros_like(p) for p in params] if momentum else None
        self.steps = 0

    def __repr__(self):
        return (f"SGD(epsilon={self.epsilon}, momentum={self.momentum}, "
                f"lr_decay={self.lr_decay})")

    def step(self, grads):
        """One update with `grads`, arrays shaped as `params` and in their order."""
        lr = self.epsilon / (1.0 + self.lr_decay * self.steps)
        if self.velocities is None:
            for p, g in zip(self.params, grads):
                p -= lr * g
        else:
            for p, g, v in zip(self.params, grads, self.velocities):
                v *= self.momentum  # in place: v = momentum * v - lr * g, then p += v
                v -= lr * g
                p += v
        self.steps += 1

"""Per hidden layer: is the gradient vanishing, are units dead or saturated?

Measured on the training set at the current parameters of a (batched) network, by one extra
forward and backward pass, for hidden layer l = 1 .. L-1 (a[l], fed by W[l-1]):

- grad_norm: ||dL/dW[l-1]|| of the mean cross-entropy alone, without the regularisation term
  (which is reported beside it as reg_grad_norm = reg_lambda ||W[l-1]|| / N): a vanishing
  gradient shows as grad_norm falling by orders of magnitude toward the input;
- dead: fraction of the layer's units never active on the training set (ReLU: z <= 0 for
  every example), NaN for activations other than relu and leaky_relu;
- saturated: fraction of the layer's units in their flat region, averaged over the examples
  (tanh |a| > 0.99; sigmoid a < 0.01 or a > 0.99), NaN for other activations.

`DiagnosticsSampler` samples these every k passes from fit_model's callback, so the training
loop itself (`nn.training.train`) stays the engine's. From the net inputs the loop has just
computed (no extra pass) it also records `Dynamics`, for why deep ReLU networks fail:

- death_pass: the first pass at which some hidden layer is entirely dead (every unit's net
  input <= 0 on every training example: the layer passes no signal and no gradient, so the
  output is constant and never recovers), checked at every pass up to 100, then every 10 up
  to 1,000, every 100 up to 10,000, ...; NaN when it never happens or for other activations;
- first_step_shift: what the first gradient-descent step does to the net inputs: the largest,
  over hidden layers, change of their mean, in units of their initial standard deviation;
- first_step_scale: the largest, over hidden layers, ratio of their standard deviation after
  the first step to before it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from backproplab.monitor.health import SATURATION  # one threshold for both engines

METRICS = ("grad_norm", "reg_grad_norm", "dead", "saturated")
DEAD_ACTIVATIONS = ("relu", "leaky_relu")


def saturated_mask(activation, a):
    """Where a = f(z) is in the flat region of f; None where f has none."""
    if activation == "tanh":
        return np.abs(a) > SATURATION
    if activation == "sigmoid":
        return (a < 1 - SATURATION) | (a > SATURATION)
    return None


def layer_diagnostics(model, X, y) -> dict[str, np.ndarray]:
    """Each metric of a BatchedNetwork as an array (S, L-1): network, then hidden layer."""
    grads = model.backpropagation(X, y)  # also leaves z and a of this forward pass on the model
    n, hidden = len(X), range(1, len(model.W))
    lam = model.reg_lambdas[:, None, None]
    acts = np.array(model.activations)
    dead_kind = np.isin(acts, DEAD_ACTIVATIONS)
    z_all, a_all = model.z, model.a
    out = {m: [] for m in METRICS}
    for l in hidden:
        W, dW = model.W[l - 1], grads.dW[l - 1]
        data_grad = dW - lam * W  # backprop returns the sum N*L incl. lambda W
        out["grad_norm"].append(np.sqrt(np.sum(data_grad**2, axis=(-2, -1))) / n)
        out["reg_grad_norm"].append(lam[:, 0, 0] * np.sqrt(np.sum(W**2, axis=(-2, -1))) / n)
        z, a = z_all[l - 1], a_all[l]
        dead = np.mean(~np.any(z > 0, axis=-2), axis=-1)
        out["dead"].append(np.where(dead_kind, dead, np.nan))
        saturated = np.full(len(acts), np.nan)
        for name in np.unique(acts):
            mask = saturated_mask(name, a[acts == name])
            if mask is not None:
                saturated[acts == name] = np.mean(mask, axis=(-2, -1))
        out["saturated"].append(saturated)
    return {m: np.stack(v, axis=-1) for m, v in out.items()}


class Dynamics(NamedTuple):
    """One network's early training, from its net inputs (see the module's docstring)."""

    death_pass: float
    first_step_shift: float
    first_step_scale: float

    @classmethod
    def undefined(cls) -> Dynamics:
        return cls(math.nan, math.nan, math.nan)


def checked_for_death(i: int) -> bool:
    """Passes 0-99 all, then every 10 up to 999, every 100 up to 9,999, and so on."""
    return i % (10 ** max(0, len(str(i)) - 2)) == 0


def _moments(z_hidden):
    """Per network and hidden layer, the mean and std of the net inputs: two (S, L-1) arrays."""
    return (np.stack([z.mean(axis=(-2, -1)) for z in z_hidden], axis=-1),
            np.stack([z.std(axis=(-2, -1)) for z in z_hidden], axis=-1))


class DiagnosticsSampler:
    """fit_model's callback: diagnostics every `every` passes, progress every `report_every`.

    `record(model, n_pass)` can also be called directly (before training, after it); the
    samples are in `passes` and `samples[metric]`, shape (samples, ..., L-1).
    """

    def __init__(self, X, y, every, report=None, report_every=100, copies=1):
        self.X, self.y, self.every = X, y, max(int(every), 1)
        self.report, self.report_every, self.copies = report, report_every, copies
        self.passes, self.samples = [], {m: [] for m in METRICS}
        self.death = None  # (S,) first pass with a dead hidden layer, NaN until then
        self.first = None  # (mean, std) of the net inputs before the first step
        self.first_step = None  # (shift, scale) per network

    def record(self, model, n_pass):
        if self.passes and self.passes[-1] == n_pass:
            return
        for m, v in layer_diagnostics(model, self.X, self.y).items():
            self.samples[m].append(v)
        self.passes.append(n_pass)

    def __call__(self, model, i, grads):
        # model.z holds the net inputs of this pass's forward: the parameters after i steps
        if i <= 1:
            self._first_step(model, i)
        if checked_for_death(i):
            self._check_death(model, i)
        if (i + 1) % self.every == 0:
            self.record(model, i + 1)
        if self.report is not None and (i + 1) % self.report_every == 0:
            self.report(self.report_every * self.copies)  # model-passes done since the last call

    def _first_step(self, model, i):
        mean, std = _moments(model.z[:-1])
        if i == 0:
            self.first = (mean, std)
            return
        mean0, std0 = self.first
        with np.errstate(all="ignore"):
            self.first_step = (np.max(np.abs(mean - mean0) / std0, axis=-1),
                               np.max(std / std0, axis=-1))

    def _check_death(self, model, i):
        acts = np.array(model.activations)
        if self.death is None:
            self.death = np.full(len(acts), np.nan)
        relu = np.isin(acts, DEAD_ACTIVATIONS) & np.isnan(self.death)
        if not relu.any():
            return
        dead = np.any([np.all(~np.any(z > 0, axis=-2), axis=-1) for z in model.z[:-1]], axis=0)
        self.death[relu & dead] = i

    def dynamics(self) -> list[Dynamics]:
        """One Dynamics per network, in stack order."""
        S = len(self.death) if self.death is not None else 0
        shift, scale = self.first_step or (np.full(S, np.nan), np.full(S, np.nan))
        return [Dynamics(float(self.death[s]), float(shift[s]), float(scale[s]))
                for s in range(S)]

    def arrays(self) -> dict[str, np.ndarray]:
        return {m: np.asarray(v) for m, v in self.samples.items()}

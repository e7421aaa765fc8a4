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

`Monitor` samples these every k passes from fit_model's callback, so the training loop itself
(`nn.training.train`) stays the engine's.
"""

from __future__ import annotations

import numpy as np

METRICS = ("grad_norm", "reg_grad_norm", "dead", "saturated")
SATURATION = 0.99
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


class Monitor:
    """fit_model's callback: diagnostics every `every` passes, progress every `report_every`.

    `record(model, n_pass)` can also be called directly (before training, after it); the
    samples are in `passes` and `samples[metric]`, shape (samples, ..., L-1).
    """

    def __init__(self, X, y, every, report=None, report_every=100, copies=1):
        self.X, self.y, self.every = X, y, max(int(every), 1)
        self.report, self.report_every, self.copies = report, report_every, copies
        self.passes, self.samples = [], {m: [] for m in METRICS}

    def record(self, model, n_pass):
        if self.passes and self.passes[-1] == n_pass:
            return
        for m, v in layer_diagnostics(model, self.X, self.y).items():
            self.samples[m].append(v)
        self.passes.append(n_pass)

    def __call__(self, model, i, grads):
        if (i + 1) % self.every == 0:
            self.record(model, i + 1)
        if self.report is not None and (i + 1) % self.report_every == 0:
            self.report(self.report_every * self.copies)  # model-passes done since the last call

    def arrays(self) -> dict[str, np.ndarray]:
        return {m: np.asarray(v) for m, v in self.samples.items()}

"""Several networks of one architecture trained as one stack: the seeds of a study setting.

`BatchedNetwork(dims, seeds=[0, 1, 2])` holds S = len(seeds) networks whose parameters are
stacked along a leading axis:

    W[l]: (S, d_l, d_{l+1}),   b[l]: (S, 1, d_{l+1})   (the 1 broadcasts over the N examples)

Stack s starts from `init_parameters(dims, seeds[s])`, exactly the initialisation of
`DeepNeuralNetwork(dims, seed=seeds[s])`. Everything else is the engine's own code:
`DeepNeuralNetwork.feedforward`, `_backprop`, `cross_entropy_loss` and `fit_model` broadcast
over leading axes, so z[l] and a[l] come out as (S, N, d), the loss as (S,), `predict` as (S, N)
and `accuracy` as (S,). One pass of numpy calls then trains S networks, which is where the speed
comes from: these networks are small enough that the per-call overhead, not arithmetic, sets the
time of a pass.

Each network's numbers equal those of training it alone (up to floating-point summation order
in the stacked matrix products; tests/studies/test_batched.py checks the loss to 1e-8 after 2,000
passes and identical predictions).
"""

from __future__ import annotations

import numpy as np

from backproplab.nn.network import (
    ACTIVATION,
    EPSILON,
    NUM_PASSES,
    REG_LAMBDA,
    DeepNeuralNetwork,
    check_number,
    init_parameters,
)


def check_seeds(seeds) -> list[int]:
    """A non-empty list of distinct integer seeds >= 0, or a ValueError naming the bad one."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds={seeds!r} must be a list of integer seeds such as [0, 1, 2]")
    seeds = [check_number("seed", s, low=0, strict=False, integer=True) for s in seeds]
    if not seeds:
        raise ValueError("seeds=[] must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} repeats a seed")
    return [int(s) for s in seeds]


class BatchedNetwork(DeepNeuralNetwork):
    """S = len(seeds) DeepNeuralNetworks of one architecture, trained together.

    `BatchedNetwork([2, 3, 2], seeds=[0, 1])` trains like DeepNeuralNetwork([2, 3, 2], seed=0)
    and DeepNeuralNetwork([2, 3, 2], seed=1) side by side. `network(s)` returns stack s as a
    plain DeepNeuralNetwork (for plotting or saving).
    """

    def __init__(self, nn_layer_dims=(2, 3, 2), activation=ACTIVATION, reg_lambda=REG_LAMBDA,
                 seeds=(0,)):
        seeds = check_seeds(seeds)
        super().__init__(nn_layer_dims, activation, reg_lambda, seed=seeds[0])
        self.seeds = seeds
        stacks = [init_parameters(self.dims, s) for s in seeds]
        self.W = [np.stack(Ws) for Ws in zip(*(W for W, _ in stacks))]
        self.b = [np.stack(bs)[:, None, :] for bs in zip(*(b for _, b in stacks))]

    def __repr__(self):
        return (f"{type(self).__name__}(dims={self.dims}, activation={self.activation!r}, "
                f"reg_lambda={self.reg_lambda}, seeds={self.seeds})")

    def __len__(self):
        return len(self.seeds)

    def fit_model(self, X, y, epsilon=EPSILON, num_passes=NUM_PASSES, print_loss=True, *,
                  batch_size=None, **kwargs):
        """`DeepNeuralNetwork.fit_model` for every stack at once; the loss is printed per stack.

        Mini-batches are drawn from the generator of `seeds[0]`, so with `batch_size` smaller
        than N only a stack of one seed reproduces single-network training; a larger stack is
        refused rather than silently trained on another batch order.
        """
        if batch_size is not None and batch_size < len(X) and len(self.seeds) > 1:
            raise ValueError(
                f"batch_size={batch_size} with {len(self.seeds)} stacked seeds: each seed draws "
                "its own mini-batch order, so train a stack of one seed per network")
        return super().fit_model(X, y, epsilon, num_passes, print_loss, batch_size=batch_size,
                                 **kwargs)

    def network(self, s: int) -> DeepNeuralNetwork:
        """Stack s as a DeepNeuralNetwork with copies of its current parameters."""
        net = DeepNeuralNetwork(self.dims, self.activation, self.reg_lambda, self.seeds[s])
        net.W = [W[s].copy() for W in self.W]
        net.b = [b[s, 0].copy() for b in self.b]
        return net

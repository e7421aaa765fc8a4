"""The problem set's CNN as data: one row per layer, read by the model, the monitor and the report.

`Net` (model.py) builds its modules from `LAYERS` and runs them in this order; the monitor hooks
the modules each row names; the report and the docs show `shape_table()` and `summary()`.
PyTorch-free, so that the report and the commands' help can read it without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INPUT = (1, 28, 28)  # one MNIST image: channels, rows, columns
OUTPUT = "log-softmax"  # of the last layer's net input, so that NLLLoss gives cross-entropy


@dataclass(frozen=True)
class Layer:
    """One weighted layer and what follows it: z = conv or linear, then activation, pooling,
    dropout. Shapes are per example (without the batch dimension N)."""

    name: str  # the module holding W and b; tags and statistics are grouped under it
    kind: str  # "conv" (square kernel, stride 1, no padding) or "linear" (input flattened)
    n_in: int  # input channels (conv) or features (linear)
    n_out: int  # output channels or features
    net_input: tuple  # shape of z, the conv or linear output
    output: tuple  # shape of what the layer passes on (after activation and pooling)
    kernel: int = 0  # conv: kernel size
    activation: bool = False  # the run's activation (relu or tanh) after z
    pool: int = 0  # conv: max-pool window (and stride) after the activation; 0: none
    dropout: float = 0.0  # dropout probability after the activation; 0: none

    @property
    def modules(self) -> tuple[str, str | None, str | None]:
        """Names of the modules whose outputs are the net input, activation and pooled output
        (None where the layer has none)."""
        return (self.name, f"{self.name}_act" if self.activation else None,
                f"{self.name}_pool" if self.pool else None)

    def parameter_shapes(self) -> dict[str, list[int]]:
        """{"conv1.weight": [10, 1, 5, 5], "conv1.bias": [10]}: as PyTorch names and shapes them."""
        weight = [self.n_out, self.n_in] + [self.kernel] * 2 * (self.kind == "conv")
        return {f"{self.name}.weight": weight, f"{self.name}.bias": [self.n_out]}


LAYERS = (
    Layer("conv1", "conv", 1, 10, kernel=5, activation=True, pool=2,
          net_input=(10, 24, 24), output=(10, 12, 12)),
    Layer("conv2", "conv", 10, 20, kernel=5, activation=True, pool=2,
          net_input=(20, 8, 8), output=(20, 4, 4)),
    Layer("fc1", "linear", 320, 50, activation=True, dropout=0.5, net_input=(50,), output=(50,)),
    Layer("fc2", "linear", 50, 10, net_input=(10,), output=(10,)),
)


# What the monitor watches (backproplab.monitor's explicit layer map): layer -> (net-input
# module, activation module, pooling module), None where the layer has none.
MONITORED = {layer.name: layer.modules for layer in LAYERS}
N_CLASSES = LAYERS[-1].n_out  # for the initial-loss rule: about ln 10 at the start


def values_per_example() -> int:
    """Numbers one example's forward pass makes: its input and, per layer, the net input, the
    activation, dropout's output and the pooled output (about what training keeps for the
    backward pass, and what a batch costs: 16,784 numbers, 66 KiB in fp32)."""
    total = math.prod(INPUT)
    for layer in LAYERS:
        z = math.prod(layer.net_input)
        total += z * (1 + layer.activation + bool(layer.dropout))
        total += math.prod(layer.output) if layer.pool else 0
    return total


# Histograms the monitor makes at a monitored step: every parameter and every output it hooks.
N_HISTOGRAMS = sum(len(layer.parameter_shapes()) + sum(m is not None for m in layer.modules)
                   for layer in LAYERS)


def parameter_shapes() -> dict[str, list[int]]:
    """Every parameter's name and shape, in the model's order: what a checkpoint must match."""
    return {name: shape for layer in LAYERS for name, shape in layer.parameter_shapes().items()}


def shape_table() -> str:
    """The layers with the shape after each step, for the report and the docs:

        x (N, 1, 28, 28)
        conv1 5x5, 1->10   -> (N, 10, 24, 24)   activation, max-pool 2 -> (N, 10, 12, 12)
        ...
        fc2 50->10         -> (N, 10)           log-softmax (so NLLLoss gives cross-entropy)
    """
    lines = [f"x {_shape(INPUT)}"]
    for i, layer in enumerate(LAYERS):
        if layer.kind == "linear" and i and len(LAYERS[i - 1].output) > 1:
            lines.append(f"{'flatten':<19}-> {_shape((layer.n_in,))}")
        spec = f"{layer.kernel}x{layer.kernel}, " if layer.kind == "conv" else ""
        last = [f"{OUTPUT} (so NLLLoss gives cross-entropy)"] * (layer is LAYERS[-1])
        then = ", ".join(_steps(layer) + last)
        if layer.pool:
            then += f" -> {_shape(layer.output)}"
        head = f"{layer.name} {spec}{layer.n_in}->{layer.n_out}"
        lines.append(f"{head:<19}{'-> ' + _shape(layer.net_input):<21}{then}".rstrip())
    return "\n".join("    " + line for line in lines)


def summary() -> str:
    """The layers in one line: "conv 5×5 1→10, activation, max-pool 2, ..., log-softmax"."""
    parts = []
    for layer in LAYERS:
        if layer.kind == "conv":
            parts.append(f"conv {layer.kernel}×{layer.kernel} {layer.n_in}→{layer.n_out}")
        else:
            parts.append(f"fully connected {layer.n_in}→{layer.n_out}")
        parts += _steps(layer)
    return ", ".join(parts + [OUTPUT])


def _steps(layer: Layer) -> list[str]:
    """What follows the layer's net input, in words."""
    return (["activation"] * layer.activation + [f"max-pool {layer.pool}"] * bool(layer.pool)
            + [f"dropout {layer.dropout}"] * bool(layer.dropout))


def _shape(shape: tuple) -> str:
    return f"(N, {', '.join(map(str, shape))})"

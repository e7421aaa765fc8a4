"""Check backpropagation against central differences for a network of any shape.

Draws random inputs X ~ N(0, 1) and labels from the seed, builds DeepNeuralNetwork(--dims),
and prints, for every parameter, the relative error ||analytic - numeric|| / (||analytic|| +
||numeric||). Exits with status 1 if any error exceeds --threshold.

example: backproplab gradcheck --dims 2,5,5,3 --activation sigmoid
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backproplab import config
from backproplab.checks import check_layer_dims, check_memory, check_number
from backproplab.nn import defaults


@dataclass
class GradcheckConfig:
    dims: list[int] = field(default_factory=lambda: [2, 5, 5, 3], metadata={
        "help": "layer sizes, input to output", "type": config.int_list,
        "metavar": "D0,D1,...,K"})
    activation: str = field(default=defaults.ACTIVATION, metadata={
        "help": f"hidden activation: {', '.join(defaults.ACTIVATION_NAMES)}",
        "type": config.checked(defaults.activation_name)})
    samples: int = field(default=20, metadata={"help": "random examples"})
    reg_lambda: float = field(default=defaults.REG_LAMBDA, metadata={"help": "L2 strength"})
    seed: int = field(default=0, metadata={"help": "seed of the weights and the random data"})
    threshold: float = field(default=defaults.GRADCHECK_THRESHOLD, metadata={
        "help": "largest relative error passed"})


def add_arguments(parser):
    config.add_arguments(parser, GradcheckConfig)


def run(args) -> int:
    import numpy as np  # here, not with the options: `gradcheck --help` answers at once

    from backproplab.nn.gradcheck import gradcheck, min_abs_net_input
    from backproplab.nn.network import DeepNeuralNetwork

    cfg = config.from_args(GradcheckConfig, args)
    check_number("--samples", cfg.samples, low=1, strict=False, integer=True)
    check_number("--threshold", cfg.threshold, low=0, strict=False)
    check_memory(check_layer_dims(cfg.dims), cfg.samples,
                 what=f"--dims {','.join(map(str, cfg.dims))} with --samples {cfg.samples}")
    model = DeepNeuralNetwork(cfg.dims, cfg.activation, cfg.reg_lambda, cfg.seed)
    rng = np.random.RandomState(cfg.seed)
    X = rng.randn(cfg.samples, model.dims[0])
    y = rng.randint(0, model.n_classes, cfg.samples)
    errors = gradcheck(model, X, y)
    print(f"{model}, {cfg.samples} examples, central differences with h={defaults.GRADCHECK_STEP}")
    print(f"{'parameter':<10} {'shape':<10} relative error")
    for (name, err), p in zip(errors.items(), model.parameters()):
        flag = "" if err <= cfg.threshold else f"  > {cfg.threshold}"
        print(f"{name:<10} {'x'.join(map(str, p.shape)):<10} {err:.2e}{flag}")
    kink = min_abs_net_input(model, X)
    if kink < 100 * defaults.GRADCHECK_STEP and model.activation in ("relu", "leaky_relu"):
        print(f"note: a net input lies {kink:.1e} from ReLU's kink at 0, where the numerical "
              "derivative is not defined; try another --seed")
    worst = max(errors.values())
    print(f"largest relative error {worst:.2e}: {'ok' if worst <= cfg.threshold else 'FAILED'}")
    return 0 if worst <= cfg.threshold else 1

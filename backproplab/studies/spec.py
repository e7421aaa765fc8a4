"""What a study is: data, a base network, and a grid of varied arguments (their product).

A `StudySpec` is plain data; `settings(spec)` expands its grid into `Setting`s, each resolved to
the constructor and fit_model arguments of the networks it trains. The variables a grid may vary
are one table, `VARIABLES`: every constructor or fit_model argument of the engine's networks
(the seed excepted: seeds are the study's repetitions), plus two shortcuts for architectures,
`width` (units in every hidden layer) and `depth` (number of hidden layers). `SEEDS` and
`PASSES` are a study's default counts (the problem set's), `check_counts` checks them.

This module loads without NumPy (the `study` command's options are built from it): the
engine's defaults and activation names come from `nn.defaults`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from backproplab.checks import check_layer_dims, check_memory, check_number, check_seed
from backproplab.datasets import DATASETS, HELDOUT_SEED_OFFSET, HELDOUT_SIZE, dataset_info
from backproplab.errors import BackproplabError
from backproplab.nn.defaults import (
    ACTIVATION,
    ACTIVATION_NAMES,
    EPSILON,
    INIT,
    NUM_PASSES,
    REG_LAMBDA,
    activation_name,
    init_name,
)

SEEDS = 5  # initialisations per setting (the problem set's 5)
PASSES = NUM_PASSES  # full-batch gradient-descent passes per network
CURVE_POINTS = 100  # loss and accuracy recorded this many times per run
DIAGNOSTIC_POINTS = 20  # diagnostics sampled this many times per run, plus at pass 0
SEED_MEANING = ("seeds vary the weight initialisation (init_parameters(dims, seed)); every "
                "network trains on the same fixed sample (load_dataset(dataset, n_samples, "
                "noise, data_seed)); held-out accuracy is measured on a fresh sample of 1,000 "
                f"points from the same distribution (random_state data_seed + "
                f"{HELDOUT_SEED_OFFSET})")


def check_counts(seeds, passes, first_seed=0, flags=False):
    """seeds and passes >= 1, first_seed >= 0; the error names the flag when `flags`."""
    name = (lambda s: f"--{s.replace('_', '-')}") if flags else (lambda s: s)
    try:
        check_number(name("seeds"), seeds, low=1, strict=False, integer=True)
        check_number(name("passes"), passes, low=1, strict=False, integer=True)
        check_seed(name("first_seed"), first_seed, count=seeds)
    except ValueError as exc:
        raise BackproplabError(str(exc)) from None


def check_size(spec: StudySpec, seeds: int, flags=False) -> None:
    """Every setting's networks, all `seeds` of them stacked, with the training and held-out
    samples, fit in checks.MEMORY_LIMIT: refused before the folder is made (`--seeds
    100000000` wrote a 1.5 GB study.json, then trained on without an ETA)."""
    name = "--seeds" if flags else "seeds"
    for s in settings(spec):
        check_memory(s.dims, spec.n_samples + HELDOUT_SIZE, copies=seeds,
                     what=f"{name} {seeds} of dims={list(s.dims)} with {spec.n_samples} samples")


def _int(text):
    return int(text)


def _float(text):
    return float(text)


def _optional_int(text):
    return None if str(text).lower() == "none" else int(text)


def _dims(text):
    return [int(t) for t in str(text).replace(",", "-").split("-")]


def _positive_int(name, v):
    return int(check_number(name, v, low=1, strict=False, integer=True))


def _non_negative(name, v):
    return float(check_number(name, v, low=0, strict=False))


def _positive(name, v):
    return float(check_number(name, v, low=0))


def _fraction(name, v):
    v = _non_negative(name, v)
    if v >= 1:
        raise ValueError(f"{name}={v!r} must be < 1")
    return v


def _batch_size(name, v):
    return None if v is None else _positive_int(name, v)




class Variable(NamedTuple):
    parse: Callable[[str], Any]  # command-line text -> value
    check: Callable[[str, Any], Any]  # (name, value) -> normalised value, or ValueError
    target: str  # "model" (constructor), "fit" (fit_model) or "dims" (architecture)
    help: str


VARIABLES: dict[str, Variable] = {
    "activation": Variable(str, lambda n, v: activation_name(v), "model",
                           f"hidden activation: {', '.join(ACTIVATION_NAMES)}"),
    "reg_lambda": Variable(_float, _non_negative, "model", "L2 regularisation strength"),
    "init": Variable(str, lambda n, v: init_name(v, n), "model", "weight initialisation: "
                     "tutorial (randn / sqrt(fan_in)) or he (randn * sqrt(2 / fan_in))"),
    "nn_layer_dims": Variable(_dims, lambda n, v: check_layer_dims(v, n), "dims",
                              "all layer sizes, written 2-3-3-2"),
    "width": Variable(_int, _positive_int, "dims", "units in every hidden layer"),
    "depth": Variable(_int, _positive_int, "dims", "hidden layers (of the first one's width)"),
    "epsilon": Variable(_float, _positive, "fit", "learning rate"),
    "num_passes": Variable(_int, _positive_int, "fit", "gradient-descent passes"),
    "batch_size": Variable(_optional_int, _batch_size, "fit", "examples per step, or none"),
    "momentum": Variable(_float, _fraction, "fit", "momentum coefficient in [0, 1)"),
    "lr_decay": Variable(_float, _non_negative, "fit", "step epsilon / (1 + lr_decay * pass)"),
}
ALIASES = {"dims": "nn_layer_dims", "hidden": "width", "lambda": "reg_lambda", "lr": "epsilon"}


def variable_name(key: str) -> str:
    """The table's name for `key` (aliases and dashes allowed), or an error listing them."""
    name = key.strip().replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in VARIABLES:
        raise BackproplabError(
            f"--vary key {key!r} is not one of {', '.join(VARIABLES)} (the seed is varied by "
            "--seeds)")
    return name


def check_value(name: str, value):
    try:
        return VARIABLES[name].check(name, value)
    except ValueError as exc:
        raise BackproplabError(f"--vary {name}={value!r}: {exc}") from None


def parse_vary(text: str) -> tuple[str, list]:
    """'activation=tanh,relu' -> ('activation', ['tanh', 'relu']); dims values are 2-3-2."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise BackproplabError(
            f"--vary {text!r} must be KEY=VALUE[,VALUE...], e.g. activation=tanh,relu")
    name = variable_name(key)
    parsed = []
    for item in values.split(","):
        item = item.strip()
        if not item:
            raise BackproplabError(f"--vary {text!r} has an empty value")
        try:
            parsed.append(VARIABLES[name].parse(item))
        except ValueError:
            raise BackproplabError(
                f"--vary {name}={item!r} is not a valid value: {VARIABLES[name].help}") from None
    return name, [check_value(name, v) for v in parsed]


@dataclass
class StudySpec:
    """One study: a dataset, a base network and the grid of arguments it varies.

    Every network trains on the problem set's fixed sample, `load_dataset(dataset, n_samples,
    noise, data_seed)`; seeds vary the weight initialisation only. Unvaried arguments take the
    values below (the problem set's); `vary` maps a VARIABLES name to its values, and the
    settings are their product in key order (the last key varies fastest).
    """

    name: str
    dataset: str = "moons"
    dims: tuple = (2, 3, 2)  # layer sizes, input first; width/depth in `vary` rewrite the hidden
    activation: str = ACTIVATION
    reg_lambda: float = REG_LAMBDA
    epsilon: float = EPSILON
    vary: dict = field(default_factory=dict)
    n_samples: int = 200
    noise: float | None = None  # None: the dataset's default (moons 0.20, blobs 1.0)
    data_seed: int = 0  # random_state of the training sample; held-out uses data_seed + 10000
    title: str = ""  # what the problem set's figure shows
    claim: str = ""  # what the problem set concluded from it, "upon visual inspection"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["dims"] = list(self.dims)
        d["vary"] = {k: list(v) for k, v in self.vary.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StudySpec:
        return cls(**{**d, "dims": tuple(d["dims"])})


class Setting(NamedTuple):
    """One point of the grid, resolved to what the networks are built and trained with."""

    index: int
    values: dict  # the varied values, in the grid's key order
    dims: list
    activation: str
    reg_lambda: float
    fit: dict  # fit_model keyword arguments: epsilon, batch_size, momentum, lr_decay
    init: str = INIT  # the weight initialisation (nn.network.init_parameters)

    @property
    def label(self) -> str:
        return setting_label(self.values)


def setting_label(values: dict) -> str:
    """'activation=tanh, reg_lambda=0.01': the varied values of a setting, or 'base'."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in values.items()) or "base"


def format_value(v) -> str:
    """A varied value as a label, a CSV cell and `--vary` show it: 2-3-2, 0.01, tanh."""
    if isinstance(v, (list, tuple)):
        return "-".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def check_spec(spec: StudySpec) -> StudySpec:
    """Normalise the spec's values; BackproplabError naming the bad one."""
    if spec.dataset not in DATASETS:
        raise BackproplabError(f"dataset={spec.dataset!r} is not one of {', '.join(DATASETS)}")
    n_classes = dataset_info(spec.dataset).n_classes
    try:
        dims = check_layer_dims(list(spec.dims), "dims")
        activation = activation_name(spec.activation)
        check_number("reg_lambda", spec.reg_lambda, low=0, strict=False)
        check_number("epsilon", spec.epsilon, low=0)
        check_number("n_samples", spec.n_samples, low=1, strict=False, integer=True)
        check_seed("data_seed", spec.data_seed)
        if spec.noise is not None:
            check_number("noise", spec.noise, low=0, strict=False)
    except ValueError as exc:
        raise BackproplabError(str(exc)) from None
    if dims[0] != 2 or dims[-1] != n_classes:
        raise BackproplabError(
            f"dims={dims}: {spec.dataset} has 2 features and {n_classes} classes, so the sizes "
            f"must start with 2 and end with {n_classes}")
    vary = {}
    for key, values in spec.vary.items():
        name = variable_name(key)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not values:
            raise BackproplabError(f"vary[{key!r}]={values!r} must be a non-empty list of values")
        vary[name] = [check_value(name, v) for v in values]
        if len({repr(v) for v in vary[name]}) != len(vary[name]):
            raise BackproplabError(f"--vary {name}={values!r} repeats a value")
    spec = dataclasses.replace(spec, dims=tuple(dims), activation=activation, vary=vary)
    for s in settings(spec):  # every setting's network must be buildable
        check_layer_dims(s.dims, "dims")
        if s.dims[0] != 2 or s.dims[-1] != n_classes:
            raise BackproplabError(f"setting {s.label}: dims={s.dims} must be 2-...-{n_classes}")
        check_memory(s.dims, spec.n_samples, what=f"dims={list(s.dims)} with "
                     f"{spec.n_samples} samples")  # before the folder is made
    return spec


def settings(spec: StudySpec) -> list[Setting]:
    """The grid's settings, in product order."""
    keys = list(spec.vary)
    out = []
    for index, combo in enumerate(itertools.product(*(spec.vary[k] for k in keys))):
        values = dict(zip(keys, combo))
        model = {"activation": spec.activation, "reg_lambda": spec.reg_lambda, "init": INIT}
        fit = {"epsilon": spec.epsilon}
        for k, v in values.items():
            target = VARIABLES[k].target
            if target == "model":
                model[k] = v
            elif target == "fit":
                fit[k] = v
        out.append(Setting(index, values, _architecture(spec.dims, values), model["activation"],
                           float(model["reg_lambda"]), fit, model["init"]))
    return out


def _architecture(dims, values) -> list[int]:
    dims = list(values.get("nn_layer_dims", dims))
    hidden = dims[1:-1]
    if "depth" in values:
        hidden = [hidden[0] if hidden else 3] * values["depth"]
    if "width" in values:
        hidden = [values["width"]] * len(hidden)
    return [dims[0], *hidden, dims[-1]]


def grid_shape(spec: StudySpec) -> tuple[int, int]:
    """(rows, columns) for a figure with one panel per setting: the last key along columns."""
    sizes = [len(v) for v in spec.vary.values()] or [1]
    n = math.prod(sizes)
    ncols = sizes[-1] if len(sizes) > 1 else (n if n <= 4 else 3)
    return math.ceil(n / ncols), ncols


@dataclass(frozen=True)
class StudyPlan:
    """Everything that determines a study's numbers: the spec, the seeds, the passes (a folder
    resumes only the same plan; `to_dict()` is study.json's "plan", its identity)."""

    spec: StudySpec
    seeds: tuple[int, ...]
    passes: int

    @classmethod
    def of(cls, spec: StudySpec, seeds: int = SEEDS, passes: int = PASSES,
           first_seed: int = 0) -> StudyPlan:
        return cls(spec, tuple(range(first_seed, first_seed + seeds)), passes)

    @property
    def record_every(self) -> int:
        """Passes between the points of the loss and accuracy curves."""
        return max(self.passes // CURVE_POINTS, 1)

    @property
    def diagnostics_every(self) -> int:
        return max(self.passes // DIAGNOSTIC_POINTS, 1)

    def passes_of(self, setting: Setting) -> int:
        """The passes `setting` trains: its own num_passes when the grid varies it."""
        return setting.fit.get("num_passes", self.passes)

    def to_dict(self) -> dict:
        return {"study": self.spec.to_dict(), "seeds": list(self.seeds), "passes": self.passes,
                "record_every": self.record_every, "diagnostics_every": self.diagnostics_every,
                "settings": [s.label for s in settings(self.spec)],
                "seed_meaning": SEED_MEANING}

    @classmethod
    def from_dict(cls, d: dict) -> StudyPlan:
        return cls(StudySpec.from_dict(d["study"]), tuple(d["seeds"]), d["passes"])

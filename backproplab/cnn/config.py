"""The CNN's options: one dataclass per component (data, trainer, monitor) and the recipes.

PyTorch-free, so that `backproplab --help` builds the train-cnn flags without importing torch.
Every field's default reproduces the problem set; its metadata is the flag's help.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from backproplab import config as flags
from backproplab.checks import check_seed
from backproplab.data import IMAGE_DATASETS
from backproplab.errors import BackproplabError

CNN_ACTIVATIONS = ("relu", "tanh")  # keys of backproplab.cnn.model.ACTIVATIONS
DRY_RUN = {"train_limit": 512, "test_limit": 256}  # --dry-run: every stage in seconds
DATASET_CHOICES = (*IMAGE_DATASETS, "mnist-subset")  # mnist-subset: the one bundled with us
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01}
OPTIMIZERS = tuple(DEFAULT_LR)
SCHEDULERS = ("none", "step", "onecycle")
THREADS_MAX = 1024  # --threads beyond it is a typo (torch.set_num_threads(100000) crashed)
PRECISIONS = ("fp32", "bf16")  # bf16: autocast of the forward pass (CPU and CUDA)
# Presets are data: each names the TrainConfig fields it changes; flags given explicitly win.
RECIPES = {
    "classic": {},  # the problem set's configuration: batch 64, 10 epochs, constant lr
    # >= 99.0% test accuracy in 4 epochs (3 seeds: 99.09-99.10%); bf16 with channels-last
    # halves the time per example on CPUs with AVX512-BF16 (docs/BENCHMARKS.md)
    "fast": {"optimizer": "adam", "batch_size": 256, "epochs": 4, "lr": 0.012,
             "scheduler": "onecycle", "precision": "bf16"},
}

@dataclass
class DataConfig:
    dataset: str = field(default="mnist", metadata={
        "choices": DATASET_CHOICES,
        "help": "mnist, fashion-mnist, or mnist-subset (the 10,000/2,000 subset bundled with "
                "backproplab, for offline demos)"})
    data_dir: str | None = field(default=None, metadata={
        "metavar": "DIR", "help": "folder holding the four IDX files (raw or .gz); else "
        "$BACKPROPLAB_DATA, the user cache, system folders, then a download"})
    download: bool = field(default=True, metadata={
        "help": "download the dataset into the user cache when it is found nowhere"})
    train_limit: int = field(default=0, metadata={
        "help": "use only the first N training examples (0: all)"})
    test_limit: int = field(default=0, metadata={
        "help": "use only the first N test examples (0: all)"})
    val_size: int = field(default=0, metadata={
        "help": "hold out the last N training examples for validation (0: none)"})

    def __post_init__(self):
        if self.dataset not in DATASET_CHOICES:
            raise BackproplabError(f"unknown dataset {self.dataset!r}; valid: "
                                   f"{', '.join(DATASET_CHOICES)}")
        for name in ("train_limit", "test_limit", "val_size"):
            if getattr(self, name) < 0:
                raise BackproplabError(f"--{name.replace('_', '-')} must be >= 0, "
                                       f"got {getattr(self, name)}")


@dataclass
class MonitorConfig:
    monitor_every: int = field(default=100, metadata={
        "help": "write per-layer statistics every N iterations (0: never)"})
    hist_bins: int = field(default=30, metadata={"help": "bins of each histogram"})

    def __post_init__(self):
        if self.monitor_every < 0:
            raise BackproplabError(f"--monitor-every must be >= 0, got {self.monitor_every}")
        if self.hist_bins < 1:
            raise BackproplabError(f"--hist-bins must be positive, got {self.hist_bins}")


@dataclass
class TrainConfig:
    optimizer: str = field(default="adam", metadata={"choices": OPTIMIZERS,
                                                     "help": "optimiser"})
    activation: str = field(default="relu", metadata={"choices": CNN_ACTIVATIONS,
                                                      "help": "activation after conv1, conv2, fc1"})
    epochs: int = field(default=10, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=64, metadata={"help": "examples per step (per process)"})
    lr: float | None = field(default=None, metadata={
        "type": float, "show_default": "adam 0.001, sgd 0.01", "help": "learning rate"})
    momentum: float = field(default=0.5, metadata={"help": "SGD momentum"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay"})
    scheduler: str = field(default="none", metadata={
        "choices": SCHEDULERS, "help": "learning-rate schedule: none, step (x0.7 per epoch) or "
        "onecycle (warm up to --lr, then anneal, per step)"})
    precision: str = field(default="fp32", metadata={
        "choices": PRECISIONS, "help": "fp32, or bf16 autocast of the forward passes (about "
        "twice as fast on CPUs with AVX512-BF16, and on recent GPUs)"})
    channels_last: bool = field(default=True, metadata={
        "help": "lay the convolution weights out channels-last (NHWC; the default), so that "
                "conv1 and conv2, their activations and max-pooling run in that layout: about "
                "20%% faster per step on CPU (measured); the same network, its sums in another "
                "order, so results differ from --no-channels-last in the last bits (about "
                "1e-7); a run keeps its layout: --resume refuses a change"})
    seed: int = field(default=0, metadata={"help": "seed of the weights, data order, dropout"})
    device: str = field(default="auto", metadata={
        "help": "auto (CUDA if present, else CPU), cpu, cuda, cuda:N"})
    threads: int = field(default=0, metadata={
        "help": "CPU threads for PyTorch (0: its default, one per core); 1 avoids OpenMP's "
                "spin-waiting on a machine busy with other work; a property of the machine, "
                "so --resume allows another, but it splits the sums differently: the run then "
                "continues with numbers that differ in the last bits (about 1e-8)"})
    logdir: str | None = field(default=None, metadata={
        "metavar": "DIR", "show_default": "runs/DATASET-OPTIMIZER-ACTIVATION-sSEED",
        "help": "run folder: TensorBoard events, checkpoint, CSVs"})
    resume: bool = field(default=False, metadata={"help": "continue the run in --logdir"})
    overwrite: bool = field(default=False, metadata={
        "help": "replace the run in --logdir (only backproplab's files are removed)"})
    save_model: bool = field(default=False, metadata={"help": "write the final weights to "
                                                      "LOGDIR/model.pt (see evaluate-cnn)"})
    eval_batch_size: int = field(default=1000, metadata={
        "help": "examples per test batch (it changes the test loss's last bits, so a run keeps "
                "it: --resume refuses a change)"})

    def __post_init__(self):
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("activation", self.activation, CNN_ACTIVATIONS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _choice("precision", self.precision, PRECISIONS)
        if not isinstance(self.threads, int) or self.threads < 0:
            raise BackproplabError(f"--threads must be >= 0, got {self.threads!r}")
        if self.threads > THREADS_MAX:  # PyTorch's OpenMP crashed (SIGSEGV) at 100000
            raise BackproplabError(f"--threads {self.threads} is more than {THREADS_MAX}; give "
                                   "at most this machine's cores (0: one per core)")
        try:
            check_seed("--seed", self.seed)
        except ValueError as exc:
            raise BackproplabError(str(exc)) from None
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise BackproplabError(f"--{name.replace('_', '-')} must be a positive integer, "
                                       f"got {getattr(self, name)!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise BackproplabError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise BackproplabError(f"--momentum must be in [0, 1), got {self.momentum}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise BackproplabError(f"--weight-decay must be a finite number >= 0, "
                                   f"got {self.weight_decay}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


def with_recipe(recipe: str, **explicit) -> TrainConfig:
    """TrainConfig from a preset of RECIPES, then the explicitly given fields on top."""
    if recipe not in RECIPES:
        raise BackproplabError(f"unknown recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    return TrainConfig(**{**RECIPES[recipe], **explicit})



def _choice(name: str, value, valid) -> None:
    if value not in valid:
        raise BackproplabError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


def add_dry_run(parser) -> None:
    """The --dry-run flag of train-cnn and compare-cnn."""
    parser.add_argument("--dry-run", action="store_true",
                        help=f"train on {DRY_RUN['train_limit']} and test on "
                             f"{DRY_RUN['test_limit']} examples only (a quick check)")


def data_config(args) -> DataConfig:
    """The DataConfig of the parsed flags; with --dry-run, DRY_RUN's limits where none is given."""
    data = flags.from_args(DataConfig, args)
    if args.dry_run:
        data = dataclasses.replace(data, **{k: v for k, v in DRY_RUN.items()
                                            if not getattr(data, k)})
    return data

"""Run a part I study: a grid of settings, each trained across seeds, with held-out accuracy.

  backproplab study moons-activations        a preset: one figure of the problem set
  backproplab study --list                   the presets
  backproplab study --dims 2,3,2 --vary activation=tanh,relu --vary reg_lambda=0,0.01
                                             a custom grid: the product of the varied values

Writes into --out (default studies/NAME): boundaries.png, losses.png, dataset.png,
diagnostics.png, results.csv, summary.csv, diagnostics.csv, summary.txt and study.json. Seeds vary
the weight initialisation; the training data is the problem set's fixed sample. Rerunning the
same command resumes, skipping finished settings; Ctrl-C keeps them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

# The options load without NumPy (`study --help` answers at once); `run` imports the runner.
from backproplab import config
from backproplab.backends import BackendConfig, open_backend
from backproplab.datasets import DATASETS
from backproplab.errors import BackproplabError
from backproplab.nn.defaults import ACTIVATION, ACTIVATION_NAMES, REG_LAMBDA
from backproplab.studies.presets import PRESETS, preset
from backproplab.studies.spec import (
    PASSES,
    SEEDS,
    VARIABLES,
    StudySpec,
    check_counts,
    check_size,
    parse_vary,
)

QUICK = {"seeds": 2, "passes": 300}  # --quick: every code path in seconds


@dataclass
class StudyConfig:
    seeds: int = field(default=SEEDS, metadata={"help": "initialisations per setting"})
    passes: int = field(default=PASSES, metadata={"help": "gradient-descent passes"})
    jobs: int = field(default=None, metadata={
        "help": "worker processes (--backend ray: the CPUs of a Ray instance started here)",
        "type": config.integer, "show_default": "all cores"})
    out: str = field(default=None, metadata={"help": "output folder", "metavar": "DIR",
                                             "show_default": "studies/NAME"})
    first_seed: int = field(default=0, metadata={"help": "seeds are first-seed, first-seed+1, ..."})
    quick: bool = field(default=False, metadata={
        "help": f"a smoke run: {QUICK['seeds']} seeds x {QUICK['passes']} passes"})
    # A custom grid (instead of a preset NAME):
    dataset: str = field(default="moons", metadata={"help": "custom grid: data",
                                                    "choices": list(DATASETS)})
    dims: list = field(default_factory=lambda: [2, 3, 2], metadata={
        "help": "custom grid: layer sizes", "type": config.int_list, "metavar": "D,D,..."})
    activation: str = field(default=ACTIVATION, metadata={
        "help": "custom grid: activation unless varied", "choices": list(ACTIVATION_NAMES)})
    reg_lambda: float = field(default=REG_LAMBDA, metadata={
        "help": "custom grid: regularisation unless varied"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", type=config.text,
                        help=f"a preset: {', '.join(PRESETS)}")
    parser.add_argument("--list", action="store_true", help="list the presets and exit")
    parser.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                        help="custom grid: vary KEY over values (repeatable; the grid is the "
                             f"product). Keys: {', '.join(VARIABLES)}")
    config.add_arguments(parser, StudyConfig)
    config.add_arguments(parser, BackendConfig)


def run(args) -> int:
    if args.list:
        for name, spec in PRESETS.items():
            print(f"{name:24s} {spec.title}")
        return 0
    cfg = config.from_args(StudyConfig, args)
    seeds, passes = (QUICK["seeds"], QUICK["passes"]) if cfg.quick else (cfg.seeds, cfg.passes)
    check_counts(seeds, passes, cfg.first_seed, flags=True)
    if cfg.jobs is not None and cfg.jobs < 1:
        raise BackproplabError(f"--jobs={cfg.jobs} must be >= 1")
    spec = _spec(args, cfg)
    check_size(spec, seeds, flags=True)
    out = cfg.out or f"studies/{spec.name}"
    # The runner loads NumPy and matplotlib: imported when a study runs.
    from backproplab.studies.runner import run_study

    where = config.from_args(BackendConfig, args)
    with open_backend(where.backend, jobs=cfg.jobs, address=where.address) as backend:
        run_study(spec, out, seeds=seeds, passes=passes, jobs=cfg.jobs,
                  first_seed=cfg.first_seed, backend=backend)
    print(f"wrote {out}/ (boundaries.png, losses.png, diagnostics.png, summary.csv, ...)")
    return 0


def _spec(args, cfg) -> StudySpec:
    if args.name:
        if args.vary:
            raise BackproplabError(
                f"give a preset NAME ({args.name!r}) or --vary for a custom grid, not both")
        return preset(args.name)
    if not args.vary:
        raise BackproplabError(
            f"give a preset NAME ({', '.join(PRESETS)}) or a custom grid with --vary KEY=V1,V2")
    vary = {}
    for text in args.vary:
        key, values = parse_vary(text)
        if key in vary:
            raise BackproplabError(f"--vary {key} is given twice")
        vary[key] = values
    return StudySpec("custom", cfg.dataset, tuple(cfg.dims), cfg.activation, cfg.reg_lambda,
                     vary=vary, title=f"custom grid on {cfg.dataset}")

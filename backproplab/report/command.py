"""Regenerate the whole problem set into one folder and one self-contained HTML report.

Runs, in order: the datasets and activations plotted; every part I study preset; the part II
comparison {adam, sgd} x {relu, tanh} (TensorBoard runs under OUT/runs); then writes
OUT/report.html, OUT/summary.md and OUT/results.json. Rerunning the same command resumes;
Ctrl-C keeps every finished part.

profiles: full (the problem set's settings: 20,000 passes, 5 seeds, 10 epochs on full MNIST)
          quick (under 3 minutes on 2 cores, offline, on the MNIST subset bundled with backproplab)
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The options load without NumPy or PyTorch (`reproduce --help` answers at once).
from backproplab import config
from backproplab.backends import BackendConfig, open_backend
from backproplab.report.profiles import PROFILES


@dataclass
class ReproduceConfig:
    profile: str = field(default="full", metadata={"choices": list(PROFILES),
                                                   "help": "how much to run"})
    out: str = field(default="reproduce-out", metadata={
        "metavar": "DIR", "help": "output folder (new, empty, or an earlier run to resume)"})
    jobs: int | None = field(default=None, metadata={
        "type": config.integer, "show_default": "all cores",
        "help": "worker processes for the studies"})
    data_dir: str | None = field(default=None, metadata={
        "metavar": "DIR", "help": "folder with MNIST's four IDX files (else $BACKPROPLAB_DATA, "
        "the user cache, a download, or the bundled subset)"})


def add_arguments(parser):
    config.add_arguments(parser, ReproduceConfig)
    config.add_arguments(parser, BackendConfig)


def run(args) -> int:
    cfg = config.from_args(ReproduceConfig, args)
    if cfg.jobs is not None and cfg.jobs < 1:
        raise ValueError(f"--jobs={cfg.jobs} must be >= 1")
    # The parts load NumPy, matplotlib and PyTorch: imported when the report is made.
    from backproplab.report.parts import check_data
    from backproplab.report.reproduce import reproduce

    data = check_data(PROFILES[cfg.profile], cfg.data_dir)  # every file, before any work
    where = config.from_args(BackendConfig, args)
    with open_backend(where.backend, jobs=cfg.jobs, address=where.address) as backend:
        # local: the studies' worker processes and the CNN's runs one by one, as ever
        results = reproduce(cfg.out, cfg.profile, cfg.jobs, cfg.data_dir,
                            backend=None if where.backend == "local" else backend, data=data)
    print(f"report: {cfg.out}/report.html ({results.meta.total_seconds:.0f} s); "
          f"tables: {cfg.out}/summary.md; numbers: {cfg.out}/results.json")
    print(f"TensorBoard: tensorboard --logdir {cfg.out}/runs")
    return 0

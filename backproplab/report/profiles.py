"""How much `backproplab reproduce` runs: each profile carries every setting of its own.

Loads without NumPy or PyTorch, so that `reproduce --help` lists the profiles at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from backproplab.studies.spec import PASSES, SEEDS


@dataclass(frozen=True)
class Profile:
    name: str
    passes: int  # gradient-descent passes per part I network
    seeds: int  # part I seeds (weight initialisations) per setting
    epochs: int  # part II epochs per run
    cnn_seeds: int  # part II seeds per setting
    mnist: str  # "auto": full MNIST if found or downloadable, else the bundled subset
    cnn_train_limit: int = 0  # use only the first N training images (0: all)
    cnn_monitor_every: int = 100  # part II iterations between per-layer statistics


PROFILES = {p.name: p for p in [
    # The problem set's settings: a study's defaults (20,000 passes, 5 seeds per network) and
    # 10 epochs on full MNIST.
    Profile("full", passes=PASSES, seeds=SEEDS, epochs=10, cnn_seeds=5, mnist="auto"),
    # Under 3 minutes on 2 cores, offline: passes enough for the boundaries to take their shape
    # (all 8 studies in about 15 s), fewer seeds and epochs, the bundled MNIST subset, and
    # statistics often enough to draw curves from a short run.
    Profile("quick", passes=3000, seeds=3, epochs=2, cnn_seeds=1, mnist="mnist-subset",
            cnn_monitor_every=10),
]}

"""`backproplab reproduce`: the whole problem set, part by part, into one folder and one report.

    out/
      reproduce.json       the profile and the parts done so far (what a rerun resumes from)
      figures/             figures of the report's own (activations, datasets, CNN overlays)
      studies/NAME/        one folder per part I study (see backproplab.studies)
      cnn/                 the part II comparison; its TensorBoard runs are under out/runs
      results.json         every number;  summary.md  the tables;  report.html  the report

Parts run in order and are recorded as each finishes, so Ctrl-C keeps what is done and
rerunning the same command resumes with the first part not done.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from backproplab import __version__, io
from backproplab.errors import BackproplabError
from backproplab.progress import Progress
from backproplab.studies.runner import PROFILES as STUDY_PROFILES  # part I's seeds and passes

STATE = "reproduce.json"


@dataclass(frozen=True)
class Profile:
    passes: int  # gradient-descent passes per part I network
    seeds: int  # part I seeds (weight initialisations) per setting
    epochs: int  # part II epochs per run
    cnn_seeds: int  # part II seeds per setting
    mnist: str  # "auto": full MNIST if found or downloadable, else the bundled subset
    cnn_train_limit: int = 0  # use only the first N training images (0: all)


PROFILES = {
    # The problem set's settings.
    "full": Profile(**STUDY_PROFILES["full"], epochs=10, cnn_seeds=5, mnist="auto"),
    # Under 3 minutes on 2 cores, offline: fewer passes, seeds and epochs, the bundled subset.
    "quick": Profile(**STUDY_PROFILES["quick"], epochs=2, cnn_seeds=1, mnist="mnist-subset"),
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> dict:
    import matplotlib
    import numpy
    import sklearn

    v = {"backproplab": __version__, "python": platform.python_version(),
         "numpy": numpy.__version__, "scikit-learn": sklearn.__version__,
         "matplotlib": matplotlib.__version__}
    try:
        import torch

        v["torch"] = torch.__version__
    except ImportError:
        pass
    return v


class RunFolder:
    """The output folder: refuses one that holds anything else, remembers the parts done."""

    def __init__(self, path: Path, profile: str):
        self.path = Path(path)
        self.state_path = self.path / STATE
        state = io.claim_folder(self.path, STATE)
        if state is None:
            state = {"backproplab": __version__, "profile": profile, "parts": {}}
        elif not isinstance(state, dict) or not isinstance(state.get("parts"), dict):
            raise BackproplabError(f"{str(self.state_path)!r} is not a reproduce state file")
        elif state.get("profile") != profile:
            raise BackproplabError(
                f"--out {str(self.path)!r} holds a reproduce run of profile "
                f"{state.get('profile')!r}, not {profile!r}; choose another folder")
        self.state = state

    def done(self, part: str) -> dict | None:
        return self.state["parts"].get(part)

    def record(self, part: str, result: dict) -> None:
        self.state["parts"][part] = result
        io.write_json(self.state_path, self.state)


def strict_json(obj):
    """NaN and infinities (e.g. "dead units" of a tanh network) as null: strict JSON for readers."""
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def reproduce(out, profile: str = "full", jobs: int | None = None, data_dir=None,
              progress: bool = True) -> dict:
    """Run every part not yet done into `out`, then write results.json, summary.md, report.html.

    Returns the results dict (every number of the report).
    """
    from backproplab.report import parts
    from backproplab.report.build import build_html, build_markdown

    if profile not in PROFILES:
        raise BackproplabError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    data = parts.check_data(prof, data_dir)  # fails early, before anything is written
    folder = RunFolder(Path(out), profile)
    folder.path.mkdir(parents=True, exist_ok=True)
    plan = parts.plan(prof)
    start = time.perf_counter()
    elapsed_before = sum(r.get("seconds", 0) for r in folder.state["parts"].values())
    bar = Progress(len(plan), "reproduce", unit="part", enabled=progress)
    for name, step in plan:
        if folder.done(name):
            bar.update(1, postfix=f"{name} (done earlier)")
            continue
        bar.update(0, postfix=name)
        t0 = time.perf_counter()
        try:
            result = step(folder.path, prof, jobs=jobs, data=data, bar=bar)
        except KeyboardInterrupt:
            bar.close()
            done = len(folder.state["parts"])
            print(f"interrupted during {name}: {done} of {len(plan)} parts are done and kept in "
                  f"{folder.path}; rerun the same command to resume", file=sys.stderr)
            raise
        result["seconds"] = time.perf_counter() - t0
        folder.record(name, result)
        bar.update(1, postfix=f"{name} done")
    bar.close()

    total = elapsed_before + time.perf_counter() - start
    results = parts.collect(folder.state["parts"], plan)
    results["meta"] = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "profile": profile, **asdict(prof), "data_source": data.description,
        "data_is_full": data.is_full, "notices": data.notices, "total_seconds": total,
        "versions": versions(), "machine": machine(),
        "command": "backproplab reproduce " + " ".join(sys.argv[2:]) if sys.argv[1:2] == [
            "reproduce"] else f"backproplab reproduce --profile {profile} --out {out}",
    }
    io.write_json(folder.path / "results.json", strict_json(results))
    io.write_text(folder.path / "summary.md", build_markdown(results))
    io.write_text(folder.path / "report.html", build_html(results, folder.path / "figures"))
    return results

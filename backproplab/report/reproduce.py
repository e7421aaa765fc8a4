"""`backproplab reproduce`: the whole problem set, part by part, into one folder and one report.

    out/
      reproduce.json       the profile and the parts done so far (what a rerun resumes from)
      figures/             figures of the report's own (activations, datasets, CNN overlays)
      studies/NAME/        one folder per part I study (see backproplab.studies)
      cnn/                 the part II comparison; its TensorBoard runs are under out/runs
      results.json         every number;  summary.md  the tables;  report.html  the report

The folder is an `io.RunFolder` marked by reproduce.json, whose identity is the profile (all of
its settings, `report.profiles`). Parts run in order (`report.parts`) and are recorded there as
each finishes, so Ctrl-C keeps what is done and rerunning the same command resumes with the
first part not done.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from backproplab import io
from backproplab.backends import using
from backproplab.errors import BackproplabError
from backproplab.report import parts
from backproplab.report.build import build_html, build_markdown
from backproplab.report.profiles import PROFILES, Profile
from backproplab.report.records import ReportMeta, Results

STATE = "reproduce.json"
# Keys of a part's record (and part names: the figures part's record is all paths) whose
# values are paths: recorded relative to the output folder, read back resolved inside it.
PATH_KEYS = ("figures", "folder", "runs_dir")
VERSIONS_OF = ("numpy", "scikit-learn", "matplotlib", "torch")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def open_folder(out, profile: Profile) -> tuple[io.RunFolder, dict]:
    """The output folder, claimed for `profile` (a folder holding another profile's run or
    other files is refused), and its state: {"parts": {name: record}} of the parts done."""
    folder = io.RunFolder(out, STATE, kind="reproduce run")
    state = folder.open({"profile": asdict(profile)}, versions_of=VERSIONS_OF,
                        describe=_describe)
    if state is None:  # a new run: the marker was just written
        state = {**folder.read(), "parts": {}}
        folder.write(state)
    names = [name for name, _ in parts.report_parts(profile)]
    recorded = state.get("parts")
    if (not isinstance(recorded, dict) or any(n not in names for n in recorded)
            or not all(isinstance(r, dict) for r in recorded.values())):
        raise BackproplabError(
            f"{str(folder.marker_path)!r} is not a reproduce state file: \"parts\" must map "
            f"part names ({', '.join(names)}) to records; remove it or choose another --out")
    recorded_parts(state, folder.path)  # every path inside the folder, checked before any work
    return folder, state


def map_paths(obj, fn, key=None):
    """`obj` (reproduce.json's parts) with `fn` applied to every path: each string under a key
    of PATH_KEYS (itself, or the values of a dict there but the `seconds` of every record)."""
    if key in PATH_KEYS:
        if isinstance(obj, dict):
            return {k: v if k == "seconds" else fn(v) for k, v in obj.items()}
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_paths(v, fn, k) for k, v in obj.items()}
    return obj


def recorded_parts(state: dict, out: Path) -> dict:
    """The parts' records with their paths resolved inside `out` (anything outside refused)."""
    where = str(out / STATE)
    return map_paths(state["parts"], lambda p: str(io.inside_folder(out, p, where)))


def _describe(state: dict) -> str:
    profile = state.get("profile")
    return f"profile {profile.get('name')!r}" if isinstance(profile, dict) else ""


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
              progress: bool = True, backend=None, data: parts.Data | None = None) -> Results:
    """Run every part not yet done into `out`, then write results.json, summary.md, report.html.

    backend: where the studies' stacks and the CNN's runs train (a `backproplab.backends`
    Backend, e.g. Ray's); None: worker processes here (`jobs`), the CNN's runs one by one.
    data: MNIST as `parts.check_data(profile, data_dir)` found and checked it (the command
    checks it before it opens the backend); None: checked here, before anything is written.

    Returns the Results (every number of the report).
    """
    if profile not in PROFILES:
        raise BackproplabError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    if data is None:  # every file checked: fails early, before anything is written or trained
        data = parts.check_data(prof, data_dir)
    folder, state = open_folder(Path(out), prof)
    steps = parts.report_parts(prof)
    start = time.perf_counter()
    elapsed_before = sum(r.get("seconds", 0) for r in state["parts"].values())
    bar = parts.Bars(prof, [name for name, _ in steps if name not in state["parts"]], progress)
    for name, step in steps:
        if name in state["parts"]:
            continue
        bar.start(name)
        t0 = time.perf_counter()
        try:
            with using(backend) if backend is not None else contextlib.nullcontext():
                record = step(folder.path, prof, jobs=jobs, data=data, bar=bar)
        except KeyboardInterrupt:
            bar.close()
            print(f"interrupted during {name}: {len(state['parts'])} of {len(steps)} parts are "
                  f"done and kept in {folder.path}; rerun the same command to resume",
                  file=sys.stderr)
            raise
        record["seconds"] = time.perf_counter() - t0
        state["parts"][name] = map_paths(
            record, lambda p: io.relative_to_folder(p, folder.path), name)
        folder.write(state)
        bar.end(name)
    bar.close()

    meta = ReportMeta(
        date=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), profile=prof,
        data_source=data.description, data_is_full=data.is_full, notices=data.notices,
        total_seconds=elapsed_before + time.perf_counter() - start,
        versions=io.versions(*VERSIONS_OF), machine=machine(),
        command="backproplab reproduce " + " ".join(sys.argv[2:]) if sys.argv[1:2] == [
            "reproduce"] else f"backproplab reproduce --profile {profile} --out {out}")
    records = recorded_parts(state, folder.path)
    try:
        results = parts.collect(records, steps, meta)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackproplabError(f"{str(folder.marker_path)!r}: a part's record is damaged "
                               f"({type(exc).__name__}: {exc}); remove it or choose another "
                               "--out") from None
    io.write_json(folder.path / "results.json", strict_json(results.to_dict()))
    io.write_text(folder.path / "summary.md", build_markdown(results))
    io.write_text(folder.path / "report.html", build_html(results, folder.path / "figures"))
    folder.close()  # the folder's lock, held since open_folder (released at exit if this fails)
    return results

"""Run a study: every setting of its grid, all seeds of a setting as one stack, settings in
parallel worker processes, each setting's results written as it finishes.

    result = run_study("moons-activations", "out/moons-activations", seeds=5, passes=20000)

The output folder is an `io.RunFolder` marked by `study.json` (its identity is the plan: spec,
seeds, passes; a rerun resumes only the same plan), with `settings/NN.json` (one
`SettingResult` per finished setting: per-seed numbers, curves, diagnostics and the trained
parameters) and, once every setting is done, the tables and figures built from them
(`backproplab.studies.outputs`). Rerunning the same study into the same folder skips finished
settings; a folder holding anything else is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from backproplab.backends import Task, backend_for, failures
from backproplab.datasets import dataset_info, heldout_sample, load_dataset
from backproplab.errors import BackproplabError
from backproplab.io import RunFolder, now, parse_json, write_json
from backproplab.nn.batched import BatchedNetwork, keep_freed_memory
from backproplab.progress import Progress
from backproplab.studies.diagnostics import DiagnosticsSampler
from backproplab.studies.geometry import dataset_reference, network_geometry
from backproplab.studies.outputs import build_outputs
from backproplab.studies.presets import PRESETS, preset
from backproplab.studies.results import (
    Curves,
    Diagnostics,
    NetworkResult,
    Parameters,
    SettingResult,
    StudyResult,
)
from backproplab.studies.spec import (
    PASSES,
    SEEDS,
    Setting,
    StudyPlan,
    StudySpec,
    check_counts,
    check_size,
    check_spec,
    format_value,
    settings,
)

MARKER = "study.json"
REPORT_EVERY = 250  # passes between progress reports from a worker


def resolve_study(study) -> StudySpec:
    """A preset name or a StudySpec, checked."""
    spec = preset(study) if isinstance(study, str) else study
    if not isinstance(spec, StudySpec):
        raise BackproplabError(f"study={study!r} must be a preset name or a StudySpec")
    return check_spec(spec)


def study_plan(spec: StudySpec, seeds=SEEDS, passes=PASSES, first_seed=0) -> StudyPlan:
    """Everything that determines a study's numbers; a folder resumes only the same plan."""
    return StudyPlan.of(spec, seeds, passes, first_seed)


def study_work(study, seeds=SEEDS, passes=PASSES) -> int:
    """Model-passes a study trains (settings x seeds x passes): the size of a progress bar."""
    the_plan = study_plan(resolve_study(study), seeds, passes)
    return sum(the_plan.passes_of(s) * seeds for s in settings(the_plan.spec))


def run_study(study, out_dir, *, seeds=SEEDS, passes=PASSES, jobs=None, first_seed=0,
              progress=True, log=print, backend=None) -> StudyResult:
    """Train every setting x seed of `study` (a preset name or StudySpec) into `out_dir`.

    seeds: how many initialisations per setting (seeds first_seed .. first_seed + seeds - 1);
    passes: full-batch gradient-descent passes; jobs: worker processes (None: all cores);
    backend: where the stacks train (a `backproplab.backends` Backend; None: the one of an
    enclosing `backends.using`, else local worker processes, `jobs` of them);
    progress: True for a bar on stderr, False for none, or an object with `update(n)` counting
    model-passes (see `study_work`); log: where the summary is printed (None: silent).
    Returns the StudyResult, with tables and figures written.
    """
    spec = resolve_study(study)
    check_counts(seeds, passes, first_seed)
    check_size(spec, seeds)
    out_dir = Path(out_dir)
    the_plan = study_plan(spec, seeds, passes, first_seed)
    folder = study_folder(out_dir)
    meta = _open(folder, the_plan)
    grid = settings(spec)
    done = {s.index: r for s in grid
            if (r := _load_setting(out_dir, s, the_plan)) is not None}
    todo = [s for s in grid if s.index not in done]
    if todo:  # once, here: the worker processes forked below inherit it
        reference_of(spec)
    bar = _progress(progress, sum(the_plan.passes_of(s) * seeds for s in todo), spec.name)
    ran, failed = meta.setdefault("tasks", []), []  # where each stack ran, over every session
    try:
        with backend_for(backend, jobs) as where:
            meta["backend"] = where.describe()
            with contextlib.closing(_train_all(spec, todo, the_plan, where, bar, ran,
                                               failed)) as finished:
                for result in finished:
                    write_json(setting_path(out_dir, result.index), result.to_dict())
                    done[result.index] = result
    except KeyboardInterrupt:
        if log is not None:
            print(f"\ninterrupted: {len(done)} of {len(grid)} settings finished and kept in "
                  f"{out_dir}; rerun the same command to resume", file=sys.stderr)
        raise
    finally:
        if isinstance(bar, Progress):
            bar.close()
        folder.write(meta)
    if failed:
        raise BackproplabError(
            f"{len(grid) - len(done)} of {len(grid)} settings could not be trained "
            f"({failures(failed)}); the {len(done)} others are kept in {out_dir}; rerun the "
            "same command to try again")
    results = [done[s.index] for s in grid]
    meta.update(status="finished", finished=now(), seconds={r.label: r.seconds for r in results})
    folder.write(meta)
    result = build_outputs(spec, out_dir, the_plan, results,
                           jobs=(os.cpu_count() or 1) if jobs is None else jobs)
    folder.close()  # the folder's lock, held since _open (released at exit if this fails)
    if log is not None:
        log(result.text)
    return result


def load_study(out_dir) -> StudyResult:
    """The StudyResult of a finished study folder (tables and figures rebuilt)."""
    out_dir = Path(out_dir)
    meta = RunFolder(out_dir, MARKER, kind="study", flag="study folder").read()
    if meta is None:
        raise BackproplabError(f"{str(out_dir)!r} holds no study (no study.json)")
    the_plan = StudyPlan.from_dict(meta["plan"])
    spec = the_plan.spec
    results = [_load_setting(out_dir, s, the_plan) for s in settings(spec)]
    if any(r is None for r in results):
        missing = sum(r is None for r in results)
        raise BackproplabError(f"{str(out_dir)!r}: {missing} setting(s) unfinished; rerun the "
                               "study to resume")
    return build_outputs(spec, out_dir, the_plan, results)


# ---------------------------------------------------------------------------------------------
# The output folder: a RunFolder marked by study.json, resumed only for the same plan.


def study_folder(out_dir) -> RunFolder:
    return RunFolder(out_dir, MARKER, kind="study", state={"tasks": list})


def setting_path(out_dir, index) -> Path:
    return Path(out_dir) / "settings" / f"{index:02d}.json"


def _open(folder: RunFolder, the_plan: StudyPlan) -> dict:
    """Claim the folder for this plan: the marker to go on with (status running)."""
    meta = folder.open({"plan": the_plan.to_dict()}, describe=lambda m: repr(
        m.get("plan", {}).get("study", {}).get("name")),
        versions_of=("numpy", "scikit-learn", "matplotlib"))
    if meta is None:  # a new study: the marker was just written
        meta = {**folder.read(), "rerun": rerun_command(the_plan), "status": "running"}
    else:
        meta.update(status="running", resumed=now())
    folder.write(meta)
    return meta


def rerun_command(the_plan: StudyPlan) -> str:
    """The `backproplab study` command that reruns this plan, or how to rerun it from Python
    when the spec sets something the command line does not reach (epsilon, noise, ...)."""
    spec, seeds = the_plan.spec, the_plan.seeds
    counts = (f"--seeds {len(seeds)} --passes {the_plan.passes}"
              + (f" --first-seed {seeds[0]}" if seeds[0] else ""))
    if spec.name in PRESETS and check_spec(PRESETS[spec.name]) == spec:
        return f"backproplab study {spec.name} {counts}"
    default = StudySpec("custom", spec.dataset, spec.dims, spec.activation, spec.reg_lambda,
                        vary=spec.vary, title=spec.title)
    if spec == default:
        vary = " ".join(f"--vary {k}={','.join(format_value(v) for v in vs)}"
                        for k, vs in spec.vary.items())
        return (f"backproplab study --dataset {spec.dataset} --dims "
                f"{','.join(map(str, spec.dims))} --activation {spec.activation} --reg-lambda "
                f"{spec.reg_lambda:g} {vary} {counts}")
    return ("python -c 'from backproplab.studies import StudySpec, run_study; run_study("
            "StudySpec.from_dict(PLAN[\"study\"]), OUT, seeds=..., passes=..., first_seed=...)' "
            "with PLAN this file's plan")


def _load_setting(out_dir, setting: Setting, the_plan: StudyPlan) -> SettingResult | None:
    """settings/NN.json of `setting` under `the_plan`, or None to train it (again): a file that
    is missing, unreadable, of another setting, seeds or passes, or not of the shape and ranges
    this study writes (edited by hand) is never used."""
    path = setting_path(out_dir, setting.index)
    if not path.is_file():
        return None
    try:
        result = parse_json(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable (it cannot be half-written: writes are atomic): train again
    if not isinstance(result, dict) or not _setting_fits(result, setting, the_plan):
        return None
    try:
        return SettingResult.from_dict(result)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None  # not the shape this study writes (edited by hand): train it again


def _setting_fits(result: dict, setting: Setting, the_plan: StudyPlan) -> bool:
    """Whether a settings/NN.json object is `setting`'s under `the_plan` (the identity that
    `setting_result` writes, compared as JSON) with per-seed numbers of the right kind: losses
    finite and >= 0 (NaN: diverged), accuracies in [0, 1] (or NaN), classes counts."""
    expected = json.loads(json.dumps({
        "index": setting.index, "label": setting.label, "values": setting.values,
        "dims": setting.dims, "activation": setting.activation,
        "reg_lambda": setting.reg_lambda,
        "fit": {k: v for k, v in setting.fit.items() if k != "num_passes"},
        "passes": the_plan.passes_of(setting), "seeds": the_plan.seeds}))
    if any(result.get(k) != v for k, v in expected.items()):
        return False
    n = len(the_plan.seeds)

    def numbers(key, low, high, integer=False):
        values = result.get(key)
        return isinstance(values, list) and len(values) == n and all(
            not isinstance(v, bool) and isinstance(v, int if integer else (int, float))
            and (math.isnan(v) or low <= v <= high) for v in values)

    return (numbers("final_loss", 0, math.inf)
            and not any(map(math.isinf, result["final_loss"]))
            and numbers("train_accuracy", 0, 1) and numbers("heldout_accuracy", 0, 1)
            and numbers("classes_predicted", 0, setting.dims[-1], integer=True)
            and isinstance(result.get("seconds"), (int, float)) and result["seconds"] >= 0)


# ---------------------------------------------------------------------------------------------
# Training: networks of one architecture in stacks, stacks spread over the workers.

# Networks per stack: at most STACK_UNITS // (widest hidden layer). Every network gains from a
# larger stack (call overhead shared) up to about 20 of width 20 (moons, 4 hidden layers: 168 us
# a network-pass alone, 110 in a stack of 5, 102 of 20, 111 of 30), once freed memory is kept
# (`keep_freed_memory`); beyond, the stack outgrows the cache.
STACK_UNITS = 400


def plan_stacks(todo, the_plan, jobs=1) -> list[list[tuple[Setting, int]]]:
    """The networks (setting, seed) of the unfinished settings, as stacks to train.

    Settings that differ only in activation or reg_lambda share their layer sizes and train in
    one stack (ordered by activation), cut into equal pieces of at most STACK_UNITS hidden units
    a layer; with fewer pieces than 2 * jobs they are cut into a multiple of `jobs`, so that no
    worker idles while another trains the last one. Mini-batch settings (each seed draws its own
    batch order) train one network per stack.
    """
    groups: dict = {}
    for s in todo:
        key = (tuple(s.dims), the_plan.passes_of(s), json.dumps(s.fit, sort_keys=True))
        groups.setdefault(key, []).extend((s, seed) for seed in the_plan.seeds)
    pieces = []
    for (dims, _, _), nets in groups.items():
        nets.sort(key=lambda n: n[0].activation)  # stable: settings, then seeds, in order
        alone = nets[0][0].fit.get("batch_size") is not None
        cap = 1 if alone else max(STACK_UNITS // max(dims[1:-1]), 1)
        pieces.append([nets, -(-len(nets) // cap)])
    if sum(k for _, k in pieces) < 2 * jobs:
        for piece in pieces:
            piece[1] = min(-(-piece[1] // jobs) * jobs, len(piece[0]))
    return [[nets[i] for i in part] for nets, k in pieces
            for part in np.array_split(np.arange(len(nets)), k)]


def reference_of(spec: StudySpec):
    """The geometry reference of the study's training sample (cached per process)."""
    return dataset_reference(spec.dataset, spec.n_samples, spec.noise, spec.data_seed,
                             dataset_info(spec.dataset).n_classes)


def train_stack(spec: StudySpec, stack, the_plan: StudyPlan, report=None) -> list[NetworkResult]:
    """Train a stack of networks [(setting, seed), ...] of one architecture as one
    BatchedNetwork; one NetworkResult per network, in stack order.

    `report(n)` is called with the model-passes done, every REPORT_EVERY passes. A diverging
    network stops its whole stack (fit_model's check raises FloatingPointError), so a stack of
    several settings is then trained again setting by setting, and a diverging setting's
    networks are recorded with its error, as when each setting trained alone.
    """
    keep_freed_memory()  # this process trains stacks: no page faults for their temporaries
    X, y = load_dataset(spec.dataset, spec.n_samples, spec.noise, spec.data_seed)
    X_val, y_val = heldout_sample(spec.dataset, spec.noise, spec.data_seed)
    first = stack[0][0]
    passes = the_plan.passes_of(first)
    fit = {k: v for k, v in first.fit.items() if k != "num_passes"}
    start = time.perf_counter()
    net = BatchedNetwork(first.dims, [s.activation for s, _ in stack],
                         [s.reg_lambda for s, _ in stack], seeds=[seed for _, seed in stack],
                         init=[s.init for s, _ in stack])
    monitor = DiagnosticsSampler(X, y, the_plan.diagnostics_every, report, REPORT_EVERY,
                                 len(stack))
    monitor.record(net, 0)
    error = None
    try:
        net.fit_model(X, y, num_passes=passes, print_loss=False, X_val=X_val, y_val=y_val,
                      record_every=the_plan.record_every, callback=monitor, **fit)
    except FloatingPointError as exc:
        settings_in = list(dict.fromkeys(s.index for s, _ in stack))
        if len(settings_in) > 1:
            return [r for i in settings_in
                    for r in train_stack(spec, [n for n in stack if n[0].index == i], the_plan,
                                         report)]
        error = str(exc)
    if report is not None:
        report((passes % monitor.report_every) * len(stack))
    seconds = (time.perf_counter() - start) / len(stack)  # each network's share of the stack
    return _network_results(net, stack, monitor, (X, y, X_val, y_val), passes, error, seconds,
                            reference_of(spec))


def _network_results(net, stack, monitor, data, passes, error, seconds, ref
                     ) -> list[NetworkResult]:
    X, y, X_val, y_val = data
    S = len(stack)
    with np.errstate(all="ignore"):
        finite = all(np.all(np.isfinite(p)) for p in net.parameters())
        if finite:
            monitor.record(net, passes)
            loss = net.calculate_loss(X, y)
            train_acc, val_acc = net.accuracy(X, y), net.accuracy(X_val, y_val)
            classes = [len(np.unique(p)) for p in net.predict(X_val)]
        else:
            loss = train_acc = val_acc = np.full(S, np.nan)
            classes = [0] * S
    h, diag, dynamics = net.history, monitor.arrays(), monitor.dynamics()
    weights = [([W[s] for W in net.W], [b[s, 0] for b in net.b]) for s in range(S)]
    return [NetworkResult(
        index=setting.index, seed=seed, final_loss=float(loss[s]),
        train_accuracy=float(train_acc[s]), heldout_accuracy=float(val_acc[s]),
        classes_predicted=classes[s], error=error,
        curves=Curves(h["pass"], [float(v[s]) for v in h["loss"]],
                      [float(v[s]) for v in h["train_accuracy"]],
                      [float(v[s]) for v in h["val_accuracy"]]),
        parameters=Parameters(*weights[s]),
        diagnostics=Diagnostics(list(monitor.passes), **{m: v[:, s] for m, v in diag.items()}),
        seconds=seconds,
        geometry=network_geometry(*weights[s], setting.activation, ref, float(train_acc[s])),
        dynamics=dynamics[s],
    ) for s, (setting, seed) in enumerate(stack)]


def setting_result(setting: Setting, networks: list[NetworkResult], the_plan: StudyPlan
                   ) -> SettingResult:
    """One setting's result (what settings/NN.json holds) from its networks' results, in the
    plan's seed order. A setting with a diverged network is recorded as diverged as a whole,
    with that error."""
    order = {seed: i for i, seed in enumerate(the_plan.seeds)}
    networks = sorted(networks, key=lambda n: order[n.seed])
    error = next((n.error for n in networks if n.error), None)
    if error is not None:
        networks = [n.diverged(error) for n in networks]
    return SettingResult(
        setting.index, setting.label, setting.values, setting.dims, setting.activation,
        setting.reg_lambda, {k: v for k, v in setting.fit.items() if k != "num_passes"},
        the_plan.passes_of(setting), sum(n.seconds for n in networks), networks)


def _train_all(spec, todo, the_plan, backend, bar, ran, failed):
    """Yield each setting's result as soon as all its networks are trained; where each stack
    ran is appended to `ran`, each stack that failed (after the backend's retries) to
    `failed`."""
    stacks = sorted(plan_stacks(todo, the_plan, backend.slots),
                    key=lambda st: -_cost(st, the_plan))
    tasks = [Task(_stack_name(st), train_stack, (spec, st, the_plan),
                  work=the_plan.passes_of(st[0][0]) * len(st)) for st in stacks]
    waiting = {s.index: [] for s in todo}
    settings_by_index = {s.index: s for s in todo}
    with contextlib.closing(backend.map(tasks, bar.update)) as outcomes:
        for outcome in outcomes:
            stack = outcome.task.args[1]
            ran.append({"settings": sorted({s.index for s, _ in stack}),
                        "networks": len(stack), **outcome.where})
            if not outcome.ok:
                failed.append(outcome)
                continue
            for n in outcome.value:
                waiting[n.index].append(n)
                if len(waiting[n.index]) == len(the_plan.seeds):
                    yield setting_result(settings_by_index[n.index], waiting.pop(n.index),
                                         the_plan)


def _stack_name(stack) -> str:
    """How a stack is named when it fails: its settings and seeds."""
    labels = list(dict.fromkeys(f"{s.index:02d} ({s.label})" for s, _ in stack))
    seeds = sorted({seed for _, seed in stack})
    return (f"setting{'s' if len(labels) > 1 else ''} {', '.join(labels)}, "
            f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")


def _cost(stack, the_plan) -> float:
    """A rough time of a stack: per-pass overhead per layer plus per-network calls and
    arithmetic, so that the largest stacks start first."""
    d = stack[0][0].dims
    work = sum(a * b for a, b in zip(d[:-1], d[1:]))
    return the_plan.passes_of(stack[0][0]) * len(d) * (10 + len(stack) * (5 + work / 20))


class _Silent:
    def update(self, n=1, postfix=None):
        pass


def _progress(progress, total, name):
    if progress is True:
        return Progress(total, desc=f"study {name}", unit="model-passes")
    if progress is False or progress is None:
        return _Silent()
    return progress

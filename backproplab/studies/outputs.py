"""A finished study's tables, figures and summary, built from its `SettingResult`s.

results.csv (setting x seed: `SeedRow`), summary.csv (mean and std over seeds: `SummaryRow`),
diagnostics.csv (setting x seed x sample x hidden layer), boundaries.png, losses.png,
dataset.png, diagnostics.png and summary.txt (the printed summary: the table, `finding` and
`diagnose`). Figures are drawn in worker processes when there are several jobs.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from backproplab.datasets import dataset_info, load_dataset
from backproplab.io import csv_text, savefig, write_text
from backproplab.monitor import health
from backproplab.nn.network import DeepNeuralNetwork
from backproplab.plots import boundary_grid, figure, plot_curves, plot_dataset, suptitle
from backproplab.studies import curves, geometry
from backproplab.studies.diagnostics import DEAD_ACTIVATIONS, Dynamics
from backproplab.studies.results import (
    SUMMARY_METRICS,
    Diagnostics,
    SeedRow,
    SettingResult,
    Stat,
    StudyResult,
    SummaryRow,
)
from backproplab.studies.spec import StudyPlan, StudySpec, format_value, grid_shape
from backproplab.studies.workers import worker_context, worker_init

# Per-seed columns of results.csv after the varied values and the seed (spec: section 2), then
# the diagnostics at the end of training.
RESULT_COLUMNS = ["final_loss", "train_accuracy", "heldout_accuracy", "passes", "seconds"]
EXTRA_COLUMNS = ["gap", "classes_predicted", "dead", "dead_max", "saturated",
                 "grad_norm_first", "grad_norm_last", "grad_ratio"]
# After diverged and error: the boundary's shape (studies.geometry), the loss curve
# (studies.curves) and the early training (studies.diagnostics.Dynamics).
GEOMETRY_COLUMNS = ["regions", "islands", "length_ratio", "pieces", "turning", "cutout"]
CURVE_COLUMNS = ["converged_pass", "spikes", "spike_size", "stalled"]
DYNAMICS_COLUMNS = ["died", "death_pass", "first_step_shift", "first_step_scale"]
NEW_COLUMNS = GEOMETRY_COLUMNS + CURVE_COLUMNS + DYNAMICS_COLUMNS
EVENT_METRICS = ("death_pass",)  # summarised over the seeds where the event happened
FAILED_MARGIN = 0.15  # held-out accuracy within this of chance counts as no decision boundary
GAP_STEP = 0.01  # the gap "grows" once it exceeds its minimum by more than this


def build_outputs(spec: StudySpec, out_dir, the_plan: StudyPlan, results: list[SettingResult],
                  jobs=1) -> StudyResult:
    """Tables, figures and summary of a finished study; figures drawn by `jobs` processes."""
    rows = result_rows(spec, results)
    summary = summarize(spec, rows)
    n_classes = dataset_info(spec.dataset).n_classes
    result = StudyResult(spec.name, out_dir, spec, list(the_plan.seeds), the_plan.passes,
                         settings=results, rows=rows, summary=summary,
                         seconds=float(sum(r.seconds for r in results)))
    result.finding = " ".join([finding(summary), shape_line(summary), training_line(summary)])
    result.diagnosis = diagnose(summary, n_classes)
    result.health = health_lines(results, n_classes)
    keys = list(spec.vary)
    summary_rows = [r.to_row() for r in summary]
    result.tables = {
        "results": write_text(out_dir / "results.csv", csv_text(
            [r.to_row() for r in rows],
            ["setting", *keys, "seed", *RESULT_COLUMNS, *EXTRA_COLUMNS, "diverged", "error",
             *NEW_COLUMNS])),
        "summary": write_text(out_dir / "summary.csv",
                              csv_text(summary_rows, list(summary_rows[0]))),
        "diagnostics": write_text(out_dir / "diagnostics.csv", _diagnostics_csv(results)),
    }
    tasks = [  # slowest first: with jobs > 1 each is drawn in a worker process
        ("diagnostics", diagnostics_figure, (spec, results)),
        ("losses", loss_figure, (spec, results)),
        ("boundaries", boundary_figure, (spec, results, summary)),
        ("dataset", dataset_figure, (spec,)),
    ]
    drawn = dict(_draw_all([(name, draw, args, out_dir / f"{name}.png")
                            for name, draw, args in tasks], jobs))
    result.figures = {name: drawn[name] for name in FIGURES}
    result.text = summary_text(spec, the_plan, summary, result.finding, result.diagnosis,
                               result.health)
    result.tables["text"] = write_text(out_dir / "summary.txt", result.text + "\n")
    return result


# ---------------------------------------------------------------------------------------------
# Tables


def _end_diagnostics(diag: Diagnostics, s) -> dict:
    """Per seed s of a setting: end-of-training dead/saturated fractions, median gradient
    norms (SeedRow's fields)."""
    grad = diag.grad_norm[:, s, :]  # (samples, layers)
    dead = diag.dead[-1, s]
    sat = diag.saturated[-1, s]
    first, last = np.median(grad[:, 0]), np.median(grad[:, -1])
    with np.errstate(all="ignore"):
        return {"dead": _nanmean(dead), "dead_max": _nanmax(dead), "saturated": _nanmean(sat),
                "grad_norm_first": first, "grad_norm_last": last,
                "grad_ratio": first / last if last > 0 and grad.shape[1] > 1 else math.nan}


def _nanmean(a):
    return float(np.mean(a)) if np.all(np.isfinite(a)) else math.nan


def _nanmax(a):
    return float(np.max(a)) if np.all(np.isfinite(a)) else math.nan


def result_rows(spec, results: list[SettingResult]) -> list[SeedRow]:
    rows = []
    for r in results:
        values = {k: format_value(v) for k, v in r.values.items()}
        for s, n in enumerate(r.networks):
            rows.append(SeedRow(
                setting=r.label, values=values, seed=n.seed, final_loss=n.final_loss,
                train_accuracy=n.train_accuracy, heldout_accuracy=n.heldout_accuracy,
                passes=r.passes, seconds=r.seconds / len(r.networks),  # stacks train together
                gap=n.train_accuracy - n.heldout_accuracy,
                classes_predicted=n.classes_predicted, **_end_diagnostics(r.diagnostics, s),
                diverged=float(bool(n.error)), error=n.error or "",
                **_shape(spec, r, n), **_training(n, r.activation)))
    return rows


def _shape(spec, result: SettingResult, n) -> dict:
    """The network's Geometry columns (measured now when its file predates them)."""
    g = n.geometry
    if g is None:
        g = geometry.network_geometry(n.parameters.W, n.parameters.b, result.activation,
                                      _reference(spec), n.train_accuracy)
    return {f: getattr(g, f) for f in GEOMETRY_COLUMNS}


def _reference(spec):
    return geometry.dataset_reference(spec.dataset, spec.n_samples, spec.noise, spec.data_seed,
                                      dataset_info(spec.dataset).n_classes)


def _training(n, activation) -> dict:
    """The loss curve's measures and the early-training Dynamics of one network."""
    c = n.curves
    count, size = curves.spikes(c.loss)
    d = n.dynamics or Dynamics.undefined()
    relu = activation in DEAD_ACTIVATIONS and n.dynamics is not None
    return {"converged_pass": curves.converged_pass(c.passes, c.loss), "spikes": float(count),
            "spike_size": size, "stalled": float(curves.stalled(c.passes, c.loss)),
            "died": float(not math.isnan(d.death_pass)) if relu else math.nan,
            "death_pass": d.death_pass, "first_step_shift": d.first_step_shift,
            "first_step_scale": d.first_step_scale}


def summarize(spec, rows: list[SeedRow]) -> list[SummaryRow]:
    """Per setting: the varied values, n seeds, mean and sample std (ddof 1) of each metric."""
    out = []
    for label in dict.fromkeys(r.setting for r in rows):
        group = [r for r in rows if r.setting == label]
        out.append(SummaryRow(label, group[0].values, len(group), **{
            m: (Stat.of_defined if m in EVENT_METRICS else Stat.of)(
                [getattr(g, m) for g in group]) for m in SUMMARY_METRICS}))
    return out


def _diagnostics_csv(results: list[SettingResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = ["grad_norm", "reg_grad_norm", "dead", "saturated"]
    w.writerow(["setting", "seed", "pass", "layer", *names])
    for r in results:
        d = r.diagnostics
        columns = [getattr(d, m) for m in names]
        for i, p in enumerate(d.passes):
            for s, seed in enumerate(r.seeds):
                for layer in range(d.grad_norm.shape[-1]):
                    w.writerow([r.label, seed, p, layer + 1,
                                *(f"{c[i, s, layer]:.6g}" for c in columns)])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Findings: sentences computed from the summary's numbers.


def _pct(x):
    return "—" if x != x else f"{100 * x:.1f}%"  # NaN: a diverged setting has no number


def finding(summary: list[SummaryRow]) -> str:
    """One sentence from the summary's numbers: the best held-out setting (and those within one
    standard deviation of it), the worst, and where the train-held-out gap grows (for a
    numeric axis such as width or depth) or is largest."""
    scored = [r for r in summary if math.isfinite(r.heldout_accuracy.mean)] or summary
    best = max(scored, key=lambda r: r.heldout_accuracy.mean)  # diverged settings: no score
    worst = min(scored, key=lambda r: r.heldout_accuracy.mean)
    text = (f"{best.setting} has the best held-out accuracy "
            f"({_pct(best.heldout_accuracy.mean)} ± {_pct(best.heldout_accuracy.std)})")
    near = [r.setting for r in summary if r is not best and r.heldout_accuracy.mean
            + r.heldout_accuracy.std >= best.heldout_accuracy.mean - best.heldout_accuracy.std]
    if near:
        text += f", within one standard deviation of {', '.join(near)}"
    if worst is not best:
        text += f"; {worst.setting} has the worst ({_pct(worst.heldout_accuracy.mean)})"
    gaps = [r.gap.mean if math.isfinite(r.gap.mean) else math.nan for r in summary]
    if all(math.isnan(g) for g in gaps):  # every setting diverged
        return text + "."
    low, high = int(np.nanargmin(gaps)), int(np.nanargmax(gaps))
    if gaps[high] - gaps[low] <= GAP_STEP:
        text += (f"; the train-held-out gap stays between {_pct(gaps[low])} and "
                 f"{_pct(gaps[high])}")
    elif _ordered(summary):  # one numeric axis (width, depth, ...): say from where it grows
        grown = next((i for i, g in enumerate(gaps) if i > low and g > gaps[low] + GAP_STEP),
                     None)
        if grown is None:
            text += (f"; the train-held-out gap shrinks to its minimum ({_pct(gaps[low])}) at "
                     f"{summary[low].setting}")
        else:
            text += (f"; the train-held-out gap is smallest ({_pct(gaps[low])}) at "
                     f"{summary[low].setting} and grows from {summary[grown].setting} "
                     f"on, reaching {_pct(max(gaps[grown:]))}")
    else:
        text += (f"; the train-held-out gap is largest at {summary[high].setting} "
                 f"({_pct(gaps[high])}) and smallest at {summary[low].setting} "
                 f"({_pct(gaps[low])})")
    return text + "."


# (metric, name, format) of the shape sentence
SHAPE = [("islands", "islands", "{:.1f}"),
         ("length_ratio", "length relative to the simplest boundary as accurate", "{:.2f}x"),
         ("pieces", "straight pieces", "{:.1f}"), ("turning", "turning", "{:.1f} rad"),
         ("cutout", "boundary near outliers (cutouts)", "{:.0%}")]


def _range(summary, metric, fmt) -> str | None:
    """'a (setting) to b (setting)' over the settings' means, or 'a' when they all show the
    same; None where the metric is undefined for every setting."""
    rows = [r for r in summary if math.isfinite(getattr(r, metric).mean)]
    if not rows:
        return None
    lo = min(rows, key=lambda r: getattr(r, metric).mean)
    hi = max(rows, key=lambda r: getattr(r, metric).mean)
    low, high = fmt.format(getattr(lo, metric).mean), fmt.format(getattr(hi, metric).mean)
    if low != high:
        return f"{low} ({lo.setting}) to {high} ({hi.setting})"
    return low if len(rows) == len(summary) else f"{low} ({', '.join(r.setting for r in rows)})"


def shape_line(summary: list[SummaryRow]) -> str:
    """One sentence on the boundaries' shape (studies.geometry), means over seeds."""
    parts = [f"{name} {text}" for metric, name, fmt in SHAPE
             if (text := _range(summary, metric, fmt)) is not None]
    return "Boundary shape (mean over seeds): " + "; ".join(parts) + "."


def training_line(summary: list[SummaryRow]) -> str:
    """One sentence on how training went: convergence, spikes, stalls, units that died."""
    parts = [f"the loss came within 1% of its final value at pass "
             f"{_range(summary, 'converged_pass', '{:,.0f}')}",
             f"loss spikes per run {_range(summary, 'spikes', '{:.1f}')}"]
    stalled = [r.setting for r in summary if r.stalled.mean > 0]
    parts.append(f"stalled in {_some(stalled, len(summary))}" if stalled else "no run stalled")
    died = [r for r in summary if r.died.mean > 0]
    if died:
        parts.append("a whole hidden layer died in " + _some(
            [f"{r.setting} ({r.died.mean:.0%} of seeds, at pass {r.death_pass.mean:,.0f} on "
             "average)" for r in died], len(summary)))
    elif any(math.isfinite(r.died.mean) for r in summary):
        parts.append("no hidden layer died")
    return "Training: " + "; ".join(parts) + "."


def _some(names: list[str], total: int, most=4) -> str:
    """The settings named, or for a long list their count and the first ones."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{len(names)} of {total} settings ({'; '.join(names[:2])}; ...)"


def _ordered(summary: list[SummaryRow]) -> bool:
    """One varied key whose values are numbers: the settings form a sequence."""
    if len(summary[0].values) != 1:
        return False
    try:
        [float(v) for r in summary for v in r.values.values()]
    except (TypeError, ValueError):
        return False
    return True


def failed(row: SummaryRow, n_classes) -> bool:
    """No decision boundary: some seed predicts fewer classes than exist, or near-chance."""
    return (row.classes_predicted.mean < n_classes
            or row.heldout_accuracy.mean < 1 / n_classes + FAILED_MARGIN)


def diagnose(summary: list[SummaryRow], n_classes: int) -> list[str]:
    """For each setting without a decision boundary, which cause the numbers support: dead
    units, saturated units, vanishing gradients, or regularisation (the same setting with
    reg_lambda = 0 in the grid)."""
    lines = []
    for row in summary:
        if not failed(row, n_classes):
            continue
        causes = []
        if row.diverged.mean > 0:
            causes.append(f"training diverged (loss or weights became infinite) for "
                          f"{_pct(row.diverged.mean)} of seeds: the step epsilon is too large")
        if row.dead_max.mean >= 0.5:
            causes.append(f"dead units ({_pct(row.dead_max.mean)} of its most affected "
                          "hidden layer never active)")
        if row.saturated.mean >= 0.5:
            causes.append(f"saturated units ({_pct(row.saturated.mean)} of activations)")
        if row.grad_ratio.mean < 0.01:
            causes.append(f"vanishing gradients (input-side gradient norm "
                          f"{row.grad_ratio.mean:.1e} of the output side's)")
        control = _without_regularisation(row, summary)
        if control is not None:
            if failed(control, n_classes):
                causes.append(f"not regularisation: with reg_lambda=0 it also fails "
                              f"({_pct(control.heldout_accuracy.mean)} held-out)")
            else:
                causes.append(f"regularisation: with reg_lambda=0 it reaches "
                              f"{_pct(control.heldout_accuracy.mean)} held-out")
        lines.append(
            f"{row.setting}: no decision boundary for every class (predicts "
            f"{row.classes_predicted.mean:.1f} of {n_classes} classes on average over seeds, "
            f"held-out {_pct(row.heldout_accuracy.mean)}); "
            + ("; ".join(causes) if causes else "none of dead units, saturation, vanishing "
               "gradients or regularisation shows in the numbers"))
    return lines


def _without_regularisation(row: SummaryRow, summary: list[SummaryRow]) -> SummaryRow | None:
    """The setting that differs from `row` only in having reg_lambda = 0, if the grid has it."""
    if float(row.values.get("reg_lambda", 0)) == 0:
        return None
    others = {k: v for k, v in row.values.items() if k != "reg_lambda"}
    return next((o for o in summary if float(o.values["reg_lambda"]) == 0 and all(
        o.values[k] == v for k, v in others.items())), None)


def shape_cells(r: SummaryRow) -> list[str]:
    """islands, length ratio, straight pieces (or turning, for a smooth boundary), cutout:
    the shape columns of the printed table and of the report's."""
    curve = (f"{r.pieces.mean:.1f}" if math.isfinite(r.pieces.mean) else
             f"{r.turning.mean:.1f} rad" if math.isfinite(r.turning.mean) else "-")
    return [f"{r.islands.mean:.1f}" if math.isfinite(r.islands.mean) else "-",
            f"{r.length_ratio.mean:.2f}x" if math.isfinite(r.length_ratio.mean) else "-",
            curve, _pct(r.cutout.mean) if math.isfinite(r.cutout.mean) else "-"]


def health_lines(results: list[SettingResult], n_classes: int) -> list[str]:
    """The health rules of backproplab.monitor (the same as for the CNN) on every network's
    diagnostics and loss curve: per setting, each rule that fired, in how many seeds, and the
    first seed's numbers."""
    lines = []
    for r in results:
        fired: dict[str, list] = {}
        for n in r.networks:
            for v in health.verdicts_from_study_diagnostics(
                    n.diagnostics, n.curves.passes, n.curves.loss, n_classes=n_classes):
                fired.setdefault(v.rule, []).append(v)
        lines += [f"{r.label}: {vs[0].summary} ({len(vs)} of {len(r.networks)} seeds)"
                  for vs in fired.values()]
    return lines


def summary_text(spec, the_plan, summary: list[SummaryRow], finding_text, diagnosis,
                 health_text=()) -> str:
    lines = [f"study {spec.name}: {spec.title or spec.dataset}",
             f"{len(the_plan.seeds)} seeds x {the_plan.passes} passes; "
             "seeds vary the weight initialisation, the training sample is fixed; held-out: "
             "1,000 fresh points", ""]
    header = ["setting", "train acc", "held-out acc", "gap", "dead/sat", "grad in/out",
              "islands", "length", "pieces/turn", "cutout"]
    table = [header]
    for r in summary:
        inactive = r.dead.mean if math.isfinite(r.dead.mean) else r.saturated.mean
        table.append([r.setting,
                      f"{_pct(r.train_accuracy.mean)} ± {_pct(r.train_accuracy.std)}",
                      f"{_pct(r.heldout_accuracy.mean)} ± {_pct(r.heldout_accuracy.std)}",
                      f"{100 * r.gap.mean:+.1f}", _pct(inactive) if math.isfinite(inactive)
                      else "-", f"{r.grad_ratio.mean:.2g}"
                      if math.isfinite(r.grad_ratio.mean) else "-", *shape_cells(r)])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    lines += ["", f"Finding: {finding_text}"]
    if spec.claim:
        lines.append(f"Problem set (visual inspection): {spec.claim}.")
    lines += [f"Diagnosis: {d}" for d in diagnosis]
    lines += [f"Health: {h}" for h in health_text]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Figures


FIGURES = ("boundaries", "losses", "dataset", "diagnostics")


def _save(fig, path):
    return savefig(fig, path, bbox_inches=None)  # constrained layout already fits the figure


def _draw(name, draw, args, path):
    return name, _save(draw(*args), path)


def _draw_all(tasks, jobs):
    """(name, path) of every figure task (name, draw, args, path), in worker processes when
    jobs > 1: matplotlib's layout and rendering take most of a short study's time."""
    jobs = min(jobs or 1, len(tasks))
    if jobs <= 1:
        return [_draw(*task) for task in tasks]
    with worker_context().Pool(jobs, initializer=worker_init) as pool:
        return pool.starmap(_draw, tasks, chunksize=1)


def network_from(result: SettingResult, s=0) -> DeepNeuralNetwork:
    """Seed s of a setting's result, rebuilt as a DeepNeuralNetwork with its trained weights."""
    net = DeepNeuralNetwork(result.dims, result.activation, result.reg_lambda, result.seeds[s])
    params = result.networks[s].parameters
    net.W = [np.asarray(W, dtype=float) for W in params.W]
    net.b = [np.asarray(b, dtype=float) for b in params.b]
    return net


def _data(spec):
    return load_dataset(spec.dataset, spec.n_samples, spec.noise, spec.data_seed)


def boundary_figure(spec, results, summary):
    """The first seed's network per setting, titled with the setting's mean held-out accuracy."""
    X, y = _data(spec)
    models = [network_from(r) for r in results]
    titles = [f"{s.setting}\nheld-out {_pct(s.heldout_accuracy.mean)}" for s in summary]
    fig = boundary_grid(models, X, y, titles, ncols=grid_shape(spec)[1])
    suptitle(fig, f"{spec.name}: first seed's boundary per setting")
    return fig


LOSS_CURVES = 10  # seeds drawn per panel of the loss figure (thousands would take minutes)


def loss_figure(spec, results):
    nrows, ncols = grid_shape(spec)
    fig, axes = figure(nrows, ncols, size=(3.6, 2.8), sharey=True)
    for ax, r in zip(axes.flat, results):
        shown = r.networks[:LOSS_CURVES]
        # Seeds trained apart may stop (diverge) at different passes: the longest record is x.
        x = max((n.curves.passes for n in shown), key=len)
        curves = {f"seed {n.seed}": _plottable(n.curves.loss, len(x)) for n in shown}
        plot_curves(ax, x, curves, title=r.label, logy=True)
    _one_legend(axes.flat)
    for ax in axes.flat[len(results):]:
        ax.set_visible(False)
    seeds = len(results[0].networks) if results else 0
    suptitle(fig, f"{spec.name}: training loss, one line per seed"
             + (f" (the first {LOSS_CURVES} of {seeds})" if seeds > LOSS_CURVES else ""))
    return fig


def _plottable(values, length=None, cap=1e6):
    """Values for a log axis: a diverged run's inf or astronomically large values left out,
    and NaN after its last value up to `length`."""
    v = np.full(len(values) if length is None else length, np.nan)
    v[:len(values)] = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(v) & (np.abs(v) < cap), v, np.nan)


def _one_legend(axes):
    """Keep the first panel's legend only: the lines mean the same in every panel."""
    for ax in list(axes)[1:]:
        if ax.get_legend() is not None:
            ax.get_legend().remove()


def dataset_figure(spec):
    X, y = _data(spec)
    fig, axes = figure(1, 1, size=(4.2, 3.6))
    plot_dataset(X, y, ax=axes[0, 0], title=f"{spec.dataset}: {len(X)} training points "
                 f"(random_state {spec.data_seed})")
    return fig


def diagnostics_figure(spec, results):
    """Per setting, laid out as the other figures' grid: gradient norm per hidden layer (above)
    and its dead or saturated fraction (below), against passes; means over seeds."""
    nrows, ncols = grid_shape(spec)
    fig, axes = figure(2 * nrows, ncols, size=(3.2, 2.6), sharex=True)
    for i, r in enumerate(results):
        top, bottom = axes[2 * (i // ncols), i % ncols], axes[2 * (i // ncols) + 1, i % ncols]
        first = i % ncols == 0
        d = r.diagnostics
        passes = d.passes
        grad, dead, sat = (v.mean(axis=1) for v in (d.grad_norm, d.dead, d.saturated))
        inactive, what = (dead, "dead") if np.all(np.isfinite(dead)) else (sat, "saturated")
        layers = range(grad.shape[1])
        plot_curves(top, passes,
                    {f"layer {l + 1}": _plottable(np.maximum(grad[:, l], 1e-12)) for l in layers},
                    ylabel="data-gradient norm" if first else "", title=r.label, logy=True)
        plot_curves(bottom, passes, {f"layer {l + 1}": inactive[:, l] for l in layers},
                    ylabel="fraction dead / saturated" if first else "")
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_title(f"{what} units", fontsize=9)
        top.set_xlabel("")
    for i in range(len(results), nrows * ncols):  # the grid's empty places
        for row in (2 * (i // ncols), 2 * (i // ncols) + 1):
            axes[row, i % ncols].set_visible(False)
    _one_legend(axes.flat)
    suptitle(fig, f"{spec.name}: per hidden layer, mean over seeds")
    return fig

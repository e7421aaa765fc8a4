"""Assemble `report.html` and `summary.md` from the numbers of one reproduce run.

The input is the `Results` that `reproduce` also writes as results.json (every number) plus the
figure files it names; this module only lays them out, so a report can be rebuilt without
retraining anything.
"""

from __future__ import annotations

from pathlib import Path

from backproplab.cnn import architecture
from backproplab.monitor import health
from backproplab.report import html as H
from backproplab.report.figures import activations_figure, datasets_figure
from backproplab.report.records import (
    STUDY_EXTRA_COLUMNS,
    CnnRecord,
    ReportMeta,
    Results,
    StudyRecord,
)

EQUATIONS = [
    r"z_1 = X W_1 + b_1", r"a_1 = f(z_1)", r"z_2 = a_1 W_2 + b_2",
    r"a_2 = \hat{y} = \mathrm{softmax}(z_2)",
    r"L = -\frac{1}{N}\sum_{n}\sum_{i} y_{n,i}\,\log \hat{y}_{n,i}"
    r" + \frac{\lambda}{2N}\sum \Vert W\Vert^2",
]
GRADIENTS = [
    r"\Delta_3 = a_2 - y", r"\partial L / \partial W_2 = a_1^T \Delta_3 + \lambda W_2",
    r"\partial L / \partial b_2 = \sum_n \Delta_3",
    r"\Delta_2 = \Delta_3 W_2^T \odot f'(z_1)",
    r"\partial L / \partial W_1 = X^T \Delta_2 + \lambda W_1",
    r"\partial L / \partial b_1 = \sum_n \Delta_2",
]
DERIVATIVES = [
    r"\tanh'(z) = 1 - \tanh^2(z)", r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z))",
    r"\mathrm{relu}'(z) = 1 \ \mathrm{for}\ z \geq 0,\ 0 \ \mathrm{otherwise}",
]


def pm(mean, std, digits=3) -> str:
    if mean != mean:  # NaN: a diverged setting has no numbers
        return "—"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def signed(x) -> str:
    return "—" if x != x else f"{x:+.3f}"


def header(meta: ReportMeta) -> str:
    profile = meta.profile
    facts = [
        f"generated {meta.date}", f"profile {profile.name}",
        f"{profile.seeds} seeds × {profile.passes:,} passes (part I)",
        f"{profile.cnn_seeds} seed(s) × {profile.epochs} epoch(s) (part II)",
        f"data: {meta.data_source}", f"total {meta.total_seconds:.0f} s",
        f"backproplab {meta.versions['backproplab']}",
        ", ".join(f"{k} {v}" for k, v in meta.versions.items() if k != "backproplab"),
        f"machine: {meta.machine}",
    ]
    notice = "".join(f'<div class="notice">{H.esc(n)}</div>' for n in meta.notices)
    toc = ('<nav class="toc"><a href="#claims">Claims</a><a href="#part1">I. Backpropagation'
           '</a><a href="#studies">Studies</a><a href="#part2">II. CNN on MNIST</a>'
           '<a href="#reproduce">Reproduce</a></nav>')
    return (f"<h1>Problem Set 1, reproduced</h1><div class='meta'>{' · '.join(map(H.esc, facts))}"
            f"</div>{notice}{toc}")


def theory_section(figure_dir: Path) -> str:
    eqs = "".join(f"<div>{H.formula(t)}</div>" for t in EQUATIONS)
    grads = "".join(f"<div>{H.formula(t)}</div>" for t in GRADIENTS)
    ders = "".join(f"<div>{H.formula(t)}</div>" for t in DERIVATIVES)
    return H.section(
        "part1", "I. Backpropagation in a simple neural network",
        H.paragraph("The 3-layer network, with examples as rows of X (N × d). The N-layer "
                    "DeepNeuralNetwork repeats the hidden step for each layer l: "
                    "z[l] = a[l] W[l] + b[l], a[l+1] = f(z[l])."),
        f'<div class="eqs">{eqs}</div>',
        H.paragraph("Backpropagation, as the problem set derives it (gradients of the loss summed "
                    "over the N examples; softmax followed by cross-entropy gives Δ3 = a2 − y). "
                    "Every gradient is checked against central differences in the test suite "
                    "(`backproplab gradcheck`)."),
        f'<div class="eqs">{grads}</div>',
        "<h3>Activation functions and their derivatives</h3>",
        f'<div class="eqs">{ders}</div>',
        H.image(activations_figure(), "activation functions and derivatives"),
        "<h3>The data</h3>",
        H.paragraph("make_moons(200, noise=0.20, random_state=0) and four Gaussian blobs "
                    "(200 points, σ = 1). Held-out accuracy below is measured on a fresh sample "
                    "of 1,000 points from the same distribution."),
        H.image(datasets_figure(), "moons and blobs datasets"),
    )


def study_section(name: str, study: StudyRecord) -> str:
    rows = study.summary
    best = max(range(len(rows)), key=lambda i: rows[i].heldout_accuracy.mean) if rows else -1
    body = "".join(
        f'<tr class="{"best" if i == best else ""}"><td>{H.esc(r.setting)}</td>'
        f'<td>{pm(*r.train_accuracy)}</td>'
        f'<td>{pm(*r.heldout_accuracy)}</td><td>{signed(r.gap.mean)}</td>'
        + "".join(f"<td>{H.esc(cell(r))}</td>" for _, cell in STUDY_EXTRA_COLUMNS)
        + "</tr>" for i, r in enumerate(rows))
    extra_heads = "".join(f"<th>{H.esc(h)}</th>" for h, _ in STUDY_EXTRA_COLUMNS)
    table = (f"<table><thead><tr><th>setting</th><th>train accuracy</th><th>held-out accuracy"
             f"</th><th>gap (train − held-out)</th>{extra_heads}</tr></thead><tbody>{body}"
             "</tbody></table>")
    parts = [
        f'<p class="quote">Problem set, upon visual inspection: {H.esc(study.claim)}.</p>',
        f'<p class="finding">{H.esc(study.finding)}</p>',
        H.image(study.figures["boundaries"], f"{name} decision boundaries"),
        table,
    ]
    if study.figures.get("losses"):
        parts.append(H.image(study.figures["losses"], f"{name} loss curves"))
    if study.figures.get("diagnostics"):
        parts.append("<h4>Diagnostics: gradient norms, dead and saturated units</h4>")
        if study.diagnosis:
            items = "".join(f"<li>{H.esc(line)}</li>" for line in study.diagnosis)
            parts.append(f'<ul class="finding">{items}</ul>')
        parts.append(H.image(study.figures["diagnostics"], f"{name} diagnostics"))
    if study.health:
        items = "".join(f"<li>{H.esc(line)}</li>" for line in study.health)
        parts.append("<h4>Training health (the rules that judge the CNN's runs)</h4>"
                     f"<ul>{items}</ul>")
    return H.section(f"study-{name}", f"{name}: {study.title}", *parts, level=3)


def health_section(cnn: CnnRecord) -> list[str]:
    """Part II's training-health verdicts (backproplab.monitor.health): per setting, then what
    each rule that fired means, and which rules were checked."""
    if not cnn.health:
        return []
    rows = [[name, H.Raw("<br>".join(map(H.esc, lines))) if lines else "healthy: no rule fired"]
            for name, lines in cnn.health.items()]
    notes = "".join(f"<li><b>{H.esc(r['rule'])}</b> ({H.esc(r['threshold'])}): "
                    f"{H.esc(r['explanation'])} <i>{H.esc(r['reference'])}</i></li>"
                    for r in cnn.health_rules)
    checked = ", ".join(f"{r.title} ({r.threshold})" for r in health.RULES.values())
    return ["<h3>Training health</h3>",
            H.paragraph("What the per-layer statistics say, judged by backproplab's health "
                        "rules (the same rules judge the studies' networks above)."),
            H.table(["setting", "verdicts"], rows),
            f'<ul class="finding">{notes}</ul>' if notes else "",
            H.paragraph(f"Rules checked: {checked}.")]


def _reported(cnn: CnnRecord, setting: str) -> str:
    value = cnn.reported.get(setting)
    if value is None:
        return "—"
    # The problem set's first Adam/ReLU run shows 93.8% in its TensorBoard figure, 97.4% in text.
    return f"{100 * value:.1f}%" + (" (93.8% in its figure)" if setting == "adam-relu" else "")


VERDICT_CLASS = {"supported": "yes", "not supported": "no", "mixed": "mixed",
                 "not measured": "na"}


def claims_section(claims) -> str:
    """Each claim of the problem set, quoted, beside its measurement and verdict."""
    if not claims:
        return ""
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICT_CLASS}
    rows = "".join(
        f'<tr><td><a href="#study-{H.esc(c.source)}">{H.esc(c.source)}</a></td>'
        f'<td class="quote">“{H.esc(c.quote)}”</td><td>{H.esc(c.measurement)}</td>'
        f'<td class="verdict {VERDICT_CLASS[c.verdict]}">{H.esc(c.verdict)}</td></tr>'
        for c in claims)
    return H.section(
        "claims", "The problem set's claims, measured",
        H.paragraph("Every conclusion the problem set drew 'upon visual inspection', quoted, "
                    "beside the measurement that tests it (mean ± std over seeds) and a verdict: "
                    "supported when every comparison it makes holds beyond the seeds' spread "
                    "(the difference of two means larger than the root of their variances' "
                    "sum), not supported when none does, mixed otherwise. "
                    + ", ".join(f"{n} {v}" for v, n in counts.items() if n) + "."),
        '<table class="claims"><colgroup><col style="width:13%"><col style="width:37%">'
        '<col style="width:38%"><col style="width:12%"></colgroup><thead><tr><th>where</th>'
        '<th>the problem set</th><th>measured</th><th>verdict</th></tr></thead>'
        f'<tbody>{rows}</tbody></table>',
        H.paragraph("Boundary shape (studies.geometry, on a grid over the data's box extended "
                    "by half its span): islands are regions of one class enclosed by another; "
                    "length is relative to the simplest boundary as accurate on the training "
                    "data (the widest-kernel Parzen classifier that fits it as well); straight "
                    "pieces count a piecewise-linear network's segments; turning is the total "
                    "absolute curvature of a smooth boundary; cutouts are the share of the "
                    "boundary within a nearest-neighbour distance of a training point lying "
                    "among another class."))


def relu_section(studies: dict[str, StudyRecord]) -> str:
    """The problem set's open question, answered from the diagnostics of the deep studies."""
    lines = [(name, line) for name, study in studies.items() if "activations" in name
             for line in study.diagnosis]
    if not lines:
        return ""
    items = "".join(f"<li><b>{H.esc(name)}</b> {H.esc(text)}</li>" for name, text in lines)
    return H.section(
        "relu", "Why did the deep ReLU networks give no decision boundary?",
        H.paragraph("The problem set guessed 'perhaps due to a shallow gradient or perhaps due "
                    "to strong regularization'. The studies measure both, and dead units: the "
                    "same grids run with reg_lambda = 0, and every hidden layer's gradient norm "
                    "and fraction of dead (never active) or saturated units is sampled during "
                    "training. Settings without a decision boundary, and what the numbers say:"),
        f"<ul>{items}</ul>", level=3)


def cnn_section(cnn: CnnRecord) -> str:
    rows = [[r.setting, pm(100 * r.accuracy_mean, 100 * r.accuracy_std, 2) + " %",
             pm(r.loss_mean, r.loss_std, 4), f"{r.time_mean:.0f} s",
             _reported(cnn, r.setting)] for r in cnn.rows]
    parts = [
        H.paragraph(f"The network exactly as the problem set gives it: {architecture.summary()}; "
                    "NLLLoss. Each setting is a TensorBoard run of its own."),
        H.code(cnn.architecture),
        f'<p class="finding">{H.esc(cnn.finding)}</p>',
        H.table(["setting", "test accuracy", "test loss", "time", "problem set reported"], rows),
    ]
    for key, alt in [("curves", "test accuracy and loss per epoch"),
                     ("layer_stats", "per-layer statistics over training"),
                     ("weights", "final weight histograms per layer")]:
        if cnn.figures.get(key):
            parts.append(f"<h3>{H.esc(alt[0].upper() + alt[1:])}</h3>")
            parts.append(H.image(cnn.figures[key], alt))
    parts += health_section(cnn)
    parts.append(H.paragraph("Open every run, with the histograms and per-layer statistics of "
                             "weights, biases, net inputs, activations and pooled outputs:"))
    parts.append(H.code(f"tensorboard --logdir {cnn.runs_dir}"))
    return H.section("part2", "II. A simple deep convolutional network on MNIST", *parts)


def build_html(results: Results, figure_dir: Path) -> str:
    meta = results.meta
    studies = "".join(study_section(n, s) for n, s in results.studies.items())
    body = [
        claims_section(results.claims),
        theory_section(figure_dir),
        H.section("studies", "Decision boundaries, measured",
                  H.paragraph(f"Each figure of the problem set, regenerated: one panel per "
                              f"setting (the first seed's network), and below it train and "
                              f"held-out accuracy as mean ± std over {meta.profile.seeds} seeds "
                              f"(weight initialisations) — the numbers behind each 'upon visual "
                              f"inspection'."), studies, relu_section(results.studies)),
        cnn_section(results.cnn) if results.cnn else "",
        H.section("reproduce", "Reproduce", H.code(meta.command),
                  H.paragraph("Every number of this page is in results.json beside it; the "
                              "tables are in summary.md.")),
    ]
    return H.page("Problem Set 1, reproduced — backproplab", header(meta), "\n".join(body))


def build_markdown(results: Results) -> str:
    meta = results.meta
    lines = [f"# Problem Set 1, reproduced ({meta.profile.name} profile, {meta.date})", ""]
    lines += [f"> {n}" for n in meta.notices]
    lines += [f"Data: {meta.data_source}. Seeds: {meta.profile.seeds}, passes: "
              f"{meta.profile.passes}.", ""]
    if results.claims:
        lines += ["## The problem set's claims, measured", "",
                  "| where | the problem set | measured | verdict |", "|---|---|---|---|"]
        lines += [f"| {c.source} | “{c.quote}” | {c.measurement} | **{c.verdict}** |"
                  for c in results.claims]
        lines.append("")
    for name, study in results.studies.items():
        lines += [f"## {name}: {study.title}", "", study.finding, "",
                  "| setting | train accuracy | held-out accuracy | gap |", "|---|---|---|---|"]
        lines += [f"| {r.setting} | {pm(*r.train_accuracy)} | {pm(*r.heldout_accuracy)} | "
                  f"{signed(r.gap.mean)} |" for r in study.summary]
        lines.append("")
    if results.cnn:
        cnn = results.cnn
        lines += ["## Part II: CNN on MNIST", "", cnn.finding, "",
                  "| setting | test accuracy (%) | test loss | time (s) |", "|---|---|---|---|"]
        lines += [f"| {r.setting} | {pm(100 * r.accuracy_mean, 100 * r.accuracy_std, 2)}"
                  f" | {pm(r.loss_mean, r.loss_std, 4)} | {r.time_mean:.0f} |"
                  for r in cnn.rows]
        lines += ["", "Training health:"] + [
            f"- {name}: " + ("; ".join(found) or "healthy: no rule fired")
            for name, found in cnn.health.items()]
    return "\n".join(lines) + "\n"

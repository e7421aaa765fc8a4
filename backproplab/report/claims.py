"""Every claim of the problem set, quoted, beside the measurement that tests it and a verdict.

A claim is a row of `CLAIMS`: where it is made (a study preset, or "cnn" for part II), its
words quoted from the problem set, and a test, a function of the report's records that returns
the measurement (mean ± std over seeds, as text), the numbers, and one verdict:

- supported: every comparison the claim makes holds beyond the seeds' spread;
- not supported: none does (the difference is the other way, or within the spread);
- mixed: some do and some do not;
- not measured: the run has too little to measure it (e.g. one epoch).

A comparison "a > b" holds when mean(a) - mean(b) > sqrt(std(a)^2 + std(b)^2), the spread of
the difference of two means over seeds; "a ~ b" when |mean(a) - mean(b)| is within it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from backproplab.report.records import CnnRecord, Results, StudyRecord
from backproplab.studies.results import Stat, SummaryRow

SUPPORTED, NOT_SUPPORTED, MIXED, NOT_MEASURED = ("supported", "not supported", "mixed",
                                                 "not measured")


@dataclass
class ClaimResult:
    """One claim of the problem set, tested: what results.json, summary.md and report.html
    show."""

    source: str  # the study preset, or "cnn"
    quote: str  # the problem set's words
    measurement: str  # what was measured, mean ± std over seeds
    verdict: str  # supported, not supported, mixed or not measured

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Comparisons


def spread(a: Stat, b: Stat) -> float:
    return math.sqrt(a.std**2 + b.std**2)


def greater(a: Stat, b: Stat) -> bool:
    """mean(a) exceeds mean(b) beyond the spread of their difference."""
    return a.mean - b.mean > spread(a, b)


def similar(a: Stat, b: Stat, floor=0.0) -> bool:
    """|mean(a) - mean(b)| within the spread of their difference (or `floor`)."""
    return abs(a.mean - b.mean) <= max(spread(a, b), floor)


def verdict(results: list[bool]) -> str:
    if not results:
        return NOT_MEASURED
    return SUPPORTED if all(results) else NOT_SUPPORTED if not any(results) else MIXED


def pm(stat: Stat, kind="pct") -> str:
    if not math.isfinite(stat.mean):
        return "n/a"
    if kind == "pct":
        return f"{100 * stat.mean:.1f} ± {100 * stat.std:.1f}%"
    if kind == "x":
        return f"{stat.mean:.2f} ± {stat.std:.2f}x"
    if kind == "rad":
        return f"{stat.mean:.1f} ± {stat.std:.1f} rad"
    if kind == "int":
        return f"{stat.mean:,.0f} ± {stat.std:,.0f}"
    return f"{stat.mean:.2f} ± {stat.std:.2f}"


def rows(study: StudyRecord, **where) -> list[SummaryRow]:
    """The settings whose varied values match `where` (values compared as text; a callable
    value is a predicate on the number)."""
    def match(r, k, v):
        value = r.values.get(k)
        return v(float(value)) if callable(v) else str(value) == str(v)
    return [r for r in study.summary if all(match(r, k, v) for k, v in where.items())]


def one(study, **where) -> SummaryRow:
    found = rows(study, **where)
    if not found:
        raise LookupError(f"no setting {where} in the study")
    return found[0]


def pooled(group: list[SummaryRow], metric: str) -> Stat:
    """A metric over several settings: the mean of their means, the largest std."""
    stats = [getattr(r, metric) for r in group if math.isfinite(getattr(r, metric).mean)]
    if not stats:
        return Stat(math.nan, math.nan)
    return Stat(sum(s.mean for s in stats) / len(stats), max(s.std for s in stats))


def best(study) -> SummaryRow:
    return max(study.summary, key=lambda r: r.heldout_accuracy.mean)


def held(r: SummaryRow) -> str:
    return f"{r.setting}: held-out {pm(r.heldout_accuracy)}"


# ---------------------------------------------------------------------------------------------
# The tests, one per kind of claim


def similar_activations(study):
    tanh, sigmoid = one(study, activation="tanh"), one(study, activation="sigmoid")
    if "reg_lambda" in tanh.values:  # the deep studies: at the problem set's lambda
        tanh = one(study, activation="tanh", reg_lambda="0.01")
        sigmoid = one(study, activation="sigmoid", reg_lambda="0.01")
    checks = [similar(tanh.heldout_accuracy, sigmoid.heldout_accuracy, floor=0.01),
              similar(tanh.length_ratio, sigmoid.length_ratio, floor=0.1)]
    return (f"held-out tanh {pm(tanh.heldout_accuracy)}, sigmoid {pm(sigmoid.heldout_accuracy)}; "
            f"boundary length / simplest as accurate: tanh {pm(tanh.length_ratio, 'x')}, "
            f"sigmoid {pm(sigmoid.length_ratio, 'x')}", verdict(checks))


def smooth_and_piecewise(study):
    relu = one(study, activation="relu")
    smooth = [one(study, activation=a) for a in ("tanh", "sigmoid")]
    checks = [relu.pieces.mean >= 2] + [math.isfinite(r.turning.mean) and r.islands.mean < 0.5
                                         for r in smooth]
    return (f"ReLU's boundary: {pm(relu.pieces, 'num')} straight pieces; tanh and sigmoid "
            f"(smooth by construction) turn {pm(smooth[0].turning, 'rad')} and "
            f"{pm(smooth[1].turning, 'rad')} in all, islands "
            f"{smooth[0].islands.mean:.1f} and {smooth[1].islands.mean:.1f}", verdict(checks))


def relu_fits_worse(study):
    relu = one(study, activation="relu")
    others = [one(study, activation=a) for a in ("tanh", "sigmoid")]
    checks = [greater(o.heldout_accuracy, relu.heldout_accuracy) for o in others]
    return "; ".join(held(r) for r in [relu, *others]), verdict(checks)


def underfit_below(study, key, limit):
    small = rows(study, **{key: lambda v: v < limit})
    ref = one(study, **{key: limit})
    checks = [greater(ref.heldout_accuracy, r.heldout_accuracy) for r in small]
    return "; ".join(held(r) for r in [*small, ref]), verdict(checks)


def best_among(study, key, good):
    """The settings `good` (values of `key`) have the best held-out accuracy, or are within
    the spread of the best."""
    top = best(study)
    candidates = [r for r in study.summary if float(r.values[key]) in good]
    checks = [any(r is top or similar(r.heldout_accuracy, top.heldout_accuracy)
                  for r in candidates)]
    return (f"best {held(top)}; " + "; ".join(held(r) for r in candidates if r is not top),
            verdict(checks))


def overfit_above(study, key, limit, good):
    """Above `limit` the gap grows (beyond the spread) or the boundary lengthens, against the
    `good` settings."""
    high = rows(study, **{key: lambda v: v > limit})
    base = [r for r in study.summary if float(r.values[key]) in good]
    gap_b, len_b = pooled(base, "gap"), pooled(base, "length_ratio")
    checks = [greater(r.gap, gap_b) or greater(r.length_ratio, len_b) for r in high]
    return (f"train - held-out gap {pm(gap_b)} and length {pm(len_b, 'x')} at {key} in "
            f"{sorted(good)}; " + "; ".join(
                f"{r.setting}: gap {pm(r.gap)}, length {pm(r.length_ratio, 'x')}" for r in high),
            verdict(checks))


def sharp_angles(study):
    one_layer, two = one(study, depth=1), one(study, depth=2)
    checks = [greater(two.turning, one_layer.turning), greater(two.gap, one_layer.gap)]
    return (f"turning: depth 1 {pm(one_layer.turning, 'rad')}, depth 2 {pm(two.turning, 'rad')};"
            f" gap: depth 1 {pm(one_layer.gap)}, depth 2 {pm(two.gap)}", verdict(checks))


def no_better_deeper(study):
    one_layer = one(study, depth=1)
    deeper = rows(study, depth=lambda v: v > 2)
    checks = [not greater(r.heldout_accuracy, one_layer.heldout_accuracy) for r in deeper]
    return "; ".join(held(r) for r in [one_layer, *deeper]), verdict(checks)


def less_smooth_wider(study):
    narrow, wide = one(study, width=3), max(study.summary, key=lambda r: float(r.values["width"]))
    checks = [greater(wide.turning, narrow.turning), greater(wide.length_ratio,
                                                             narrow.length_ratio)]
    return (f"turning {pm(narrow.turning, 'rad')} at width 3, {pm(wide.turning, 'rad')} at "
            f"{wide.setting}; length / simplest as accurate {pm(narrow.length_ratio, 'x')} and "
            f"{pm(wide.length_ratio, 'x')}", verdict(checks))


def islands_above(study, limit, at_least):
    wide = rows(study, width=lambda v: v > limit)
    narrow = pooled(rows(study, width=lambda v: v <= limit), "islands")
    checks = [r.islands.mean >= at_least and greater(r.islands, narrow) for r in wide]
    return (f"islands (regions enclosed by another class) {pm(narrow, 'num')} at width <= "
            f"{limit}; " + "; ".join(f"{r.setting}: {pm(r.islands, 'num')}" for r in wide),
            verdict(checks))


def cutouts_above(study, limit):
    wide = rows(study, width=lambda v: v > limit)
    narrow = pooled(rows(study, width=lambda v: v <= limit), "cutout")
    checks = [greater(r.cutout, narrow) for r in wide]
    return (f"share of the boundary beside an outlier of another class {pm(narrow)} at width <= "
            f"{limit}; " + "; ".join(f"{r.setting}: {pm(r.cutout)}" for r in wide),
            verdict(checks))


def relu_no_boundary(study, n_classes):
    relu = [r for r in rows(study, activation="relu")]
    checks = [r.classes_predicted.mean < n_classes for r in relu]
    return ("; ".join(f"{r.setting}: predicts {pm(r.classes_predicted, 'num')} of {n_classes} "
                      f"classes, held-out {pm(r.heldout_accuracy)}" for r in relu),
            verdict(checks))


def relu_cause(study, n_classes):
    """The deep-ReLU experiment: at epsilon 0.01 the units die (which pass), whatever lambda and
    initialisation; the first step barely moves the net inputs; a smaller step gives ReLU a
    boundary. The claim's two causes: regularisation (lambda = 0 fails as well) and a shallow
    gradient (the gradient is not small: the step is too large)."""
    def at(**w):
        return rows(study, activation="relu", **w)
    big, small = at(epsilon="0.01"), at(epsilon="0.001")
    failed = [r for r in big if r.classes_predicted.mean < n_classes]
    died = pooled(big, "died")
    death = pooled(big, "death_pass")
    shift, scale = pooled(big, "first_step_shift"), pooled(big, "first_step_scale")
    no_reg_fails = all(r.classes_predicted.mean < n_classes for r in at(epsilon="0.01",
                                                                       reg_lambda="0"))
    working = [r for r in small if r.classes_predicted.mean >= n_classes]
    best_small = max(small, key=lambda r: r.heldout_accuracy.mean)
    he_big = at(epsilon="0.01", init="he")
    he_fails = all(r.classes_predicted.mean < n_classes for r in he_big)
    leaky = rows(study, activation="leaky_relu", epsilon="0.01")
    leaky_diverged = pooled(leaky, "diverged").mean
    text = (f"at epsilon = 0.01, {len(failed)} of {len(big)} ReLU settings give no boundary "
            f"(with lambda = 0 too: {'yes' if no_reg_fails else 'no'}; with He's "
            f"initialisation too: {'yes' if he_fails else 'no'}); a whole hidden layer died in "
            f"{pm(died)} of the networks, at pass {pm(death, 'int')}; the first step moved the "
            f"net inputs' mean by {pm(shift, 'num')} initial standard deviations and scaled "
            f"their spread by {pm(scale, 'num')}. Leaky ReLU at 0.01: "
            + (f"diverged in {leaky_diverged:.0%} of its settings' seeds" if leaky_diverged > 0
               else f"held-out {pm(pooled(leaky, 'heldout_accuracy'))}")
            + f". At epsilon = 0.001, {len(working)} of "
            f"{len(small)} ReLU settings have a boundary; best {held(best_small)}. Cause "
            "the numbers support: the step (0.01 on the summed gradient, 2 on the mean loss) "
            "pushes a whole layer's net inputs below 0 for every example (dead units get no "
            "gradient, so it never recovers), not regularisation; the gradient is not too "
            "shallow but the step too large: epsilon = 0.001 gives ReLU a working boundary")
    # the claim names regularisation or a shallow gradient: not supported when the failure
    # persists without lambda and disappears with a smaller step
    checks = [not no_reg_fails, len(working) < len(small) / 2]
    return text, verdict(checks)


def deeper_harder(study):
    """'Difficulty in gradient descent': later convergence, more spikes, a higher final loss or
    a stall, for the deeper networks against one hidden layer."""
    one_layer = one(study, depth=1)
    deeper = rows(study, depth=lambda v: v > 2)
    checks = [greater(r.converged_pass, one_layer.converged_pass)
              or greater(r.spikes, one_layer.spikes) or greater(r.final_loss, one_layer.final_loss)
              or r.stalled.mean > 0 for r in deeper]
    return ("; ".join(f"{r.setting}: within 1% of the final loss at pass "
                      f"{pm(r.converged_pass, 'int')}, {pm(r.spikes, 'num')} spikes, final loss "
                      f"{pm(r.final_loss, 'num')}, stalled {r.stalled.mean:.0%}"
                      for r in [one_layer, *deeper]), verdict(checks))


def cnn_smoother(cnn: CnnRecord):
    """tanh against ReLU, per optimizer, and the problem set's own pair (sgd-tanh against
    adam-relu): the per-epoch test curves' total variation over net change and the per-step
    training loss's noise, lower is smoother."""
    sm = cnn.smoothness
    if not sm:
        return "no smoothness measured (a run from before it existed)", NOT_MEASURED
    pairs = [("adam-tanh", "adam-relu"), ("sgd-tanh", "sgd-relu"), ("sgd-tanh", "adam-relu")]
    checks, parts = [], []
    for metric, what in (("test_loss_tv", "test loss TV/net change"),
                         ("test_accuracy_tv", "test accuracy TV/net change"),
                         ("train_loss_noise", "per-step training loss noise")):
        stats = {k: Stat.of_defined(v[metric]) for k, v in sm.items()}
        if not all(math.isfinite(s.mean) for s in stats.values()):
            parts.append(f"{what}: not measurable ({cnn.epochs} epoch(s))")
            continue
        parts.append(f"{what}: " + ", ".join(f"{k} {pm(s, 'num')}" for k, s in stats.items()))
        checks += [greater(stats[relu], stats[tanh]) for tanh, relu in pairs]
    if len(cnn.seeds) < 2:
        parts.append("one seed per setting: no spread to compare against")
    return "; ".join(parts), verdict(checks)


def cnn_higher(cnn: CnnRecord):
    by = {r.setting: r for r in cnn.rows}
    a, b = by["sgd-tanh"], by["adam-relu"]
    sa, sb = Stat(a.accuracy_mean, a.accuracy_std), Stat(b.accuracy_mean, b.accuracy_std)
    return (f"test accuracy sgd-tanh {pm(sa, 'pct')}, adam-relu {pm(sb, 'pct')} after "
            f"{cnn.epochs} epoch(s) on {cnn.data_kind} MNIST", verdict([greater(sa, sb)]))


# ---------------------------------------------------------------------------------------------
# The table of claims


@dataclass(frozen=True)
class Claim:
    source: str
    quote: str
    test: Callable


SIMILAR = ("the hyperbolic tangent (tanh) and sigmoid activation functions produce a very "
           "similar decision boundary")
CAUSE = "perhaps due to a shallow gradient or perhaps due to strong regularization"

CLAIMS = [
    Claim("moons-activations", SIMILAR, similar_activations),
    Claim("moons-activations", "The decision boundary for both is smooth, reflecting the fact "
          "that both activation functions are smooth curves. The rectified linear unit (ReLU) "
          "activation function produced a piecewise decision boundary", smooth_and_piecewise),
    Claim("moons-activations", "[ReLU's boundary] does not fit the data as well as those from "
          "the tanh or sigmoid activation functions given the same number of hidden dimensions",
          relu_fits_worse),
    Claim("moons-hidden", "using fewer than 3 hidden dimensions (i.e. nodes/units) for this "
          "classification task does not produce a good decision boundary (i.e. the model is "
          "underfit)", lambda s: underfit_below(s, "width", 3)),
    Claim("moons-hidden", "Training the network with 3-4 hidden dimensions produces the most "
          "reasonable decision boundary", lambda s: best_among(s, "width", {3, 4})),
    Claim("moons-hidden", "With more than 4 hidden dimensions, the model starts to fit to the "
          "noise in the data (i.e. the model is overfit)",
          lambda s: overfit_above(s, "width", 4, {3, 4})),
    Claim("moons-depth", "the single hidden layer produced the best result with the lowest "
          "computational expense", lambda s: best_among(s, "depth", {1})),
    Claim("moons-depth", "There appeared to be some overfitting in the case of the double "
          "hidden layer, where the decision boundary sharply angles to fit noise in the data",
          sharp_angles),
    Claim("moons-depth", "Adding additional hidden layers did not seem to produce any better "
          "results", no_better_deeper),
    Claim("moons-width", "the lower-dimensional hidden layers produced better results (i.e. the "
          "3-dimensional hidden layer case)", lambda s: best_among(s, "width", {3})),
    Claim("moons-width", "the decision boundary was less smooth as noise in the data was "
          "fitted", less_smooth_wider),
    Claim("moons-width", "above 10 hidden dimensions in the 4 hidden layers, the model produced "
          "an 'island' boundary around one of the outlying data points",
          lambda s: islands_above(s, 10, 1)),
    Claim("moons-deep-activations", SIMILAR.replace("produce", "produced"), similar_activations),
    Claim("moons-deep-activations", "The rectified linear unit (ReLU) activation function did "
          "not produce a decision boundary", lambda s: relu_no_boundary(s, 2)),
    Claim("moons-deep-relu", CAUSE, lambda s: relu_cause(s, 2)),
    Claim("blobs-depth", "it seems that fewer hidden layers produced better decision boundaries "
          "between the 4 classes", lambda s: best_among(s, "depth", {1})),
    Claim("blobs-depth", "As the number of hidden layers increased, the model appeared to have "
          "difficulty in gradient descent", deeper_harder),
    Claim("blobs-width", "the lower-dimensional hidden layers produced better results (i.e. the "
          "3-dimensional hidden layer case)", lambda s: best_among(s, "width", {3})),
    Claim("blobs-width", "the decision boundary was less smooth as noise in the data was "
          "fitted", less_smooth_wider),
    Claim("blobs-width", "above 10 hidden dimensions in the 2 hidden layers, the model produced "
          "multiple 'island' boundaries around outlying data points",
          lambda s: islands_above(s, 10, 2)),
    Claim("blobs-width", "in addition to sharp 'cutouts' in the regions of cluster overlap",
          lambda s: cutouts_above(s, 10)),
    Claim("blobs-activations", SIMILAR, similar_activations),
    Claim("blobs-activations", "Again, the rectified linear unit (ReLU) activation function did "
          "not produce a decision boundary", lambda s: relu_no_boundary(s, 4)),
    Claim("blobs-deep-relu", CAUSE + " for this deep neural network with only 4-dimensional "
          "hidden and output layers", lambda s: relu_cause(s, 4)),
    Claim("cnn", "The test loss decreased more smoothly and the test accuracy increased more "
          "smoothly than the previous case as well, perhaps reflective of the smooth shape of "
          "the hyperbolic tangent activation function", cnn_smoother),
    Claim("cnn", "This new set of parameters produced a higher test accuracy (around 98.5% "
          "compared to the 97.4% with the Adam optimizer and ReLU activation function)",
          cnn_higher),
]


def test_claims(results: Results) -> list[ClaimResult]:
    """Every claim whose part the results hold, tested, in the problem set's order."""
    out = []
    for claim in CLAIMS:
        source = results.cnn if claim.source == "cnn" else results.studies.get(claim.source)
        if source is None:
            continue
        try:
            measurement, word = claim.test(source)
        except (LookupError, KeyError, ValueError) as exc:  # a study run with another grid
            measurement, word = f"not measurable here: {exc}", NOT_MEASURED
        out.append(ClaimResult(claim.source, claim.quote, measurement, word))
    return out

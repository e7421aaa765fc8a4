"""Training-health verdicts: rules with stated thresholds over per-layer statistics.

Plain Python (no PyTorch, no NumPy), so that both engines speak it: the PyTorch monitor feeds
it the rows it writes to stats.csv, the NumPy studies their diagnostics
(`verdicts_from_study_diagnostics`). The evidence is a set of series, one per
(layer, quantity, stat), each a list of (step, value):

    train/loss_mean                  mean training loss of the steps since the previous sample
    train/loss                       the loss of the sampled step (step 0: the initial loss)
    train/first_nonfinite            the first step whose loss was NaN or infinite
    {layer}/weight/grad_norm         ||dL/dW|| of the layer's weight
    {layer}/weight/update_ratio      ||W_after - W_before|| / ||W_before|| of one optimiser step
    {layer}/{activation}/dead        fraction of ReLU-family units never active over a window
    {layer}/{activation}/saturated   fraction of tanh / sigmoid outputs near their asymptotes
    {layer}/net_input/...            marks a weighted (linear or convolution) layer

Rules (thresholds in THRESHOLDS): a rule about a trend judges the run's second half ("late"):
it fires when its condition holds in at least 80% of those samples, so that one noisy sample
neither raises nor hides it. One cause, one verdict: an update ratio too low is not reported
when dead layers or a vanishing gradient (which make updates tiny) are.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from backproplab.errors import BackproplabError
from backproplab.io import parse_json, write_json

HEALTH_FORMAT = "backproplab-health/1"
HEALTH_FILE = "health.json"

# The thresholds, stated once (the explanations quote them).
THRESHOLDS = {
    "initial_loss": 0.5,  # |L0 - ln C| > 0.5 ln C
    "update_ratio_low": 1e-4,  # ||dW|| / ||W|| per step below this: learning rate too low
    "update_ratio_high": 1e-2,  # above this: too high
    "dead": 0.5,  # fraction of a layer's ReLU units never active over the window
    "saturated": 0.5,  # fraction of a layer's tanh/sigmoid outputs with |tanh| > 0.99, ...
    "vanishing": 1e-3,  # ||grad first layer|| / ||grad last layer|| below this
    "exploding": 1e3,  # above this
    "stall_decrease": 0.01,  # the last quarter's mean loss fell < 1% below the quarter before
    "stall_level": 0.9,  # ... while still above 90% of the first loss (it never learned)
    "persistent": 0.8,  # a trend rule fires when it holds in >= 80% of the late samples
}
SATURATION = 0.99  # tanh |a| > 0.99; sigmoid a < 0.01 or a > 0.99 (as studies.diagnostics)

CS231N = ("CS231n, Neural Networks Part 3: Learning and Evaluation, 'Babysitting the learning "
          "process' (cs231n.github.io/neural-networks-3)")
KARPATHY = "A. Karpathy, 'A Recipe for Training Neural Networks' (2019)"
GLOROT = ("X. Glorot and Y. Bengio, 'Understanding the difficulty of training deep feedforward "
          "neural networks', AISTATS 2010")
HE = ("K. He, X. Zhang, S. Ren and J. Sun, 'Delving Deep into Rectifiers', ICCV 2015 "
      "(initialisation for ReLU networks)")


@dataclass(frozen=True)
class Rule:
    """One health rule: its name, what it checks (with the threshold) and what it means."""

    name: str
    title: str
    threshold: str
    explanation: str  # what it means and what to try, one paragraph
    reference: str


RULES = {r.name: r for r in (
    Rule("initial_loss", "initial loss far from ln C",
         f"|loss at step 0 - ln C| > {THRESHOLDS['initial_loss']} ln C (C classes)",
         "A softmax classifier whose weights are small and random predicts every class with "
         "probability about 1/C, so its first cross-entropy loss is close to ln C (2.30 for 10 "
         "classes). A first loss far above it means the initial outputs are overconfident "
         "(weights initialised too large, or a final layer that is not small); far below it, "
         "the labels or the loss are not what you think (labels leaking into the input, a "
         "wrong number of classes, a loss that is averaged differently). Check the data "
         "pipeline and the initialisation before tuning anything else.", f"{CS231N}; {KARPATHY}"),
    Rule("update_ratio", "update:weight ratio outside [1e-4, 1e-2]",
         f"||dW|| / ||W|| of one optimiser step < {THRESHOLDS['update_ratio_low']:g} (but not 0) "
         f"or > {THRESHOLDS['update_ratio_high']:g} in >= 80% of the late samples",
         "The size of one update relative to the weights it changes should be around 1e-3. "
         "Persistently much smaller, and the layer barely moves: the learning rate is too low "
         "(or the gradients vanish before reaching it), and training will be slow. Much "
         "larger, and each step rewrites a large part of the weights: the learning rate is "
         "too high, the loss will be noisy or diverge and ReLU units may die. Change the "
         "learning rate by a factor of 3 to 10 in the indicated direction; with a schedule, "
         "check its peak and its end.", CS231N),
    Rule("dead", "layer mostly dead",
         f"> {THRESHOLDS['dead']:.0%} of the layer's ReLU units never active over the window, "
         "in >= 80% of the late samples",
         "A ReLU unit whose net input is negative for every example outputs 0 and gets a "
         "zero gradient, so nothing brings it back: it is dead. When most of a layer is dead "
         "the network has lost that capacity for good. The usual cause is a step too large "
         "(one big update pushes the biases far negative); also a poor initialisation. Lower "
         "the learning rate, use He initialisation for ReLU layers, or a leaky ReLU.",
         f"{CS231N}; {HE}"),
    Rule("saturated", "layer mostly saturated",
         f"> {THRESHOLDS['saturated']:.0%} of the layer's outputs in the flat region (tanh "
         f"|a| > {SATURATION}; sigmoid a < {1 - SATURATION:.2f} or > {SATURATION}), in >= 80% "
         "of the late samples",
         "A tanh or sigmoid unit near its asymptotes has a derivative close to 0, so little "
         "gradient flows through it and the layers below it learn slowly or not at all. "
         "Saturation comes from net inputs that are too large: weights initialised too "
         "large (use Glorot/Xavier initialisation, variance 1/fan-in), unnormalised inputs, "
         "or a learning rate that grew the weights. Rescale the initialisation or the inputs, "
         "add normalisation, or use ReLU.", GLOROT),
    Rule("vanishing", "vanishing gradient",
         f"||grad W first layer|| / ||grad W last layer|| < {THRESHOLDS['vanishing']:g} in "
         ">= 80% of the late samples",
         "The gradient reaching the first layer is a thousand times smaller than at the last: "
         "each layer it passes through shrinks it (a sigmoid's derivative is at most 1/4), so "
         "the early layers hardly learn, however long you train. Typical of deep sigmoid or "
         "tanh stacks, of saturated units, and of dead ReLU layers (which pass no gradient). "
         "Use ReLU-family activations, Glorot or He initialisation, normalisation layers or "
         "residual connections, or fewer layers.",
         f"{GLOROT}; {HE}"),
    Rule("exploding", "exploding gradient",
         f"||grad W first layer|| / ||grad W last layer|| > {THRESHOLDS['exploding']:g} in "
         ">= 80% of the late samples",
         "The gradient grows by more than a thousand times on its way from the last layer to "
         "the first: each layer amplifies it (weights too large for the depth), so the early "
         "layers take huge steps and training becomes unstable. Scale the initialisation "
         "down (Glorot or He), lower the learning rate, clip the gradient norm, or add "
         "normalisation layers.", f"{GLOROT}; {HE}"),
    Rule("nonfinite_loss", "non-finite loss", "any training loss not a finite number",
         "The loss became NaN or infinite at the step given; every parameter it touched is "
         "now garbage and the rest of the run is meaningless. Usual causes: a learning rate "
         "so high that the weights overflow, a log or division of 0 (a hand-written "
         "cross-entropy without log-softmax), or bad input values. Lower the learning rate, "
         "use the library's fused loss, check the inputs for NaN, and look at the statistics "
         "of the steps just before.", KARPATHY),
    Rule("stalled_loss", "loss stalled",
         f"mean loss of the last quarter of the samples < {THRESHOLDS['stall_decrease']:.0%} "
         f"below the quarter before, and above {THRESHOLDS['stall_level']:.0%} of the initial "
         "loss",
         "The loss has stopped decreasing while still close to where it started: the network "
         "is not learning. Shuffled or wrong labels, a learning rate far too low (or so high "
         "that it bounces), dead or saturated layers, or inputs that carry no signal. Try to "
         "overfit a single small batch first: a network that cannot drive the loss of 10 "
         "examples to 0 has a bug, not a tuning problem.", f"{KARPATHY}; {CS231N}"),
)}


@dataclass
class Verdict:
    """A rule that fired: which, where, when, the measured value, and what to do about it."""

    rule: str  # a key of RULES
    layers: list  # the layers it is about, in the model's order; []: the whole model
    step: int  # the last step of the evidence (nonfinite_loss: the first bad step)
    value: float  # the measured value the threshold was applied to (the worst layer's)
    summary: str  # one line, with the numbers
    threshold: str
    explanation: str
    reference: str

    def text(self) -> str:
        """The verdict as a learner reads it: the line, the paragraph, the reference."""
        return f"{self.summary}\n  {self.explanation}\n  (Rule: {self.threshold}. " \
               f"See {self.reference}.)"


@dataclass
class Evidence:
    """The statistics the rules read: {(layer, quantity, stat): [(step, value), ...]}."""

    series: dict = field(default_factory=dict)
    weighted: list = field(default_factory=list)  # layers with a net input, in order

    def add(self, step: int, layer: str, quantity: str, stat: str, value: float) -> None:
        if layer == "health":  # the rules' own counts (health/{rule}) are no evidence
            return
        self.series.setdefault((layer, quantity, stat), []).append((int(step), float(value)))
        if quantity == "net_input" and layer not in self.weighted:
            self.weighted.append(layer)

    def add_tag(self, step: int, tag: str, value: float) -> None:
        """A TensorBoard tag's value: "conv1/weight/grad_norm", "train/loss" (no quantity)."""
        layer, _, rest = tag.partition("/")
        quantity, _, stat = rest.rpartition("/")
        self.add(step, layer, quantity, stat, value)

    def get(self, layer: str, quantity: str, stat: str) -> list:
        return self.series.get((layer, quantity, stat), [])

    def layers_with(self, quantity: str | None, stat: str) -> list:
        """[(layer, quantity), ...] having `stat` (any quantity when `quantity` is None)."""
        return [(layer, q) for layer, q, s in self.series
                if s == stat and (quantity is None or q == quantity)]

    @classmethod
    def from_rows(cls, rows) -> Evidence:
        """From stats.csv rows, dicts with step, layer, quantity, stat, value."""
        evidence = cls()
        for r in rows:
            layer, quantity, stat = r["layer"], r["quantity"], r["stat"]
            if not stat:  # a metric without a stat column: train/loss is ("train", "loss", "")
                quantity, stat = "", quantity
            evidence.add(int(r["step"]), layer, quantity, stat, float(r["value"]))
        return evidence


def check(evidence: Evidence, n_classes: int | None = None) -> list[Verdict]:
    """Every rule that fires on `evidence`, in the order of RULES (layers in their order).
    `n_classes`: for the initial-loss rule (skipped when None)."""
    out = []
    out += _initial_loss(evidence, n_classes)
    band = _band(evidence)
    out += band
    out += _mostly(evidence, "dead")
    out += _mostly(evidence, "saturated")
    out += _gradient_ratio(evidence)
    if any(v.rule in ("dead", "vanishing") for v in out):  # they name why updates are tiny
        out = [v for v in out if not (v in band and v.value < THRESHOLDS["update_ratio_low"])]
    out += _nonfinite(evidence)
    out += _stalled(evidence)
    return out


def counts(verdicts: list[Verdict]) -> dict[str, int]:
    """How many verdicts each rule gave (0 for a silent rule): the scalar per rule."""
    return {name: sum(v.rule == name for v in verdicts) for name in RULES}


# --------------------------------------------------------------------------- the rules

def _verdict(rule: str, layers: list, step, value, summary) -> Verdict:
    r = RULES[rule]
    return Verdict(rule, list(layers), int(step), float(value), summary, r.threshold,
                   r.explanation, r.reference)


def _listed(found: list) -> str:
    """"conv2 (0.014), fc1 (0.012)" from [(layer, value text), ...]."""
    return ", ".join(f"{layer} ({value})" for layer, value in found)


def _late(values: list) -> list:
    """The finite samples of the run's second half (all of them when there are one or two)."""
    finite = [(s, v) for s, v in values if math.isfinite(v)]
    return finite[len(finite) // 2:]


def _persistent(late: list, condition) -> bool:
    return bool(late) and sum(map(condition, (v for _, v in late))) >= \
        THRESHOLDS["persistent"] * len(late)


def _median(late: list) -> float:
    values = sorted(v for _, v in late)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def _initial_loss(evidence: Evidence, n_classes):
    losses = evidence.get("train", "", "loss")
    if not n_classes or n_classes < 2 or not losses or losses[0][0] != 0:
        return []
    loss0, expected = losses[0][1], math.log(n_classes)
    if not math.isfinite(loss0) or abs(loss0 - expected) <= THRESHOLDS["initial_loss"] * expected:
        return []
    return [_verdict("initial_loss", [], 0, loss0,
                     f"initial loss {loss0:.3g}, far from ln {n_classes} = {expected:.3g} "
                     f"({'above' if loss0 > expected else 'below'}): check the "
                     "initialisation and the labels")]


def _band(evidence: Evidence):
    """One verdict per side of the band, naming each layer outside it with its median."""
    low, high = THRESHOLDS["update_ratio_low"], THRESHOLDS["update_ratio_high"]
    out = []
    # a zero update is no evidence of a low rate: a frozen layer, or no gradient (dead units,
    # a vanished gradient: their own rules)
    for outside, word, hint in ((lambda v: 0 < v < low, f"below {low:g}", "too low"),
                                (lambda v: v > high, f"above {high:g}", "too high")):
        found, last = [], 0
        for layer, _ in evidence.layers_with("weight", "update_ratio"):
            late = _late(evidence.get(layer, "weight", "update_ratio"))
            if _persistent(late, outside):
                found.append((layer, _median(late)))
                last = max(last, late[-1][0])
        if found:
            worst = (min if hint == "too low" else max)(v for _, v in found)
            where = _listed([(layer, f"{v:.2g}") for layer, v in found])
            out.append(_verdict("update_ratio", [layer for layer, _ in found], last, worst,
                                f"update:weight ratio {word} in {where} (medians over the "
                                f"run's second half): learning rate {hint}?"))
    return out


def _mostly(evidence: Evidence, rule: str):
    """One verdict naming every layer mostly dead (or saturated), with its median fraction."""
    found, last = [], 0
    for layer, quantity in evidence.layers_with(None, rule):
        late = _late(evidence.get(layer, quantity, rule))
        if _persistent(late, lambda v: v > THRESHOLDS[rule]):
            where = layer if quantity == "activation" else f"{layer} {quantity}"
            found.append((where, _median(late)))
            last = max(last, late[-1][0])
    if not found:
        return []
    what = "ReLU units dead" if rule == "dead" else "outputs saturated"
    return [_verdict(rule, [where for where, _ in found], last, max(v for _, v in found),
                     f"layers mostly {'dead' if rule == 'dead' else 'saturated'}: "
                     f"{_listed([(w, f'{v:.0%} of {what}') for w, v in found])} (medians over "
                     "the run's second half)")]


def _gradient_ratio(evidence: Evidence):
    layers = [layer for layer in evidence.weighted if evidence.get(layer, "weight", "grad_norm")]
    if len(layers) < 2:
        layers = [layer for layer, _ in evidence.layers_with("weight", "grad_norm")]
    if len(layers) < 2:
        return []
    first, last = layers[0], layers[-1]
    last_norms = dict(evidence.get(last, "weight", "grad_norm"))
    ratios = [(s, g / last_norms[s]) for s, g in evidence.get(first, "weight", "grad_norm")
              if last_norms.get(s, 0) > 0]
    late = _late(ratios)
    for rule, outside, word in (("vanishing", lambda v: v < THRESHOLDS["vanishing"], "shrinks"),
                                ("exploding", lambda v: v > THRESHOLDS["exploding"], "grows")):
        if _persistent(late, outside):
            median = _median(late)
            factor = f"by {max(median, 1 / median):.2g}x" if median > 0 else "to 0"
            return [_verdict(rule, [first, last], late[-1][0], median,
                             f"gradient norm of {first} / {last} = {median:.2g}: the gradient "
                             f"{word} {factor} from {last} to {first}")]
    return []


def _nonfinite(evidence: Evidence):
    bad = evidence.get("train", "", "first_nonfinite")
    if not bad:
        return []
    step = int(bad[0][1])
    return [_verdict("nonfinite_loss", [], step, step,
                     f"loss NaN or infinite at step {step}")]


def _stalled(evidence: Evidence):
    losses = [(s, v) for s, v in evidence.get("train", "", "loss_mean") if math.isfinite(v)]
    w = len(losses) // 4
    if w < 2:  # too short a run to speak of a trend
        return []
    before = sum(v for _, v in losses[-2 * w:-w]) / w
    last = sum(v for _, v in losses[-w:]) / w
    first = losses[0][1]
    if last >= (1 - THRESHOLDS["stall_decrease"]) * before and \
            last >= THRESHOLDS["stall_level"] * first:
        return [_verdict("stalled_loss", [], losses[-1][0], last,
                         f"loss stalled at {last:.3g} over steps {losses[-w][0]}-"
                         f"{losses[-1][0]} (it started at {first:.3g})")]
    return []


# --------------------------------------------------------------------------- files

def save(folder: str | os.PathLike, verdicts: list[Verdict], evidence: Evidence | None = None,
         n_classes: int | None = None) -> Path:
    """FOLDER/health.json: the verdicts, every rule's count and threshold."""
    checked = {name: {"title": r.title, "threshold": r.threshold, "fired": n}
               for (name, r), n in zip(RULES.items(), counts(verdicts).values())}
    last = max((s for values in (evidence.series.values() if evidence else ())
                for s, _ in values), default=None)
    return write_json(Path(folder) / HEALTH_FILE, {
        "format": HEALTH_FORMAT, "n_classes": n_classes, "last_step": last,
        "verdicts": [asdict(v) for v in verdicts], "rules": checked})


def load(folder: str | os.PathLike) -> list[Verdict]:
    """The verdicts of a run folder's health.json ([] when it has none)."""
    path = Path(folder) / HEALTH_FILE
    if not path.is_file():
        return []
    try:
        payload = parse_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackproplabError(f"{str(path)!r} is not a readable {HEALTH_FILE} ({exc})") from None
    problem = _payload_problem(payload)
    if problem:  # checked as it is written: an edited file was a traceback in `reproduce`
        raise BackproplabError(f"{str(path)!r} is not a {HEALTH_FILE} backproplab wrote "
                               f"({problem}); train that run again with --overwrite")
    return [Verdict(**v) for v in payload["verdicts"]]


def _payload_problem(payload) -> str:
    """What is wrong with a health.json's content ("" when nothing): the shape `save` writes,
    each verdict with Verdict's fields of their types and a known rule."""
    if not isinstance(payload, dict) or payload.get("format") != HEALTH_FORMAT:
        return f"not an object of format {HEALTH_FORMAT}"
    verdicts = payload.get("verdicts")
    if not isinstance(verdicts, list):
        return "its verdicts are not a list"
    types = {"rule": str, "layers": list, "step": int, "value": (int, float), "summary": str,
             "threshold": str, "explanation": str, "reference": str}
    for v in verdicts:
        if not isinstance(v, dict) or set(v) != set(types) or v["rule"] not in RULES or not all(
                isinstance(v[k], t) and not isinstance(v[k], bool) for k, t in types.items()):
            return f"a verdict is not one it writes: {str(v)[:80]}"
    return ""


def report(verdicts: list[Verdict]) -> str:
    """The verdicts as text for the end of a run's output (one line when all is well)."""
    if not verdicts:
        return f"health: no rule fired ({', '.join(RULES)})"
    return "\n".join([f"health: {len(verdicts)} warning(s)"] + [v.text() for v in verdicts])


def markdown(verdicts: list[Verdict]) -> str:
    """The verdicts for TensorBoard's text tab."""
    if not verdicts:
        return "No health rule fired: " + ", ".join(r.title for r in RULES.values()) + "."
    return "\n\n".join(f"**{v.summary}**  \n{v.explanation}  \n*Rule: {v.threshold}. "
                       f"{v.reference}.*" for v in verdicts)


# --------------------------------------------------------------------------- the NumPy side

def verdicts_from_study_diagnostics(diagnostics, loss_passes=None, losses=None,
                                    n_classes: int | None = None) -> list[Verdict]:
    """The same rules on one NumPy network's `studies.results.Diagnostics` (passes; grad_norm,
    dead, saturated as (samples, hidden layers); NaN where a metric does not apply), and
    optionally its loss curve (`Curves.passes`, `Curves.loss`). Hidden layers are named
    hidden1, hidden2, ... from the input; the ratio rule compares the first and last of them."""
    evidence = Evidence()
    for i, step in enumerate(diagnostics.passes):
        for metric, quantity in (("grad_norm", "weight"), ("dead", "activation"),
                                 ("saturated", "activation")):
            for j, value in enumerate(getattr(diagnostics, metric)[i]):
                if math.isfinite(float(value)):
                    evidence.add(step, f"hidden{j + 1}", quantity, metric, value)
    if losses is not None:
        for step, value in zip(loss_passes, losses):
            evidence.add(step, "train", "", "loss_mean", value)
            evidence.add(step, "train", "", "loss", value)
        bad = [s for s, v in zip(loss_passes, losses) if not math.isfinite(float(v))]
        if bad:
            evidence.add(bad[0], "train", "", "first_nonfinite", bad[0])
    return check(evidence, n_classes)

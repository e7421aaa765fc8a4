"""Measures of a training curve: when it converged, how often it spiked, whether it stalled,
how noisy and how monotone it is. NumPy only; the studies' loss curves and part II's curves
(read back from a CNN run's files by the report) alike.

- converged_pass: the first recorded pass at which the loss is within CONVERGED (1%) of its
  final value, |loss - final| <= 0.01 |final|: how long gradient descent took to get there.
- spikes: excursions of the loss above (1 + SPIKE) times its running minimum (the lowest loss
  so far), counted once each until the loss comes back below; their size is the largest
  loss / running minimum - 1 of the excursion. Gradient descent on a smooth loss with a small
  enough step never rises: a spike is a step that overshot.
- stalled: `monitor.health`'s stalled-loss rule (the last quarter's mean loss less than 1%
  below the quarter before, while above 90% of the first loss), on the curve.
- noise: for a curve sampled densely relative to its trend (a per-step loss), the standard
  deviation of the differences of log(values), divided by sqrt 2: differencing removes the
  trend, and for values = trend x (1 + e) with e white noise of std sigma it is sigma.
- tv_ratio: total variation over net change, sum |v[t+1] - v[t]| / |v[-1] - v[0]|: 1 for a
  monotone curve, larger the more it goes back and forth (a per-epoch test curve).
- reversals: how many steps move against the curve's overall direction.
"""

from __future__ import annotations

import math

import numpy as np

from backproplab.monitor.health import Evidence, check

CONVERGED = 0.01  # within 1% of the final loss
SPIKE = 0.10  # a rise of more than 10% above the running minimum


def converged_pass(passes, loss) -> float:
    """The first pass whose loss is within CONVERGED of the final one (NaN if not finite)."""
    loss = np.asarray(loss, dtype=float)
    if not len(loss) or not np.all(np.isfinite(loss)):
        return math.nan
    close = np.abs(loss - loss[-1]) <= CONVERGED * abs(loss[-1])
    return float(passes[int(np.argmax(close))])


def spikes(loss) -> tuple[int, float]:
    """(number of spikes, the largest one's size) of a loss curve (see the module)."""
    loss = np.asarray(loss, dtype=float)
    if not len(loss) or not np.all(np.isfinite(loss)):
        return 0, math.nan
    floor = np.minimum.accumulate(loss)
    with np.errstate(all="ignore"):
        rise = np.where(floor > 0, loss / floor - 1, 0.0)
    above = rise > SPIKE
    starts = above & ~np.r_[False, above[:-1]]
    return int(starts.sum()), float(rise[above].max()) if above.any() else 0.0


def stalled(passes, loss) -> bool:
    """Whether monitor.health's stalled-loss rule fires on the curve."""
    evidence = Evidence()
    for p, v in zip(passes, loss):
        evidence.add(p, "train", "", "loss_mean", v)
    return any(v.rule == "stalled_loss" for v in check(evidence))


def noise(values) -> float:
    """The relative noise of a densely sampled positive curve (see the module); NaN with
    fewer than 3 values."""
    v = np.asarray(values, dtype=float)
    if len(v) < 3 or not np.all(v > 0):
        return math.nan
    return float(np.std(np.diff(np.log(v)), ddof=1) / math.sqrt(2))


def tv_ratio(values) -> float:
    """Total variation over net change (1: monotone); NaN with fewer than 3 values or no net
    change."""
    v = np.asarray(values, dtype=float)
    net = abs(v[-1] - v[0]) if len(v) else 0.0
    if len(v) < 3 or net == 0:
        return math.nan
    return float(np.sum(np.abs(np.diff(v))) / net)


def reversals(values) -> int:
    """Steps that move against the curve's overall direction (last - first)."""
    d = np.diff(np.asarray(values, dtype=float))
    direction = np.sign(np.sum(d))
    return int(np.sum(np.sign(d) == -direction)) if direction else 0

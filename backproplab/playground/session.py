"""One browser tab: its data, its network, and the worker thread that trains them.

The worker owns the network: every command of the page (play, step, explain, ...) is queued
and carried out by the worker, so nothing touches the network from two threads. Training is the
engine's own loop, `train` below: one `fit_model` call whose callback runs after every pass,
where the worker publishes a frame now and then, and stops to serve commands while paused. The
optimiser's state (momentum's velocity, the mini-batch order) therefore lives across Play and
Pause exactly as in one uninterrupted run, and a shared URL (the settings and a pass number)
gives the same numbers as the session it was copied from.

What the page draws is computed here, on the engine: `frame` (decision regions, the activation
of every hidden unit over the plane, weights, losses, accuracies, confusion matrices, gradient
norms, dead and saturated units), `explain` (one step, layer by layer, with a gradient check),
`seeds` (the batched engine) and `export` (.npz, JSON and a Python snippet). Arrays travel as
base64 of float32 or uint8, which the page reads into typed arrays.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from backproplab import __version__
from backproplab.datasets import DATASETS, heldout_sample, load_dataset, train_test_split
from backproplab.nn.batched import BatchedNetwork
from backproplab.nn.gradcheck import gradcheck
from backproplab.nn.network import DeepNeuralNetwork, cross_entropy_loss
from backproplab.nn.optim import SGD
from backproplab.nn.training import batch_order, train
from backproplab.playground.messages import MAX_PASSES, MAX_POINTS, MessageError, default_config
from backproplab.studies.diagnostics import DEAD_ACTIVATIONS, saturated_mask
from backproplab.studies.presets import PRESETS
from backproplab.studies.spec import settings

FRAME_INTERVAL = 1 / 25  # seconds between frames while playing (at most 25 per second)
GRID = 64  # decision regions: GRID x GRID cells
UNIT_GRID = 32  # hidden-unit heatmaps: UNIT_GRID x UNIT_GRID (16 for large networks)
MARGIN = 0.5  # around the data, as plots.decision_grid
SATURATED_SHARE = 0.9  # a unit saturated on this share of the points is nearly a constant
MOSTLY = 0.5  # a layer with at least this share of dead or saturated units gets a warning
SHOW_ROWS, SHOW_COLS = 6, 8  # explain: the part of each matrix shown in the page
GRADCHECK_WORK = 200_000  # explain: parameters x examples of the gradient check


# --- data ----------------------------------------------------------------------------------


@dataclass
class Data:
    """Training and held-out points, X: (N, 2), y: (N,), and the plane the page shows."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    bounds: tuple  # (x1_min, x1_max, x2_min, x2_max)

    @functools.cached_property
    def grid(self) -> np.ndarray:
        """The points (GRID * GRID, 2) where the regions and unit heatmaps are drawn: made once
        per dataset, not once a frame."""
        return grid_points(self.bounds, GRID)


def make_data(spec: dict) -> Data:
    """The data of a checked `data` message: a generated dataset, with the points added on the
    plot, or the page's own points ("custom"), split into training and held-out points.

    Generated: `points * heldout` held-out points come from `heldout_sample` (a fresh sample of
    the same distribution), the rest is `load_dataset(source, n, noise, seed)`: the defaults
    (400 points, half held out) train on the problem set's own 200 moons.
    """
    extra = np.array(spec["extra"], dtype=float).reshape(-1, 3)
    X_extra, y_extra = extra[:, :2], extra[:, 2].astype(np.int64)
    if spec["source"] == "custom":
        if len(extra) < 2:
            raise MessageError("custom data needs at least 2 points: upload a CSV or click")
        n_classes = int(y_extra.max()) + 1
        X, y, X_val, y_val = X_extra, y_extra, X_extra[:0], y_extra[:0]
        if spec["heldout"] > 0 and len(extra) >= 4:
            X, X_val, y, y_val = train_test_split(X, y, spec["heldout"], spec["seed"])
    else:
        n_classes = DATASETS[spec["source"]].n_classes
        if len(extra) and y_extra.max() >= n_classes:
            raise MessageError(f"a point of class {int(y_extra.max())} does not fit "
                               f"{spec['source']}, which has classes 0 to {n_classes - 1}")
        n_val = int(round(spec["points"] * spec["heldout"]))
        X, y = load_dataset(spec["source"], spec["points"] - n_val, spec["noise"], spec["seed"])
        X, y = np.vstack([X, X_extra]), np.concatenate([y, y_extra])
        X_val, y_val = (heldout_sample(spec["source"], spec["noise"], spec["seed"], n_val)
                        if n_val else (X[:0], y[:0]))
    if len(np.unique(y)) < 2:
        raise MessageError("the training points hold only one class; a classifier needs 2")
    both = np.vstack([X, X_val])
    lo, hi = both.min(axis=0) - MARGIN, both.max(axis=0) + MARGIN
    return Data(X, y, X_val, y_val, n_classes, (lo[0], hi[0], lo[1], hi[1]))


def grid_points(bounds, n):
    """n x n points covering `bounds`, row by row from the top (x2 falling), as (n*n, 2)."""
    x1 = np.linspace(bounds[0], bounds[1], n)
    x2 = np.linspace(bounds[3], bounds[2], n)
    xx, yy = np.meshgrid(x1, x2)
    return np.c_[xx.ravel(), yy.ravel()]


# --- the network and its training ----------------------------------------------------------


def build_network(spec: dict, n_classes: int) -> DeepNeuralNetwork:
    return DeepNeuralNetwork([2, *spec["hidden"], n_classes], spec["activation"],
                             spec["reg_lambda"], spec["seed"])


def make_optimizer(net, spec: dict) -> SGD:
    """The engine's step with `spec`'s epsilon and momentum, as `fit_model` makes it."""
    return SGD(net.parameters(), spec["epsilon"], spec["momentum"])


def train_passes(net, optimizer: SGD, data: Data, spec: dict, after_pass, passes=MAX_PASSES):
    """The engine's training loop (`nn.training.train`, as `fit_model` calls it) on the training
    points, calling `after_pass(net, i, grads)` after pass i, which may block (paused) or raise
    (reset, closed). One call per run keeps the optimiser's velocity and the mini-batch order
    of one uninterrupted `fit_model` run, which the exported snippet repeats."""
    train(net, data.X, data.y, optimizer, passes, batch_size=spec["batch_size"], seed=net.seed,
          callback=after_pass)


def copy_network(net) -> DeepNeuralNetwork:
    """A DeepNeuralNetwork with copies of `net`'s parameters (the live one is never touched)."""
    other = DeepNeuralNetwork(net.dims, net.activation, net.reg_lambda, net.seed)
    other.W, other.b = [W.copy() for W in net.W], [b.copy() for b in net.b]
    return other


# --- what the page shows -------------------------------------------------------------------


def b64(array, dtype=np.float32) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def confusion(y, pred, n_classes) -> list:
    """counts[true][predicted]."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def unit_health(activation, z, a):
    """Per hidden unit on the training points: dead (ReLU-like: never active, so no gradient
    passes it) and the share of points on which it is saturated (tanh, sigmoid: flat)."""
    if activation in DEAD_ACTIVATIONS:
        dead = ~np.any(z > 0, axis=0)
    else:
        dead = np.zeros(z.shape[1], dtype=bool)
    mask = saturated_mask(activation, a)  # the studies' definition (one threshold, one rule)
    saturated = np.mean(mask, axis=0) if mask is not None else np.zeros(z.shape[1])
    return dead, saturated


def warnings_for(activation, health) -> list[str]:
    """Plain-language warnings for layers that are mostly dead or saturated."""
    out = []
    for l, (dead, saturated) in enumerate(health, start=1):
        n = len(dead)
        if dead.sum() >= max(1, MOSTLY * n):
            out.append(
                f"Hidden layer {l}: {int(dead.sum())} of {n} units are dead: they output "
                "0 for every training point, so no gradient reaches them and they cannot "
                "recover. Try a smaller learning rate, leaky_relu, fewer layers or a new seed.")
        n_sat = int(np.sum(saturated >= SATURATED_SHARE))
        if n_sat >= max(1, MOSTLY * n):
            out.append(
                f"Hidden layer {l}: {n_sat} of {n} units are saturated ({activation} is flat "
                "for most points), so the gradient through them nearly vanishes and learning "
                "slows down. Try a smaller learning rate, a larger lambda or fewer layers.")
    return out


def frame(net, data: Data, passes: int, rate: float, playing: bool, epsilon: float) -> dict:
    """Everything the live views draw, at the network's current parameters; FloatingPointError
    (as the engine's) when the loss is no longer finite."""
    with np.errstate(all="ignore"):
        grads = net.backpropagation(data.X, data.y)  # also leaves z, a of the training points
        # the loss of that same forward pass (calculate_loss would compute it again)
        loss = float(cross_entropy_loss(net.logits, data.y, net.weights(), net.reg_lambda))
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training diverged at pass {passes}: loss is {loss} with learning rate "
                f"epsilon={epsilon}; try a smaller epsilon")
        pred = np.argmax(net.probs, axis=1)
        health = [unit_health(net.activation, z, a) for z, a in zip(net.z[:-1], net.a[1:-1])]
        metrics = {"pass": passes, "train_loss": loss, "train_accuracy": float(np.mean(pred ==
                                                                                   data.y))}
        cm_train = confusion(data.y, pred, data.n_classes)
        cm_val = None
        if len(data.X_val):
            metrics["heldout_loss"] = float(net.calculate_loss(data.X_val, data.y_val))
            pred_val = np.argmax(net.probs, axis=1)
            metrics["heldout_accuracy"] = float(np.mean(pred_val == data.y_val))
            cm_val = confusion(data.y_val, pred_val, data.n_classes)
        probs = net.predict_proba(data.grid)
        hidden = net.a[1:-1]
        n_units = sum(net.dims[1:-1])
        step = GRID // (UNIT_GRID if n_units <= 64 else UNIT_GRID // 2)
        units = []
        for a in hidden:
            a = a.reshape(GRID, GRID, -1)[::step, ::step].reshape(-1, a.shape[1]).T
            scale = np.maximum(np.abs(a).max(axis=1, keepdims=True), 1e-12)
            units.append({"scale": scale.ravel().tolist(),
                          "values": b64(np.round((a / scale + 1) * 127.5), np.uint8)})
    n = len(data.X)
    return {
        "type": "frame", "playing": playing, "passes_per_s": rate, **metrics,
        "grid": {"size": GRID, "classes": b64(np.argmax(probs, axis=1), np.uint8),
                 "confidence": b64(np.round(probs.max(axis=1) * 255), np.uint8)},
        "units": {"size": GRID // step, "layers": units},
        "weights": [b64(W) for W in net.W], "biases": [b64(b) for b in net.b],
        "grad_norm": [float(np.linalg.norm(dW) / n) for dW in grads.dW],
        "dead": [d.tolist() for d, _ in health],
        "saturated": [np.round(s, 3).tolist() for _, s in health],
        "warnings": warnings_for(net.activation, health),
        "confusion": {"train": cm_train, "heldout": cm_val},
    }


def data_message(data: Data, config: dict) -> dict:
    """The points and the plane, sent when the data changes."""
    return {"type": "data", "config": config, "n_classes": data.n_classes,
            "bounds": [float(v) for v in data.bounds],
            "train": {"X": b64(data.X), "y": b64(data.y, np.uint8)},
            "heldout": {"X": b64(data.X_val), "y": b64(data.y_val, np.uint8)}}


def _shown(array) -> dict:
    """An array for the page: its shape and its top-left corner, rounded."""
    a = np.atleast_2d(array)
    return {"shape": list(np.shape(array)),
            "values": np.round(a[:SHOW_ROWS, :SHOW_COLS], 6).tolist(),
            "truncated": a.shape[0] > SHOW_ROWS or a.shape[1] > SHOW_COLS}


def next_batch(n: int, batch_size, seed: int, passes: int):
    """The examples the engine's loop takes at pass `passes` (counted from 0): all of them, or
    that pass's mini-batch in the engine's own shuffled order (nn.training.batch_order)."""
    order = batch_order(n, batch_size, seed)
    for _ in range(passes):
        next(order)
    idx = next(order)
    return np.arange(n) if idx is None else idx


def explain(net, optimizer: SGD, data: Data, spec: dict, passes: int):
    """The next step, on the batch the engine takes next, at the current parameters, layer by
    layer, as the problem set writes it: z, a, delta = dL/dz, dW, db, the update the optimiser
    applies (-epsilon * dW, plus momentum times its velocity), and the numerical gradient check
    of every parameter. Returns (message for the page, .npz bytes of every array in full).

    Delta is the engine's own: row n of delta[l] is db[l] of backpropagation on example n
    alone (db is the sum of delta over the examples).
    """
    idx = next_batch(len(data.X), spec["batch_size"], net.seed, passes)
    X, y = data.X[idx], data.y[idx]
    live = copy_network(net)
    grads = live.backpropagation(X, y)
    z, a = live.z, live.a
    L = len(live.W)
    rows = [live.backpropagation(X[n:n + 1], y[n:n + 1]).db for n in range(len(X))]
    delta = [np.array([r[l] for r in rows]) for l in range(L)]
    n_params = sum(W.size + b.size for W, b in zip(live.W, live.b))
    k = int(min(len(X), max(1, GRADCHECK_WORK // n_params)))
    errors = gradcheck(copy_network(net), X[:k], y[:k])
    eps, velocity = optimizer.epsilon, optimizer.velocities
    layers, arrays = [], {}
    for l in range(L):
        update_W, update_b = -eps * grads.dW[l], -eps * grads.db[l]
        if velocity is not None:  # v = momentum * v - epsilon * g; p += v
            update_W = optimizer.momentum * velocity[l] + update_W
            update_b = optimizer.momentum * velocity[L + l] + update_b
        named = {f"z[{l}]": z[l], f"a[{l + 1}]": a[l + 1], f"delta[{l}]": delta[l],
                 f"dW[{l}]": grads.dW[l], f"db[{l}]": grads.db[l], f"W[{l}]": live.W[l],
                 f"update W[{l}]": update_W, f"update b[{l}]": update_b}
        arrays.update(named)
        layers.append({"layer": l, "input": f"a[{l}]", "input_shape": list(a[l].shape),
                       "arrays": {k_: _shown(v) for k_, v in named.items()},
                       "gradcheck": {"W": errors[f"W[{l}]"], "b": errors[f"b[{l}]"]}})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    notes = []
    if len(X) < len(data.X):
        notes.append(f"Training uses mini-batches of {spec['batch_size']} in the engine's own "
                     f"shuffled order; shown is the next one: {len(X)} of the {len(data.X)} "
                     "training points.")
    if velocity is not None:
        notes.append(f"With momentum {optimizer.momentum:g} the update is {optimizer.momentum:g}"
                     " x the optimiser's velocity (the previous update) - epsilon x dW.")
    message = {"type": "explain", "pass": passes, "n": len(X), "epsilon": eps,
               "activation": live.activation, "reg_lambda": live.reg_lambda,
               "loss": float(live.calculate_loss(X, y)), "layers": layers,
               "gradcheck_examples": k, "gradcheck_max": max(errors.values()), "notes": notes}
    return message, buffer.getvalue()


def seeds(net_spec: dict, data: Data, passes: int, count: int) -> dict:
    """The same setting from `count` initialisations (seed, seed + 1, ...), trained together
    by the batched engine for `passes` passes: each seed's regions and held-out accuracy."""
    if net_spec["batch_size"] is not None and net_spec["batch_size"] < len(data.X):
        raise MessageError("train seeds needs full-batch training (batch size: full): the "
                           "batched engine gives every seed its own mini-batch order only "
                           "one network at a time")
    first = net_spec["seed"]
    stack = BatchedNetwork([2, *net_spec["hidden"], data.n_classes], net_spec["activation"],
                           net_spec["reg_lambda"], seeds=list(range(first, first + count)))
    try:
        stack.fit_model(data.X, data.y, net_spec["epsilon"], max(passes, 1), print_loss=False,
                        momentum=net_spec["momentum"])
    except FloatingPointError as exc:
        raise MessageError(f"a seed of {stack.seeds} diverged: {exc}") from None
    with np.errstate(all="ignore"):
        probs = stack.predict_proba(data.grid)  # (S, cells, C)
        train_acc = np.atleast_1d(stack.accuracy(data.X, data.y))
        val_acc = (np.atleast_1d(stack.accuracy(data.X_val, data.y_val)) if len(data.X_val)
                   else np.full(count, np.nan))
    classes = np.argmax(probs, axis=-1)
    return {"type": "seeds", "passes": max(passes, 1), "seeds": stack.seeds, "size": GRID,
            "classes": [b64(c, np.uint8) for c in classes],
            "train_accuracy": train_acc.tolist(),
            "heldout_accuracy": [None if math.isnan(v) else v for v in val_acc.tolist()],
            "heldout_mean": None if np.isnan(val_acc).any() else float(val_acc.mean()),
            "heldout_std": None if np.isnan(val_acc).any() else float(val_acc.std()),
            "disagreement": float(np.mean(np.any(classes != classes[:1], axis=0)))}


def snippet(config: dict, passes: int) -> str:
    """Python that reproduces the run with backproplab's public API."""
    d, n = config["data"], config["network"]
    if d["source"] == "custom":
        data = ('data = np.load("playground-model.npz")  # the exported model and its points\n'
                'X, y = data["X_train"], data["y_train"]\n'
                'X_val, y_val = data["X_heldout"], data["y_heldout"]\n')
    else:
        n_val = int(round(d["points"] * d["heldout"]))
        data = (f'X, y = load_dataset("{d["source"]}", n_samples={d["points"] - n_val}, '
                f'noise={d["noise"]!r}, seed={d["seed"]})\n')
        if d["extra"]:
            data += (f"extra = np.array({[list(p) for p in d['extra']]!r})  # clicked points\n"
                     "X, y = np.vstack([X, extra[:, :2]]), np.concatenate([y, extra[:, 2]"
                     ".astype(int)])\n")
        data += (f'X_val, y_val = heldout_sample("{d["source"]}", noise={d["noise"]!r}, '
                 f'seed={d["seed"]}, n_samples={n_val})\n' if n_val else "X_val = None\n")
    n_classes = "int(y.max()) + 1" if d["source"] == "custom" else DATASETS[d["source"]].n_classes
    dims = ", ".join(str(v) for v in [2, *n["hidden"], n_classes])
    val = ('print("held-out accuracy", net.accuracy(X_val, y_val))\n'
           if d["source"] == "custom" or int(round(d["points"] * d["heldout"])) else "")
    return (
        f"# backproplab {__version__}: the playground's run, with the public API\n"
        "import numpy as np\n\n"
        "from backproplab import DeepNeuralNetwork, load_dataset\n"
        "from backproplab.datasets import heldout_sample\n\n"
        f"{data}"
        f"net = DeepNeuralNetwork([{dims}], "
        f"activation={n['activation']!r}, reg_lambda={n['reg_lambda']!r}, seed={n['seed']})\n"
        f"net.fit_model(X, y, epsilon={n['epsilon']!r}, num_passes={passes}, print_loss=False,\n"
        f"              batch_size={n['batch_size']!r}, momentum={n['momentum']!r})\n"
        'print("training loss", net.calculate_loss(X, y))\n'
        f"{val}")


def export(net, data: Data, config: dict, passes: int, metrics: dict) -> dict:
    """The model as .npz (W[l], b[l], and the points) and JSON, and the Python snippet."""
    arrays = {f"W{l}": W for l, W in enumerate(net.W)}
    arrays.update({f"b{l}": b for l, b in enumerate(net.b)})
    arrays.update(X_train=data.X, y_train=data.y, X_heldout=data.X_val, y_heldout=data.y_val)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    description = {
        "backproplab": __version__, "model": "DeepNeuralNetwork", "nn_layer_dims": net.dims,
        "activation": net.activation, "reg_lambda": net.reg_lambda, "seed": net.seed,
        "passes": passes, "training": {k: config["network"][k] for k in
                                       ("epsilon", "batch_size", "momentum")},
        "data": config["data"] if len(config["data"]["extra"]) <= 100 else
        {**config["data"], "extra": f"{len(config['data']['extra'])} points, in the .npz"},
        "arrays": {k: list(v.shape) for k, v in arrays.items()},
        "metrics": metrics,
        "load": "np.load(path): W0, b0, ... are net.W[0], net.b[0], ...",
    }
    return {"type": "export", "npz": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "json": json.dumps(description, indent=2), "snippet": snippet(config, passes)}


def figure_menu() -> list[dict]:
    """Each figure of the problem set (the study presets) with its panels, as page settings:
    the preset's data (its 200 training points, as many held out) and each setting's network."""
    menu = []
    for name, spec in PRESETS.items():
        noise = DATASETS[spec.dataset].noise if spec.noise is None else spec.noise
        data = {"source": spec.dataset, "noise": noise, "points": 2 * spec.n_samples,
                "heldout": 0.5, "seed": spec.data_seed, "extra": []}
        panels = [{"label": s.label, "data": data,
                   "network": {"hidden": s.dims[1:-1], "activation": s.activation,
                               "reg_lambda": s.reg_lambda, "epsilon": s.fit["epsilon"],
                               "batch_size": s.fit.get("batch_size"),
                               "momentum": s.fit.get("momentum", 0.0), "seed": 0}}
                  for s in settings(spec)]
        menu.append({"name": name, "title": spec.title, "claim": spec.claim, "panels": panels})
    return menu


# --- the session ----------------------------------------------------------------------------


class _Rebuild(Exception):
    """Unwinds the training loop: the settings changed, or Reset."""


class _Closed(Exception):
    """Unwinds the training loop: the tab is gone."""


class Session:
    """One tab's data, network and training worker.

    `start()` starts the worker; `submit(message)` queues a checked message (from
    `messages.parse_message`); `publish(text, is_frame)` is called from the worker with each
    JSON message for the page. While a frame is still being sent, no new one is made
    (`frame_sent()` says it left), so a slow page gets fewer frames, not a growing queue.
    """

    def __init__(self, publish, config: dict | None = None):
        self.publish_text = publish
        self.config = config or default_config()
        self.commands: queue.Queue = queue.Queue()
        self.passes, self.playing, self.budget, self.target = 0, False, 0, 0
        self.diverged = None
        self.net = self.data = self.optimizer = None
        self._frame_out = False
        self._pending = False
        self._next_frame = 0.0
        self._rate_t, self._rate_passes, self.rate = time.perf_counter(), 0, 0.0
        self.thread = threading.Thread(target=self._work, name="playground-session", daemon=True)

    def start(self) -> Session:
        """Start the worker: it builds the data and the network and publishes them."""
        self.thread.start()
        return self

    # -- from the event loop --
    def submit(self, message: dict):
        self.commands.put(message)
        self._pending = True

    def close(self):
        self.submit({"type": "_close"})

    def frame_sent(self):
        self._frame_out = False

    # -- the worker --
    def publish(self, message: dict, is_frame=False):
        if is_frame:
            self._frame_out = True
        self.publish_text(json.dumps(message, allow_nan=False, default=_json_default),
                          is_frame)

    def _error(self, text: str):
        self.publish({"type": "error", "message": text})

    def _work(self):
        try:
            self._build(self.config)
        except MessageError as exc:  # a bad initial config: the page is told, defaults used
            self._error(str(exc))
            self._build(default_config())
        while True:
            try:
                self._serve()
                if self.passes >= MAX_PASSES:
                    raise _Rebuild  # nothing left to train; _serve explains why
                train_passes(self.net, self.optimizer, self.data, self.config["network"],
                             self._after_pass)
                self.playing = False
                self._error(f"training stops at {MAX_PASSES} passes: press Reset")
                self._send_frame()
                self._serve()
            except _Rebuild:
                continue
            except _Closed:
                return
            except FloatingPointError as exc:
                self.playing, self.budget, self.diverged = False, 0, str(exc)
                self.publish({"type": "diverged", "message": str(exc), "pass": self.passes})
            except Exception as exc:  # a bug must not take the server down: say it, keep going
                self.playing, self.budget = False, 0
                self._error(f"internal error: {type(exc).__name__}: {exc}")

    def _build(self, config: dict, target: int = 0):
        """New data (when it changed) and a new network from `config`, at pass 0."""
        if self.data is None or config["data"] != self.config["data"]:
            data = make_data(config["data"])
        else:
            data = self.data
        self.net = build_network(config["network"], data.n_classes)
        self.optimizer = make_optimizer(self.net, config["network"])
        self.data, self.config = data, config
        self.passes, self.budget, self.target, self.diverged = 0, target, target, None
        self.publish(data_message(self.data, self.config))
        if not target:
            self._send_frame()

    def _after_pass(self, net, i, grads):
        self.passes += 1
        if self.budget:
            self.budget -= 1
            if self.budget == 0:
                self.target = 0
                self._send_frame()
        if self._pending or not (self.playing or self.budget):
            self._serve()
        elif self.playing:
            now = time.perf_counter()
            if now >= self._next_frame and not self._frame_out:
                self._next_frame = now + FRAME_INTERVAL
                self._send_frame()

    def _send_frame(self):
        now = time.perf_counter()
        if now - self._rate_t >= 0.5 or not self.playing:
            self.rate = (self.passes - self._rate_passes) / max(now - self._rate_t, 1e-9) \
                if self.playing else 0.0
            self._rate_t, self._rate_passes = now, self.passes
        self.publish(frame(self.net, self.data, self.passes, round(self.rate, 1),
                           self.playing or bool(self.budget), self.config["network"]["epsilon"]),
                     is_frame=True)

    def _serve(self):
        """Carry out queued commands; while paused with no passes to go, wait for more."""
        while True:
            try:
                block = not (self.playing or self.budget)
                message = self.commands.get(block=block)
            except queue.Empty:
                self._pending = False
                if self.commands.empty():  # nothing slipped in meanwhile
                    return
                continue
            self._pending = not self.commands.empty()
            try:
                self._command(message)
            except MessageError as exc:
                self._error(str(exc))

    def _command(self, m: dict):
        kind = m["type"]
        if kind == "_close":
            raise _Closed
        if kind in ("config", "reset", "goto", "add_point", "csv"):
            self._rebuild(m)
        if kind == "play" or kind == "step":
            if self.diverged:
                raise MessageError(f"{self.diverged}. Press Reset (or change a setting).")
            if self.passes >= MAX_PASSES:
                raise MessageError(f"training stops at {MAX_PASSES} passes: press Reset")
            self.playing = kind == "play"
            self.budget = 0 if self.playing else m["passes"]
            self._rate_t, self._rate_passes = time.perf_counter(), self.passes
            self._next_frame = 0.0
        elif kind == "pause":
            self.playing, self.budget = False, 0
            self._send_frame()
        elif kind in ("explain", "seeds", "export") and self.diverged:
            raise MessageError(f"{self.diverged}. Press Reset (or change a setting).")
        elif kind == "explain":
            message, arrays = explain(self.net, self.optimizer, self.data, self.config["network"],
                                      self.passes)
            message["npz"] = base64.b64encode(arrays).decode("ascii")
            self.publish(message)
        elif kind == "seeds":
            self.publish({"type": "busy", "message": f"training {m['count']} seeds ..."})
            self.publish(seeds(self.config["network"], self.data, self.passes, m["count"]))
        elif kind == "export":
            self.publish(export(self.net, self.data, self.config, self.passes,
                                _metrics(self.net, self.data)))

    def _rebuild(self, m: dict):
        """A command that restarts training: new settings, Reset, a pass to go to, new data."""
        kind = m["type"]
        config = self.config
        target = 0
        if kind == "config":
            config, target = {"data": m["data"], "network": m["network"]}, m["pass"]
        elif kind == "goto":
            target = m["pass"]
            if self.passes <= target and not self.diverged:  # forward from here
                self.budget = self.target = target - self.passes
                self.playing = False
                if self.budget == 0:
                    self._send_frame()
                return
        elif kind == "add_point":
            data = dict(config["data"])
            data["extra"] = [*data["extra"], (m["x1"], m["x2"], m["label"])]
            if len(data["extra"]) > MAX_POINTS:
                raise MessageError(f"at most {MAX_POINTS} points can be added")
            config = {**config, "data": data}
        elif kind == "csv":
            config = {**config, "data": {**config["data"], "source": "custom",
                                         "extra": m["points"]}}
        self.playing = False
        self._build(config, target)  # a MessageError here leaves the session as it was
        raise _Rebuild


def _metrics(net, data: Data) -> dict:
    out = {"train_loss": float(net.calculate_loss(data.X, data.y)),
           "train_accuracy": float(net.accuracy(data.X, data.y))}
    if len(data.X_val):
        out["heldout_loss"] = float(net.calculate_loss(data.X_val, data.y_val))
        out["heldout_accuracy"] = float(net.accuracy(data.X_val, data.y_val))
    return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")

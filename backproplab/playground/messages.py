"""What the page may send: every message type and its fields, as one table, and the CSV reader.

A message is one JSON object, `{"type": "step", "passes": 10}`. `parse_message(text)` refuses
a text longer than `MAX_MESSAGE` before decoding it, then checks the type and every field (kind,
range, length) and returns a plain dict with the defaults filled in, or raises `MessageError`
naming the field, its value and what is valid. Nothing reaches a session unchecked.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from backproplab.checks import check_number
from backproplab.datasets import DATASETS
from backproplab.errors import BackproplabError
from backproplab.io import parse_json
from backproplab.nn.activations import ACTIVATIONS
from backproplab.nn.defaults import ACTIVATION, EPSILON, REG_LAMBDA

MAX_MESSAGE = 1 << 20  # bytes of one message (a CSV of MAX_POINTS rows fits easily)
MAX_POINTS = 5000  # points of a dataset, generated or uploaded
MAX_HIDDEN_LAYERS = 8
MAX_UNITS = 64  # per hidden layer
MAX_CLASSES = 8
MAX_PASSES = 1_000_000  # a session trains at most this many passes
MAX_STEP = 10_000  # passes of one "step" message
MAX_SEEDS = 8
MAX_COORD = 1e3  # |x1|, |x2| of a point
MAX_SEED = 2**31 - 1


class MessageError(BackproplabError):
    """A message the session cannot accept; the text is shown in the page."""


class Field(NamedTuple):
    kind: str  # "int", "float", "str", "bool", "hidden", "points", "object"
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    optional: bool = False  # None is a valid value (batch_size: None is the full batch)
    fields: dict | None = None  # kind "object": its own fields
    low_open: bool = False  # the value must be > low, not >= low


DATA = {
    "source": Field("str", "moons", choices=(*DATASETS, "custom")),
    "noise": Field("float", 0.2, 0.0, 5.0),
    "points": Field("int", 400, 10, MAX_POINTS),  # training + held-out
    "heldout": Field("float", 0.5, 0.0, 0.9),  # the held-out share of the points
    "seed": Field("int", 0, 0, MAX_SEED),
    # [[x1, x2, label], ...]: the dataset itself when source is "custom", else points added to
    # the generated training set (clicked on the plot)
    "extra": Field("points", []),
}

NETWORK = {
    "hidden": Field("hidden", [3]),
    "activation": Field("str", ACTIVATION, choices=tuple(ACTIVATIONS)),
    "reg_lambda": Field("float", REG_LAMBDA, 0.0, 10.0),
    "epsilon": Field("float", EPSILON, 0.0, 10.0, low_open=True),
    "batch_size": Field("int", None, 1, MAX_POINTS, optional=True),
    "momentum": Field("float", 0.0, 0.0, 0.99),
    "seed": Field("int", 0, 0, MAX_SEED),
}

MESSAGES: dict[str, dict[str, Field]] = {
    # the whole state: data and network (training restarts), optionally the pass to train to
    "config": {"data": Field("object", fields=DATA), "network": Field("object", fields=NETWORK),
               "pass": Field("int", 0, 0, MAX_PASSES)},
    "play": {},
    "pause": {},
    "step": {"passes": Field("int", 1, 1, MAX_STEP)},
    "reset": {},
    "goto": {"pass": Field("int", 0, 0, MAX_PASSES)},
    "add_point": {"x1": Field("float", None, -MAX_COORD, MAX_COORD),
                  "x2": Field("float", None, -MAX_COORD, MAX_COORD),
                  "label": Field("int", None, 0, MAX_CLASSES - 1)},
    "csv": {"text": Field("str", None)},
    "explain": {},
    "seeds": {"count": Field("int", 5, 2, MAX_SEEDS)},
    "export": {},
}


def parse_message(text: str | bytes) -> dict:
    """The checked message in `text`, defaults filled in; MessageError otherwise."""
    if len(text) > MAX_MESSAGE:
        raise MessageError(f"message of {len(text)} bytes refused: the limit is {MAX_MESSAGE}")
    try:
        message = parse_json(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"message is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MessageError(f"message must be a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if kind not in MESSAGES:
        raise MessageError(f"message type {kind!r} is not one of {', '.join(MESSAGES)}")
    out = {"type": kind, **_check_object("", {k: v for k, v in message.items() if k != "type"},
                                         MESSAGES[kind])}
    if kind == "csv":
        out["points"] = parse_csv(out.pop("text"))
    return out


def choices() -> dict:
    """{field: its valid values} of the page's drop-down menus, as the server checks them."""
    return {"source": list(DATA["source"].choices),
            "activation": list(NETWORK["activation"].choices)}


def default_config() -> dict:
    """The problem set's settings: the page's initial state."""
    return {"data": _check_object("data.", {}, DATA), "network": _check_object("network.", {},
                                                                              NETWORK)}


def _check_object(prefix, values, fields):
    if not isinstance(values, dict):
        raise MessageError(f"{prefix.rstrip('.')} must be an object, got {values!r}")
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise MessageError(f"unknown field {prefix}{unknown[0]}; valid: "
                           f"{', '.join(fields) or 'none'}")
    return {name: _check(prefix + name, values[name] if name in values else
                         _missing(prefix + name, f), f)
            for name, f in fields.items()}


def _missing(name, f):
    if f.default is None and not f.optional and f.kind != "object":
        raise MessageError(f"field {name} is missing")
    return {} if f.kind == "object" and f.default is None else f.default


def _check(name, value, f: Field):
    if value is None and f.optional:
        return None
    if f.kind == "object":
        return _check_object(name + ".", value, f.fields)
    if f.kind == "hidden":
        return _hidden(name, value)
    if f.kind == "points":
        return _points(name, value)
    if f.kind == "str":
        if not isinstance(value, str):
            raise MessageError(f"{name}={value!r} must be a string")
        if f.choices and value not in f.choices:
            raise MessageError(f"{name}={value!r} is not one of {', '.join(f.choices)}")
        return value
    return _number(name, value, f.kind == "int", f.low, f.high, f.low_open)


def _number(name, value, integer, low, high, low_open=False):
    """checks.check_number's rule (and words) for a message's field, with an upper bound."""
    try:
        check_number(name, value, low, strict=low_open, integer=integer)
    except ValueError as exc:
        raise MessageError(str(exc)) from None
    if high is not None and value > high:
        raise MessageError(f"{name}={value!r} must be <= {high:g}")
    return int(value) if integer else float(value)


def _hidden(name, value):
    if not isinstance(value, list):
        raise MessageError(f"{name}={value!r} must be a list of layer widths such as [3]")
    if len(value) > MAX_HIDDEN_LAYERS:
        raise MessageError(f"{name} has {len(value)} hidden layers; at most "
                           f"{MAX_HIDDEN_LAYERS}")
    return [_number(f"{name}[{i}]", w, True, 1, MAX_UNITS) for i, w in enumerate(value)]


def _points(name, value):
    if not isinstance(value, list):
        raise MessageError(f"{name} must be a list of [x1, x2, label] points")
    if len(value) > MAX_POINTS:
        raise MessageError(f"{name} has {len(value)} points; at most {MAX_POINTS}")
    out = []
    for i, p in enumerate(value):
        if not isinstance(p, list) or len(p) != 3:
            raise MessageError(f"{name}[{i}]={p!r} must be [x1, x2, label]")
        out.append((_number(f"{name}[{i}][0]", p[0], False, -MAX_COORD, MAX_COORD),
                     _number(f"{name}[{i}][1]", p[1], False, -MAX_COORD, MAX_COORD),
                     _number(f"{name}[{i}][2]", p[2], True, 0, MAX_CLASSES - 1)))
    return out


def parse_csv(text: str) -> list[tuple[float, float, int]]:
    """Rows `x1, x2, label` (a header line is optional) as points; MessageError naming the line
    and the problem: wrong columns, a non-number, NaN or infinity, a label outside
    0..MAX_CLASSES-1, one class only, too many rows."""
    if len(text) > MAX_MESSAGE:
        raise MessageError(f"the CSV has {len(text)} characters; at most {MAX_MESSAGE}")
    points = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 3:
            raise MessageError(f"CSV line {n}: expected 3 columns (x1, x2, label), got "
                               f"{len(cells)}: {line.strip()[:60]!r}")
        if not points and n == _first_line(text) and not _is_number(cells[0]):
            continue  # the header
        values = []
        for col, cell in zip(("x1", "x2", "label"), cells):
            if not _is_number(cell):
                raise MessageError(f"CSV line {n}: {col}={cell[:30]!r} is not a number")
            v = float(cell)
            if not math.isfinite(v):
                raise MessageError(f"CSV line {n}: {col} is {cell}; every value must be finite")
            values.append(v)
        x1, x2, label = values
        if label != int(label) or not 0 <= label < MAX_CLASSES:
            raise MessageError(f"CSV line {n}: label={cells[2]} must be an integer from 0 to "
                               f"{MAX_CLASSES - 1}")
        if abs(x1) > MAX_COORD or abs(x2) > MAX_COORD:
            raise MessageError(f"CSV line {n}: x1 and x2 must lie within +-{MAX_COORD:g}")
        points.append((x1, x2, int(label)))
        if len(points) > MAX_POINTS:
            raise MessageError(f"CSV line {n}: too many rows; at most {MAX_POINTS} points")
    if not points:
        raise MessageError("the CSV has no rows of x1, x2, label")
    classes = sorted({p[2] for p in points})
    if len(classes) < 2:
        raise MessageError(f"the CSV has only one class ({classes[0]}); a classifier needs at "
                           "least 2")
    return points


def _first_line(text):
    return next((n for n, line in enumerate(text.splitlines(), start=1) if line.strip()), 0)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True

"""One source of truth for options: a dataclass per component, mapped onto CLI flags.

Each field's default is the problem set's setting; its metadata carries the help text and,
where the type alone is not enough, a parser (`type`) or the valid `choices`:

    @dataclass
    class TrainConfig:
        passes: int = field(default=20000, metadata={"help": "gradient-descent passes"})

    add_arguments(parser, TrainConfig)          # --passes N (default: 20000)
    cfg = from_args(TrainConfig, args)
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def add_arguments(parser: argparse.ArgumentParser, cls, skip=(), defaults: dict | None = None):
    """Add one `--flag` per field of dataclass `cls` (underscores become dashes)."""
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli") is False:
            continue
        default = defaults.get(f.name, _default(f))
        meta = f.metadata
        flag = "--" + f.name.replace("_", "-")
        help_text = meta.get("help", "")
        if isinstance(default, bool) and "type" not in meta:
            parser.add_argument(flag, dest=f.name, default=default, help=help_text,
                                action=argparse.BooleanOptionalAction)
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": default}
        kwargs["type"] = meta.get("type") or _scalar_type(default)
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]
        if "metavar" in meta:
            kwargs["metavar"] = meta["metavar"]
        shown = meta.get("show_default", default)
        kwargs["help"] = f"{help_text} (default: {_show(shown)})"
        parser.add_argument(flag, **kwargs)
    return parser


def from_args(cls, args: argparse.Namespace, **overrides):
    """Build `cls` from the parsed flags that belong to it."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update(overrides)
    return cls(**values)


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _scalar_type(default):
    if default is None or isinstance(default, str):
        return text
    if isinstance(default, int):
        return integer
    return float if isinstance(default, float) else text


INT_MAX = 2**63 - 1  # the largest integer PyTorch and NumPy take as a size, a count or a seed


def integer(value: str) -> int:
    """An integer option's value (argparse type): beyond INT_MAX it is refused here, naming
    the option, not by PyTorch as "Overflow when unpacking long long" (`--batch-size 1e20` was
    that, after an epoch's training for `--eval-batch-size`)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}") from None
    if abs(number) > INT_MAX:
        raise argparse.ArgumentTypeError(f"{value} is beyond the largest integer, {INT_MAX}")
    return number


def text(value: str) -> str:
    """A text option's value (argparse type): an empty or blank one is refused, never taken for
    the default or the current folder (`--out ''` was '.', `--logdir ''` the default run
    folder, `--host ''` every interface)."""
    if not value.strip():
        raise argparse.ArgumentTypeError(f"an empty value ({value!r}) is not allowed")
    return value


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def int_list(text: str) -> list[int]:
    """Parse '2,3,2' into [2, 3, 2] (argparse type); the model validates the values. An empty
    list or an empty item ('', ',', '2,,3', '2,3,') is refused, never skipped."""
    items = text.split(",")
    if not text.strip() or any(t.strip() == "" for t in items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 2,3,2, got {text!r} "
            f"({'an empty list' if not text.strip() else 'an empty item'})")
    try:
        return [int(t) for t in items]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 2,3,2, got {text!r}") from None


def checked(convert):
    """An argparse type from a function that raises ValueError with a good message."""

    def parse(text):
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse

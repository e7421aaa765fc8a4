"""The `backproplab` command: one subcommand per job.

Each subcommand lives in its own module, which provides `add_arguments(parser)` and
`run(args) -> int`; only the module of the command given is imported, so that `--help` answers
at once and the NumPy commands work without PyTorch. A `BackproplabError` (or any `ValueError`)
becomes one line on stderr and exit status 2; set BACKPROPLAB_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from backproplab import __version__

# name -> (module, one-line help). The order is the order of `backproplab --help`.
COMMANDS = {
    "reproduce": ("backproplab.report.command", "regenerate the whole problem set into a report"),
    "train": ("backproplab.nn.command", "train a NumPy network on 2-D data, save its boundary"),
    "gradcheck": ("backproplab.nn.gradcheck_command", "check backpropagation numerically"),
    "study": ("backproplab.studies.command", "run a part I study across seeds"),
    "train-cnn": ("backproplab.cnn.command", "train the instrumented CNN on MNIST"),
    "evaluate-cnn": ("backproplab.cnn.evaluate_command", "evaluate a saved CNN on the test set"),
    "compare-cnn": ("backproplab.cnn.compare_command", "train {adam,sgd} x {relu,tanh}, compare"),
    "playground": ("backproplab.playground.command", "train networks live in the browser"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(commands=None) -> argparse.ArgumentParser:
    """The parser with the full options of `commands` (default: all); the other commands are
    listed by name only, so that `backproplab CMD` imports CMD's module and nothing else."""
    parser = _Parser(prog="backproplab", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"backproplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=help_text)
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand named on the command line: its first word that is one."""
    return next((a for a in argv if a in COMMANDS), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser([_command(argv)])
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("backproplab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, ArithmeticError, OSError, ImportError) as exc:
        if os.environ.get("BACKPROPLAB_DEBUG"):
            raise
        print(f"backproplab {args.command}: error: {exc}", file=sys.stderr)
        return 2

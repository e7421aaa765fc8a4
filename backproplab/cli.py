"""The `backproplab` command: one subcommand per job.

Each subcommand lives in its own module, which provides `add_arguments(parser)` and
`run(args) -> int`; only the module of the command given is imported, so that `--help` answers
at once and the NumPy commands work without PyTorch. A `BackproplabError` (or any `ValueError`)
becomes one line on stderr and exit status 2; set BACKPROPLAB_DEBUG=1 to see the traceback.

Ctrl-C is one line on stderr and exit status 130 at any moment once this module runs: inside
`main` (parsing, importing the command's module, the command's own imports and work) by main's
handler, and before or after it (this module's own imports, the console script's lines) by
`sys.excepthook`, which this module sets first of all to end the process on an uncaught
KeyboardInterrupt in the same way (any other exception goes to the hook it replaced).
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), however early it comes
_said = False  # "interrupted" has been printed for this run of main (never twice)


def _interrupted() -> int:
    """Say "interrupted" once; the exit status."""
    global _said
    if not _said:
        _said = True
        print("backproplab: interrupted", file=sys.stderr, flush=True)
    return INTERRUPTED


def _excepthook(kind, value, tb, _previous=sys.excepthook):
    """An uncaught KeyboardInterrupt (Ctrl-C before main's handler or after it) ends the process
    as main does: one line and status 130, no traceback; anything else goes to `_previous`."""
    if not issubclass(kind, KeyboardInterrupt):
        return _previous(kind, value, tb)
    import os

    try:
        _interrupted()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException:  # a second Ctrl-C, a closed stream: still the same end
        pass
    os._exit(INTERRUPTED)


sys.excepthook = _excepthook

import argparse  # noqa: E402  (after the hook: Ctrl-C while these load is covered too)
import importlib  # noqa: E402
import os  # noqa: E402

from backproplab import __version__  # noqa: E402

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
    global _said
    _said = False
    try:  # everything, parsing and the command's imports too: Ctrl-C is one line at any moment
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted()


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser([_command(argv)])
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, ArithmeticError, OSError, ImportError) as exc:
        if os.environ.get("BACKPROPLAB_DEBUG"):
            raise
        print(f"backproplab {args.command}: error: {exc}", file=sys.stderr)
        return 2

"""The `backproplab` command: one subcommand per job.

Each subcommand lives in its own module, which provides `add_arguments(parser)` and
`run(args) -> int`; only the module of the command given is imported, so that `--help` answers
at once and the NumPy commands work without PyTorch. A `BackproplabError` (or any `ValueError`)
becomes one line on stderr and exit status 2; set BACKPROPLAB_DEBUG=1 to see the traceback.

Ctrl-C is one line on stderr, "backproplab: interrupted", and exit status 130 at any moment
once this module runs, never a traceback:
  - in `main`, a Ctrl-C raises KeyboardInterrupt as Python's own handler does (the job keeps what
    it finished and says so), which main turns into the line and 130; but one that comes while
    a module is being imported ends the process at once (`_sigint`): an import may swallow the
    KeyboardInterrupt (a C extension that clears errors while it loads) or leave a half-made
    module that fails later with another error, and nothing is half-written by an import (every
    job survives kill -9 anyway);
  - before main and after it (this module's own imports, the entry points' last lines),
    `sys.excepthook`, set first of all, ends the process the same way on an uncaught
    KeyboardInterrupt (any other exception goes to the hook it replaced);
  - once the program's main (argv from the command line) has returned, Ctrl-C is ignored: the
    command's status stands, and Python's teardown prints no traceback.
Before this module runs, Python itself is starting, and a Ctrl-C there is Python's own.
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


def _end_interrupted():
    """End the process now, as main ends after Ctrl-C: the line (once), status 130."""
    import os

    try:
        _interrupted()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException:  # a second Ctrl-C, a closed stream: still the same end
        pass
    os._exit(INTERRUPTED)


def _excepthook(kind, value, tb, _previous=sys.excepthook):
    """An uncaught KeyboardInterrupt (Ctrl-C before main's handler or after it) ends the process
    as main does: one line and status 130, no traceback; anything else goes to `_previous`."""
    if not issubclass(kind, KeyboardInterrupt):
        return _previous(kind, value, tb)
    _end_interrupted()


def _sigint(signum, frame):
    """main's SIGINT handler: KeyboardInterrupt, but the process ends at once when the signal
    comes while this thread is importing a module (see the module docstring)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            _end_interrupted()
        frame = frame.f_back
    raise KeyboardInterrupt


sys.excepthook = _excepthook

import argparse  # noqa: E402  (after the hook: Ctrl-C while these load is covered too)
import importlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

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
    """Run the command `argv` names; its exit status. argv None: the program itself (the console
    script, `python -m backproplab`), which then ignores Ctrl-C once the command has finished;
    called with argv (tests, scripts), main restores the SIGINT handler it found."""
    global _said
    _said = False
    previous = _set_sigint(_sigint)
    try:  # everything, parsing and the command's imports too: Ctrl-C is one line at any moment
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted()
    finally:
        _set_sigint(signal.SIG_IGN if argv is None else previous)


def _set_sigint(handler):
    """Make `handler` SIGINT's; the handler it replaces (None: not the main thread, or a handler
    not set from Python, which is then left as it is)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except (ValueError, TypeError):
        return None


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser([_command(argv)])
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        os.getcwd()  # every relative path is resolved against it
    except FileNotFoundError:
        print(f"backproplab {args.command}: error: the current folder no longer exists (it was "
              "removed); cd to one that does", file=sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, ArithmeticError, OSError, ImportError) as exc:
        if os.environ.get("BACKPROPLAB_DEBUG"):
            raise
        print(f"backproplab {args.command}: error: {exc}", file=sys.stderr)
        return 2

"""The `backproplab` command run in the test's process, as a user runs it."""

from __future__ import annotations

from backproplab.cli import main


def cli(capsys, *argv) -> tuple[int, str, str]:
    """`backproplab ARGV...`: (exit status, stdout, stderr); argparse's own exits included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    """stderr of a command that must fail with one line and exit status 2, no traceback."""
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def refused(capsys, tmp_path, *argv) -> str:
    """stderr of a command refused in one line (exit 2) before it wrote anything in tmp_path."""
    code, out, err = cli(capsys, *argv)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())  # nothing written
    return err

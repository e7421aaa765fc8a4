"""`backproplab playground`: options at once, a busy port in one line."""

import socket
import subprocess
import sys

import pytest

from backproplab.cli import main


def test_help_loads_no_numpy_and_no_web_stack():
    code = ("import sys, argparse; import backproplab.playground.command as m; "
            "m.add_arguments(argparse.ArgumentParser()); "
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'numpy', 'sklearn', "
            "'matplotlib', 'torch', 'starlette', 'uvicorn'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_help_states_the_defaults():
    out = subprocess.run([sys.executable, "-m", "backproplab", "playground", "--help"],
                         capture_output=True, text=True)
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and "(default: 127.0.0.1)" in text and "(default: 8000)" in text


def test_a_busy_port_is_one_line_suggesting_another(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["playground", "--port", str(port), "--no-open"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port} on 127.0.0.1 is in use" in err
    assert "--port" in err


def test_a_bad_port_is_refused(capsys):
    assert main(["playground", "--port", "70000", "--no-open"]) == 2
    assert "must be from 0 to 65535" in capsys.readouterr().err


@pytest.mark.slow
def test_the_server_starts_serves_and_stops_on_ctrl_c():
    pytest.importorskip("uvicorn")
    import signal
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "backproplab", "playground", "--port", "0",
                             "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"backproplab playground" in page.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

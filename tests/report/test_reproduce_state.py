"""reproduce.json names only files of its own folder, and is read only in the shape it is
written: an edited state file can neither embed a file of the machine nor raise a traceback."""

import json
import os
import shutil

import pytest

from backproplab.cli import main

PNG = b"\x89PNG\r\n\x1a\n" + b"our figure"


@pytest.fixture
def fake_parts(monkeypatch):
    """reproduce with one part, `figures`, that writes one image into the folder."""
    from backproplab.report import parts

    def figures(out, profile, **_):
        (out / "figures").mkdir(exist_ok=True)
        (out / "figures" / "activations.png").write_bytes(PNG)
        return {"activations": str(out / "figures" / "activations.png")}

    monkeypatch.setattr(parts, "report_parts", lambda profile: [("figures", figures)])


def run(out):
    return main(["reproduce", "--profile", "quick", "--out", str(out)])


def state(out):
    return json.loads((out / "reproduce.json").read_text())


def test_paths_are_recorded_relative_and_a_moved_folder_uses_its_own_files(
        tmp_path, fake_parts, monkeypatch):
    assert run(tmp_path / "out") == 0
    assert state(tmp_path / "out")["parts"]["figures"]["activations"] == os.path.join(
        "figures", "activations.png")
    shutil.move(tmp_path / "out", tmp_path / "moved")
    monkeypatch.chdir(tmp_path / "moved")  # resumed from another working directory
    assert run(".") == 0
    results = json.loads((tmp_path / "moved" / "results.json").read_text())
    assert results["figures"]["activations"] == str(
        (tmp_path / "moved" / "figures" / "activations.png").resolve())


def _link_out(out):
    (out / "figures" / "link.png").symlink_to("/etc/passwd")
    return "figures/link.png"


OUTSIDE = {"absolute": lambda out: "/etc/passwd", "dot-dot": lambda out: "../../../etc/passwd",
           "a link inside leading out": _link_out, "a number": lambda out: 3}
SHAPES = {"parts a list": [], "an unknown part": {"figures": {}, "rm -rf": {}},
          "a record not an object": {"figures": "x"}}


@pytest.mark.parametrize("case", list(OUTSIDE) + list(SHAPES))
def test_an_edited_state_file_is_refused_in_one_line(tmp_path, fake_parts, capsys, case):
    out = tmp_path / "out"
    assert run(out) == 0
    s = state(out)
    if case in OUTSIDE:
        s["parts"]["figures"]["activations"] = OUTSIDE[case](out)
    else:
        s["parts"] = SHAPES[case]
    (out / "reproduce.json").write_text(json.dumps(s))
    (out / "report.html").unlink()
    capsys.readouterr()
    assert run(out) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("backproplab")]
    assert len(errors) == 1 and "reproduce.json" in errors[0] and "Traceback" not in err
    assert not (out / "report.html").exists()

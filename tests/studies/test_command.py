"""`backproplab study`: presets, custom grids, and bad input as one line with exit status 2."""

import json
import shlex

import pytest

from backproplab.studies import PRESETS


def test_list_shows_every_preset(cli):
    rc, out, _ = cli("study", "--list")
    assert rc == 0 and all(name in out for name in PRESETS)


def test_a_custom_grid_is_the_product_of_its_varied_values(cli, tmp_path):
    rc, out, _ = cli("study", "--dataset", "moons", "--dims", "2,3,2", "--vary",
                     "activation=tanh,relu", "--vary", "reg_lambda=0,0.01", "--seeds", "1",
                     "--passes", "10", "--jobs", "1", "--out", tmp_path)
    assert rc == 0
    labels = json.loads((tmp_path / "study.json").read_text())["plan"]["settings"]
    assert labels == ["activation=tanh, reg_lambda=0", "activation=tanh, reg_lambda=0.01",
                      "activation=relu, reg_lambda=0", "activation=relu, reg_lambda=0.01"]
    assert "held-out acc" in out  # the printed summary table


def test_fit_model_arguments_and_architectures_can_be_varied(cli, tmp_path):
    rc, _, err = cli("study", "--vary", "dims=2-3-2,2-4-4-2", "--vary", "momentum=0,0.5",
                     "--seeds", "1", "--passes", "10", "--jobs", "1", "--out", tmp_path)
    assert rc == 0, err
    settings = sorted((tmp_path / "settings").iterdir())
    dims = [json.loads(p.read_text())["dims"] for p in settings]
    assert dims == [[2, 3, 2], [2, 3, 2], [2, 4, 4, 2], [2, 4, 4, 2]]


def _one_line_error(rc, err, *fragments):
    assert rc == 2
    assert err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_unknown_preset_lists_the_valid_ones(cli, tmp_path):
    rc, _, err = cli("study", "moons-everything", "--out", tmp_path / "x")
    _one_line_error(rc, err, "'moons-everything'", *PRESETS)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("vary, fragments", [
    ("activation", ["KEY=VALUE", "'activation'"]),
    ("=tanh", ["KEY=VALUE"]),
    ("colour=red", ["'colour'", "activation", "reg_lambda", "epsilon"]),
    ("activation=tanh,softplus", ["'softplus'", "tanh, sigmoid, relu"]),
    ("reg_lambda=0,abc", ["'abc'", "reg_lambda"]),
    ("reg_lambda=-1", ["reg_lambda=-1", ">= 0"]),
    ("width=0", ["width=0", ">= 1"]),
    ("activation=tanh,,relu", ["empty value"]),
    ("dims=2-3-3", ["2-...-2"]),
])
def test_a_malformed_vary_is_refused_naming_the_value(cli, tmp_path, vary, fragments):
    rc, _, err = cli("study", "--vary", vary, "--out", tmp_path / "x")
    _one_line_error(rc, err, *fragments)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flag, value", [("--seeds", 0), ("--passes", 0), ("--seeds", -2),
                                         ("--jobs", 0)])
def test_counts_below_one_are_refused(cli, tmp_path, flag, value):
    rc, _, err = cli("study", "moons-activations", flag, value, "--out", tmp_path / "x")
    _one_line_error(rc, err, f"{flag}={value}")
    assert not (tmp_path / "x").exists()


def test_a_folder_holding_another_study_is_refused_and_left_untouched(cli, tmp_path, snapshot):
    args = ["--seeds", "1", "--passes", "10", "--jobs", "1", "--out", tmp_path]
    assert cli("study", "--vary", "width=2,3", *args)[0] == 0
    before = snapshot(tmp_path)
    rc, _, err = cli("study", "moons-activations", *args)
    _one_line_error(rc, err, "holds another study", "'custom'")
    rc, _, err = cli("study", "--vary", "width=2,3", "--seeds", "2", *args[2:])
    _one_line_error(rc, err, "holds another study", "seeds")
    assert snapshot(tmp_path) == before


def test_a_folder_holding_other_files_is_refused_and_left_untouched(cli, tmp_path, snapshot):
    (tmp_path / "notes.txt").write_text("mine")
    rc, _, err = cli("study", "moons-activations", "--quick", "--out", tmp_path)
    _one_line_error(rc, err, "not empty")
    assert snapshot(tmp_path) == {"notes.txt": snapshot(tmp_path)["notes.txt"]}
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_preset_and_a_custom_grid_together_are_refused(cli, tmp_path):
    rc, _, err = cli("study", "moons-hidden", "--vary", "width=2,3", "--out", tmp_path / "x")
    _one_line_error(rc, err, "not both")


def test_study_json_holds_the_command_that_reruns_it_exactly(cli, tmp_path, snapshot):
    rc, _, _ = cli("study", "--dims", "2,4,2", "--vary", "lambda=0,0.1", "--activation", "relu",
                   "--seeds", "1", "--passes", "10", "--jobs", "1", "--out", tmp_path)
    assert rc == 0
    rerun = json.loads((tmp_path / "study.json").read_text())["rerun"]
    settings = snapshot(tmp_path / "settings")
    # Same plan: the folder is accepted as this study's and every setting is skipped.
    assert cli(*shlex.split(rerun)[1:], "--jobs", "1", "--out", tmp_path)[0] == 0
    assert snapshot(tmp_path / "settings") == settings

"""A study's settings/NN.json that is not the shape the study writes is trained again, never a
traceback."""

import json

import pytest

from backproplab.studies.runner import run_study, setting_path


@pytest.mark.parametrize("content", ['{"label": null}', "[]", "{broken", '"text"'])
def test_a_damaged_setting_file_is_trained_again(tmp_path, content):
    run_study("moons-activations", tmp_path, seeds=1, passes=20, jobs=1, progress=False,
              log=None)
    path = setting_path(tmp_path, 0)
    label = json.loads(path.read_text())["label"]
    path.write_text(content.replace("null", json.dumps(label)))
    run_study("moons-activations", tmp_path, seeds=1, passes=20, jobs=1, progress=False,
              log=None)
    assert json.loads(path.read_text())["label"] == label  # trained again and rewritten

"""A CNN run folder holds one run: its checkpoint is checked against it on every resume."""

import shutil

import pytest

from backproplab.errors import BackproplabError


@pytest.mark.parametrize("other, message", [
    ({"activation": "tanh"}, "activation='tanh' there, 'relu' here"),
    ({"seed": 7}, "seed=7 there, 0 here"),
    ({"optimizer": "sgd"}, "optimizer='sgd' there, 'adam' here"),
])
def test_a_checkpoint_copied_from_another_run_is_refused(small_run, tensors, other, message):
    mine = small_run("mine", data=tensors, epochs=1)
    theirs = small_run("theirs", data=tensors, epochs=1, **other)
    shutil.copyfile(theirs.checkpoint, mine.checkpoint)
    with pytest.raises(BackproplabError, match=f"checkpoint .* is of another run.*{message}"):
        small_run("mine", data=tensors, epochs=2, resume=True)

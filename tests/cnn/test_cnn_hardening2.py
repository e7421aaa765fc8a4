"""Issue 13, the CNN's remaining cases: each mechanism tried on several cases of its kind.

Empty splits are refused before any training; a full disk ends a run in one line, the last
checkpoint intact; sizes that cannot fit in memory are refused before any allocation; a resume
that would change the arithmetic is refused; a NaN on one DDP rank stops every rank.
"""

from __future__ import annotations

import numpy as np
import pytest

from backproplab import data
from backproplab.cli import main
from backproplab.errors import BackproplabError


def cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _empty_split(folder, split):
    """Make `split` of the IDX folder hold 0 images and 0 labels, its checksums right."""
    prefix = "train" if split == "train" else "t10k"
    manifest = folder / data.MANIFEST
    lines = [ln for ln in manifest.read_text().splitlines() if f"{prefix}-" not in ln]
    for part, shape in (("images-idx3", (0, 28, 28)), ("labels-idx1", (0,))):
        array = np.zeros(shape, np.uint8)
        data.write_idx(folder / f"{prefix}-{part}-ubyte.gz", array)
        lines.append(f"{data.md5_of_idx(array)}  {prefix}-{part}-ubyte")
    manifest.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ 1. empty splits


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("command", ["train-cnn", "compare-cnn", "evaluate-cnn"])
def test_an_empty_split_is_refused_before_any_training(capsys, data_copy, tmp_path, split,
                                                       command, small_run):
    _empty_split(data_copy, split)
    out = tmp_path / "out"
    if command == "evaluate-cnn":  # evaluates on the test split alone: only that one counts
        model = small_run("model", epochs=1, save_model=True).model
        argv = ("evaluate-cnn", model, "--data-dir", data_copy, "--device", "cpu")
        if split == "train":
            code, stdout, err = cli(capsys, *argv)
            assert code == 0 and "/200)" in stdout, err
            return
    elif command == "train-cnn":
        argv = ("train-cnn", "--data-dir", data_copy, "--logdir", out, "--epochs", 1,
                "--device", "cpu")
    else:
        argv = ("compare-cnn", "--data-dir", data_copy, "--out", out, "--epochs", 1,
                "--device", "cpu", "--dry-run")
    err = one_line_error(capsys, *argv)
    assert f"the {split} split is empty: 0 {split} examples of mnist from " \
           f"'{data_copy}'" in err
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_python_api_refuses_an_empty_split(small_run, data_copy, tmp_path, split):
    from backproplab.cnn.config import DataConfig

    _empty_split(data_copy, split)
    with pytest.raises(BackproplabError, match=f"the {split} split is empty"):
        small_run("r", data_config=DataConfig(data_dir=str(data_copy)))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("n", [0, 1])
def test_evaluate_refuses_no_examples(tensors, n):
    from backproplab.cnn import model as net
    from backproplab.cnn.train import evaluate

    x, y = tensors.test
    if n == 0:
        with pytest.raises(BackproplabError, match="no examples"):
            evaluate(net.build("relu", 0), x[:0], y[:0])
    else:
        assert evaluate(net.build("relu", 0), x[:n], y[:n])["n"] == 1

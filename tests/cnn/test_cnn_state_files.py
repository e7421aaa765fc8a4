"""Every file the CNN reads back is checked against the shape backproplab writes: a damaged
one is a one-line error (BackproplabError), never a traceback from deep inside."""

import numpy as np
import pytest
import torch

from backproplab import data as idx
from backproplab.cnn.checkpoint import load_model
from backproplab.cnn.distributed import pick_device
from backproplab.errors import BackproplabError


def _edit(key, value):
    def damage(path):
        payload = torch.load(path, weights_only=True)
        if value is KeyError:
            del payload[key]
        else:
            payload[key] = value(payload) if callable(value) else value
        torch.save(payload, path)
    return damage


DAMAGES = {
    "empty file": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"\x00garbage" * 10),
    "model missing": _edit("model", KeyError),
    "optimizer missing": _edit("optimizer", KeyError),
    "a weight missing": _edit("model", lambda p: {k: v for k, v in p["model"].items()
                                                  if k != "fc2.bias"}),
    "a weight of another shape": _edit("model", lambda p: {**p["model"],
                                                           "fc2.bias": torch.zeros(3)}),
    "unknown activation": _edit("config", lambda p: {**p["config"], "activation": "swish"}),
    "state of another shape": _edit("state", {"epoch": 1}),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_checkpoint_is_refused_on_resume_and_evaluation(small_run, tensors, damage):
    result = small_run("r", data=tensors, epochs=1)
    DAMAGES[damage](result.checkpoint)
    with pytest.raises(BackproplabError, match="checkpoint.pt"):
        small_run("r", data=tensors, epochs=2, resume=True)
    with pytest.raises(BackproplabError, match="checkpoint.pt"):
        load_model(result.checkpoint)


@pytest.mark.parametrize("damage", ["empty file", "model missing", "a weight of another shape"])
def test_a_damaged_model_file_is_refused(small_run, tensors, damage):
    model = small_run("r", data=tensors, epochs=1, save_model=True).model
    DAMAGES[damage](model)
    with pytest.raises(BackproplabError, match="model.pt"):
        load_model(model)


def test_a_model_file_with_an_unknown_activation_is_refused(small_run, tensors):
    model = small_run("r", data=tensors, epochs=1, save_model=True).model
    _edit("activation", "swish")(model)
    with pytest.raises(BackproplabError, match="activation 'swish' unknown"):
        load_model(model)


def _corrupt_deflate(path):
    raw = bytearray(path.read_bytes())
    raw[20:40] = b"\xff" * 20  # inside the compressed stream, after gzip's header
    path.write_bytes(bytes(raw))


def _not_28_by_28(path):
    images = np.zeros((500, 14, 14), np.uint8)
    idx.write_idx(path, images)
    manifest = path.parent / idx.MANIFEST  # the manifest agrees: the reader itself must see it
    stem = "train-images-idx3-ubyte"
    manifest.write_text("".join(f"{idx.md5_of_idx(images)}  {stem}\n" if line.endswith(stem)
                                else line + "\n" for line in manifest.read_text().splitlines()))


@pytest.mark.parametrize("damage", [_corrupt_deflate, _not_28_by_28])
def test_damaged_image_files_are_refused(data_copy, damage):
    damage(data_copy / "train-images-idx3-ubyte.gz")
    source = idx.locate("mnist", data_copy, download=False)
    with pytest.raises(BackproplabError, match="train-images|28, 28"):
        idx.load(source, "train")


@pytest.mark.parametrize("device", ["meta", "mps", "cuda:99", "xla"])
def test_devices_the_trainer_cannot_use_are_refused(device):
    if device == "cuda:99" and not torch.cuda.is_available():
        pytest.skip("no CUDA here: refused as unavailable, tested elsewhere")
    with pytest.raises(BackproplabError, match=f"--device {device}"):
        pick_device(device)

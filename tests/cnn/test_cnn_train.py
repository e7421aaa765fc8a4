"""The trainer on the fixture: it learns, it resumes exactly, it keeps runs apart."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F

from backproplab.cnn import model as net
from backproplab.cnn.checkpoint import load_model
from backproplab.cnn.config import TrainConfig, with_recipe
from backproplab.cnn.train import TrainingInterrupted, epoch_batches, evaluate
from backproplab.errors import BackproplabError


def test_the_model_is_the_problem_sets_network():
    model = net.Net("relu")
    shapes = net.architecture(model)
    assert shapes["conv1.weight"] == [10, 1, 5, 5] and shapes["conv2.weight"] == [20, 10, 5, 5]
    assert shapes["fc1.weight"] == [50, 320] and shapes["fc2.weight"] == [10, 50]
    out = model.eval()(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert torch.allclose(out.exp().sum(1), torch.ones(3))  # log-softmax: probabilities sum to 1


def test_initial_weights_depend_only_on_the_seed_and_leave_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = net.build("tanh", 3), net.build("tanh", 3), net.build("tanh", 4)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_a_training_step_lowers_the_loss(tensors):
    model = net.build("relu", 0)
    x, y = tensors.train[0][:64], tensors.train[1][:64]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)

    def loss():
        with torch.no_grad():
            return F.nll_loss(model.eval()(x), y).item()

    before = loss()
    model.train()
    F.nll_loss(model(x), y).backward()
    optimizer.step()
    assert loss() < before


def test_training_beats_the_untrained_network(small_run, tensors):
    untrained = evaluate(net.build("relu", 0), *tensors.test)
    result = small_run(epochs=3, data=tensors)
    assert result.final["test/accuracy"] > untrained["accuracy"] + 0.2
    assert [row["epoch"] for row in result.history] == [1, 2, 3]


def test_every_epoch_reshuffles_and_covers_the_data_once():
    a, b = epoch_batches(100, 32, seed=0, epoch=0), epoch_batches(100, 32, seed=0, epoch=1)
    assert [len(t) for t in a] == [32, 32, 32, 4]
    assert sorted(torch.cat(a).tolist()) == list(range(100))
    assert not torch.equal(torch.cat(a), torch.cat(b))
    assert torch.equal(torch.cat(a), torch.cat(epoch_batches(100, 32, seed=0, epoch=0)))


@pytest.mark.parametrize("fields", [
    {"optimizer": "adam"},
    {"optimizer": "sgd", "activation": "tanh", "scheduler": "onecycle"},
], ids=["adam", "sgd-onecycle"])
def test_a_run_interrupted_and_resumed_equals_an_uninterrupted_one(small_run, tensors, fields):
    whole = small_run("whole", data=tensors, epochs=3, **fields)
    with pytest.raises(TrainingInterrupted) as stop:
        small_run("parts", data=tensors, epochs=3, on_step=lambda step: step == 21, **fields)
    assert stop.value.step == 21  # mid-epoch 2 (16 batches per epoch)
    resumed = small_run("parts", data=tensors, epochs=3, resume=True, **fields)
    assert resumed.resumed

    a = torch.load(whole.checkpoint, weights_only=True)
    b = torch.load(resumed.checkpoint, weights_only=True)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    strip = [{k: v for k, v in row.items() if k != "time"} for row in whole.history]
    assert strip == [{k: v for k, v in row.items() if k != "time"} for row in resumed.history]
    assert whole.stats_csv.read_text() == resumed.stats_csv.read_text()


def test_resume_of_another_run_is_refused(small_run, tensors):
    small_run("r", data=tensors, epochs=1)
    with pytest.raises(BackproplabError, match="holds another run: optimizer='adam' there"):
        small_run("r", data=tensors, epochs=1, optimizer="sgd", resume=True)


def test_a_folder_holding_a_run_is_not_overwritten_unasked(small_run, tensors):
    first = small_run("r", data=tensors, epochs=1)
    before = first.checkpoint.read_bytes()
    with pytest.raises(BackproplabError, match="already holds a run.*--resume.*--overwrite"):
        small_run("r", data=tensors, epochs=1, seed=1)
    assert first.checkpoint.read_bytes() == before
    second = small_run("r", data=tensors, epochs=1, seed=1, overwrite=True)
    assert second.checkpoint.read_bytes() != before
    assert len(list(second.logdir.glob("events.out.tfevents.*"))) == 1


def test_a_folder_of_other_files_is_refused_even_with_overwrite(small_run, tensors, tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine")
    with pytest.raises(BackproplabError, match="holds other files \\(notes.txt\\)"):
        small_run("r", data=tensors, epochs=1, overwrite=True)
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine"


def test_a_truncated_checkpoint_is_refused(small_run, tensors):
    result = small_run("r", data=tensors, epochs=1)
    path = result.checkpoint
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(BackproplabError, match="truncated or not a backproplab file"):
        small_run("r", data=tensors, epochs=2, resume=True)


def test_a_checkpoint_of_another_architecture_is_refused(small_run, tensors):
    result = small_run("r", data=tensors, epochs=1)
    payload = torch.load(result.checkpoint, weights_only=True)
    payload["model"]["fc1.weight"] = torch.zeros(64, 320)
    payload["architecture"]["fc1.weight"] = [64, 320]
    torch.save(payload, result.checkpoint)
    with pytest.raises(BackproplabError, match="another architecture.*fc1.weight 64x320"):
        small_run("r", data=tensors, epochs=2, resume=True)


def test_a_saved_model_evaluates_to_the_runs_final_accuracy(small_run, tensors):
    result = small_run("r", data=tensors, epochs=2, save_model=True, activation="tanh")
    model = load_model(result.model)
    assert model.activation == "tanh"
    assert evaluate(model, *tensors.test)["accuracy"] == result.final["test/accuracy"]


def test_validation_is_held_out_from_training(small_run, fixture_dir):
    from backproplab.cnn.config import DataConfig

    result = small_run("r", epochs=1, data_config=DataConfig(data_dir=str(fixture_dir),
                                                             val_size=100))
    assert "val/accuracy" in result.final
    assert result.steps == 400 // 32 + 1  # 500 - 100 training examples, batches of 32
    assert json.loads((result.logdir / "run.json").read_text())["data"]["val"] == 100


@pytest.mark.parametrize("fields, message", [
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'; valid: adam, sgd"),
    ({"activation": "gelu"}, "unknown activation 'gelu'; valid: relu, tanh"),
    ({"epochs": 0}, "--epochs must be a positive integer, got 0"),
    ({"batch_size": -5}, "--batch-size must be a positive integer, got -5"),
    ({"lr": 0.0}, "--lr must be positive, got 0.0"),
    ({"lr": -1e-3}, "--lr must be positive"),
])
def test_bad_settings_are_refused_with_the_value_and_what_is_valid(fields, message):
    with pytest.raises(BackproplabError) as err:
        TrainConfig(**fields)
    assert message in str(err.value)


def test_a_recipe_sets_fields_and_explicit_values_win():
    fast = with_recipe("fast")
    assert fast.scheduler == "onecycle" and fast.batch_size > 64
    assert with_recipe("fast", batch_size=64).batch_size == 64
    assert with_recipe("classic") == TrainConfig()


def test_resume_can_extend_a_finished_run(small_run, tensors):
    small_run("r", data=tensors, epochs=1)
    result = small_run("r", data=tensors, epochs=2, resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2]


def test_resume_cannot_change_the_length_of_a_one_cycle_schedule(small_run, tensors):
    small_run("r", data=tensors, epochs=1, scheduler="onecycle")
    with pytest.raises(BackproplabError, match="epochs=1 there, 2 here"):
        small_run("r", data=tensors, epochs=2, scheduler="onecycle", resume=True)


def test_resume_with_fewer_epochs_than_done_is_refused(small_run, tensors):
    small_run("r", data=tensors, epochs=2)
    with pytest.raises(BackproplabError, match="trained for 2 epochs, more than --epochs 1"):
        small_run("r", data=tensors, epochs=1, resume=True)


def test_bf16_and_channels_last_train_the_same_network(small_run, tensors):
    result = small_run("bf16", data=tensors, epochs=2, precision="bf16", channels_last=True)
    model = load_model(result.checkpoint)
    assert net.architecture(model) == net.architecture(net.Net())
    untrained = evaluate(net.build("relu", 0), *tensors.test)["accuracy"]
    assert result.final["test/accuracy"] > untrained

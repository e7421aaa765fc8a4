"""What the CNN's monitor (backproplab.monitor on the architecture's layers) writes: every tag
in the event file, statistics that match the tensors, and the health verdicts."""

from __future__ import annotations

import csv

import pytest
import torch

from backproplab.cnn import architecture
from backproplab.cnn import model as net
from backproplab.monitor import health

STATS = ("min", "max", "mean", "std")


def quantities() -> list[tuple[str, str]]:
    """(layer, quantity) pairs monitored, in the model's order."""
    pairs = []
    for layer, (_, act, pool) in architecture.MONITORED.items():
        pairs += [(layer, "weight"), (layer, "bias"), (layer, "net_input")]
        pairs += [(layer, "activation")] * (act is not None)
        pairs += [(layer, "pooled")] * (pool is not None)
    return pairs


def tags() -> list[str]:
    """Every tag the monitor writes on a monitored step of a relu run."""
    out = ["train/loss", "train/lr", "train/loss_mean"] + [f"health/{r}" for r in health.RULES]
    for layer, quantity in quantities():
        out += [f"{layer}/{quantity}/{s}" for s in STATS] + [f"{layer}/{quantity}/hist"]
        if quantity in ("weight", "bias"):
            out += [f"{layer}/{quantity}/grad_norm", f"{layer}/{quantity}/update_ratio"]
        if quantity == "activation":
            out.append(f"{layer}/activation/dead")
    return out


@pytest.fixture
def events(small_run, tensors):
    """A 2-epoch run monitored every 4 steps, its event file read back with TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = small_run(data=tensors, epochs=2, monitor_every=4)
    acc = EventAccumulator(str(result.logdir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return result, acc


def test_every_monitored_tag_is_in_the_event_file(events):
    _, acc = events
    written = set(acc.Tags()["scalars"]) | set(acc.Tags()["histograms"])
    expected = set(tags()) | {"train/epoch_loss", "test/loss", "test/accuracy"}
    assert expected <= written, sorted(expected - written)


def test_tags_are_grouped_by_layer_with_pooled_outputs_for_conv_layers_only():
    names = tags()
    for layer in ("conv1", "conv2", "fc1", "fc2"):
        for quantity in ("weight", "bias", "net_input"):
            assert f"{layer}/{quantity}/hist" in names
    assert "conv1/pooled/mean" in names and "conv2/activation/std" in names
    assert not any(t.startswith(("fc1/pooled", "fc2/activation")) for t in names)
    assert "conv1/weight/grad_norm" in names and "train/lr" in names


def test_statistics_are_written_every_n_steps_and_metrics_every_epoch(events):
    result, acc = events
    steps = [e.step for e in acc.Scalars("conv1/weight/mean")]
    assert steps == list(range(0, result.steps, 4))  # 32 steps, every 4th
    assert [e.step for e in acc.Scalars("test/accuracy")] == [15, 31]  # each epoch's last step
    accuracy = [e.value for e in acc.Scalars("test/accuracy")]
    assert accuracy == pytest.approx([row["test/accuracy"] for row in result.history])


def test_the_first_weight_statistics_are_those_of_the_initial_weights(events):
    _, acc = events
    w = net.build("relu", 0).conv1.weight.detach()  # the runs' seed is 0
    first = {s: acc.Scalars(f"conv1/weight/{s}")[0].value for s in ("min", "max", "mean", "std")}
    assert first["min"] == pytest.approx(w.min().item(), rel=1e-5)
    assert first["max"] == pytest.approx(w.max().item(), rel=1e-5)
    assert first["mean"] == pytest.approx(w.mean().item(), rel=1e-4, abs=1e-7)
    assert first["std"] == pytest.approx(w.std().item(), rel=1e-5)
    hist = acc.Histograms("conv1/weight/hist")[0].histogram_value
    assert hist.num == w.numel() and sum(hist.bucket) == w.numel()
    assert hist.min == pytest.approx(w.min().item()) and hist.max == pytest.approx(w.max().item())


def test_net_input_histograms_count_every_element_of_the_batch(events):
    _, acc = events
    hist = acc.Histograms("conv1/net_input/hist")[0].histogram_value
    assert hist.num == 32 * 10 * 24 * 24 == sum(hist.bucket)  # batch x channels x 24 x 24
    pooled = acc.Histograms("conv1/pooled/hist")[0].histogram_value
    assert pooled.num == 32 * 10 * 12 * 12


def test_relu_activations_are_never_negative(events):
    _, acc = events
    assert min(e.value for e in acc.Scalars("conv1/activation/min")) >= 0
    assert min(e.value for e in acc.Scalars("conv1/net_input/min")) < 0


def test_the_csv_holds_the_same_statistics_as_tensorboard(events):
    result, acc = events
    with open(result.stats_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    csv_means = [float(r["value"]) for r in rows if (r["layer"], r["quantity"], r["stat"]) ==
                 ("fc2", "weight", "mean")]
    assert csv_means == pytest.approx([e.value for e in acc.Scalars("fc2/weight/mean")])
    seen = {(r["layer"], r["quantity"]) for r in rows}
    assert set(quantities()) <= seen
    with open(result.histograms_csv, newline="") as fh:
        hist_rows = [r for r in csv.DictReader(fh) if r["step"] == "0"
                     and (r["layer"], r["quantity"]) == ("fc1", "bias")]
    assert sum(int(r["count"]) for r in hist_rows) == 50


def test_monitoring_does_not_change_training(small_run, tensors):
    watched = small_run("watched", data=tensors, epochs=1, monitor_every=1)
    unwatched = small_run("unwatched", data=tensors, epochs=1, monitor_every=0)
    a = torch.load(watched.checkpoint, weights_only=True)["model"]
    b = torch.load(unwatched.checkpoint, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)

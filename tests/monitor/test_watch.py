"""`watch` on models backproplab does not define: what it writes, where, and what it leaves."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch
from monitor_models import SmallCNN, TwoInputs, blobs, fit, mlp
from torch import nn

from backproplab.monitor import health, watch

STATS = ("min", "max", "mean", "std", "hist")


def _batches(model, steps, seed=0):
    """Inputs that fit `model`, with labels of its 3 classes."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        y = torch.randint(0, 3, (16,), generator=g)
        if isinstance(model, SmallCNN):
            yield torch.randn(16, 1, 12, 12, generator=g), y
        elif isinstance(model, TwoInputs):
            yield (torch.randn(16, 5, generator=g), torch.randn(16, 3, generator=g)), y
        else:
            yield torch.randn(16, 5, generator=g), y


# (model, {layer: quantities beyond its parameters}, {layer: (activation stat)})
MODELS = {
    "mlp": (lambda: mlp([5, 8, 8, 3]),
            {"0": ["net_input", "activation"], "2": ["net_input", "activation"],
             "4": ["net_input"]}, {"0": "dead", "2": "dead"}),
    "cnn with batchnorm and F.relu": (SmallCNN, {
        "conv1": ["net_input", "activation", "pooled"], "bn1": [],
        "conv2": ["net_input", "activation", "pooled"], "fc": ["net_input"]},
        {"conv1": "dead", "conv2": "saturated"}),
    "two inputs": (TwoInputs, {"left": ["net_input", "activation"],
                               "right": ["net_input", "activation"], "head": ["net_input"]},
                   {"left": "dead", "right": "saturated"}),
}


def expected_tags(model, quantities, activation_stats) -> set:
    tags = {"train/loss", "train/loss_mean", "train/lr"} | {f"health/{r}" for r in health.RULES}
    for qualified, _ in model.named_parameters():
        layer, _, name = qualified.rpartition(".")
        tags |= {f"{layer}/{name}/{s}" for s in STATS + ("grad_norm", "update_ratio")}
    for layer, names in quantities.items():
        tags |= {f"{layer}/{q}/{s}" for q in names for s in STATS}
    tags |= {f"{layer}/activation/{stat}" for layer, stat in activation_stats.items()}
    return tags


@pytest.fixture(params=list(MODELS))
def watched(request, tmp_path):
    """A model of MODELS trained 12 steps under watch(every=4), its event file read back."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    make, quantities, activation_stats = MODELS[request.param]
    torch.manual_seed(0)
    model = make()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with watch(model, tmp_path, every=4, optimizer=optimizer, n_classes=3) as mon:
        fit(model, _batches(model, 12), optimizer, mon)
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0,
                                                            "tensors": 0})
    events.Reload()
    return model, expected_tags(model, quantities, activation_stats), events, mon, tmp_path


def test_every_promised_statistic_is_in_the_event_file(watched):
    model, expected, events, _, _ = watched
    written = set(events.Tags()["scalars"]) | set(events.Tags()["histograms"])
    assert expected <= written, sorted(expected - written)
    assert [e.step for e in events.Scalars("train/loss")] == [0, 4, 8]


def test_the_verdicts_are_in_the_text_tab_and_health_json(watched):
    _, _, events, mon, folder = watched
    assert "health/verdicts/text_summary" in events.Tags()["tensors"]
    payload = json.loads((folder / "health.json").read_text())
    assert set(payload["rules"]) == set(health.RULES)
    assert health.load(folder) == mon.verdicts


def test_leaving_the_block_removes_every_hook(watched):
    model = watched[0]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_the_csv_holds_what_tensorboard_holds(watched):
    model, _, events, _, folder = watched
    layer = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))][0]
    with open(folder / "stats.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r["layer"], r["quantity"], r["stat"]) ==
                (layer, "net_input", "std")]
    assert [float(r["value"]) for r in rows] == pytest.approx(
        [e.value for e in events.Scalars(f"{layer}/net_input/std")])
    assert (folder / "histograms.csv").read_text().startswith("step,epoch,layer,quantity,bin_")


def test_statistics_are_those_of_the_tensors(tmp_path):
    """Step 0: the initial weights (the values the forward pass used), the net input of the
    batch (every element counted), the dead units of the window's batches."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = mlp([5, 8, 3])
    w0, b0 = model[0].weight.detach().clone(), model[0].bias.detach().clone()
    x, y = blobs(16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, tmp_path, every=4, optimizer=optimizer) as mon:
        fit(model, [(x, y)], optimizer, mon)
    events = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0})
    events.Reload()
    value = {s: events.Scalars(f"0/weight/{s}")[0].value for s in ("min", "max", "mean", "std")}
    assert value == pytest.approx({"min": w0.min().item(), "max": w0.max().item(),
                                   "mean": w0.mean().item(), "std": w0.std().item()}, rel=1e-5)
    assert events.Histograms("0/net_input/hist")[0].histogram_value.num == 16 * 8
    z = x @ w0.T + b0  # (16, 8): a unit is dead when z <= 0 for all 16 examples
    dead = (z <= 0).all(dim=0).float().mean().item()
    assert events.Scalars("0/activation/dead")[0].value == pytest.approx(dead)


def test_the_update_ratio_is_that_of_the_step_taken(tmp_path):
    model = mlp([5, 8, 3])
    before = model[0].weight.detach().clone()
    x, y = blobs(16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, every=4) as mon:
        fit(model, [(x, y)], optimizer, mon)
    expected = ((model[0].weight.detach() - before).norm() / before.norm()).item()
    assert mon.evidence.get("0", "weight", "update_ratio") == [(0, pytest.approx(expected))]


def test_monitoring_does_not_change_training():
    """BatchNorm's running statistics, the weights and so the losses: bit for bit."""
    losses = []
    for monitored in (True, False):
        torch.manual_seed(0)
        model = SmallCNN()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        with watch(model, every=1 if monitored else 0) as mon:
            losses.append(fit(model, _batches(model, 10), optimizer, mon))
    assert losses[0] == losses[1]


def test_hooks_exist_only_around_monitored_steps():
    model = mlp([5, 8, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    armed = []
    with watch(model, every=10, window=3) as mon:
        for batch in _batches(model, 12):
            fit(model, [batch], optimizer, mon)
            armed.append(bool(model._forward_pre_hooks))  # for the next step
    # armed for step 0 (at the start), then for steps 8, 9, 10 (the window before step 10)
    assert [s + 1 for s, a in enumerate(armed) if a] == [8, 9, 10]


def test_forward_passes_without_gradients_are_not_recorded(tmp_path):
    model = mlp([5, 8, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = blobs(16)
    with watch(model, every=2) as mon:
        fit(model, [(x, y)], optimizer, mon)
        with torch.no_grad():
            model(torch.randn(100, 5))  # evaluation between steps: step 2's hooks are armed
        fit(model, [(x, y)] * 2, optimizer, mon)
    counts = [r for r in mon.hist_rows if r.startswith("2,") and ",0,net_input," in r]
    assert sum(int(r.rsplit(",", 1)[1]) for r in counts) == 16 * 8


def test_an_explicit_layer_map_watches_only_its_modules():
    model = mlp([5, 8, 8, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, every=2, layers={"hidden": ("0", "1", None), "out": "4"}) as mon:
        fit(model, _batches(model, 3), optimizer, mon)
    seen = {(r.split(",")[2], r.split(",")[3]) for r in mon.stats_rows}
    assert {("hidden", "weight"), ("hidden", "net_input"), ("hidden", "activation"),
            ("out", "bias"), ("out", "net_input")} <= seen
    assert not any(layer in ("2", "3") for layer, _ in seen)


def test_a_layer_called_twice_gets_a_quantity_per_call():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.head = nn.Linear(5, 4), nn.Linear(8, 3)

        def forward(self, a, b):
            return self.head(torch.cat([torch.relu(self.enc(a)), torch.relu(self.enc(b))], 1))

    model = Shared()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, every=1) as mon:
        fit(model, [((torch.randn(4, 5), torch.randn(4, 5)), torch.tensor([0, 1, 2, 0]))],
            optimizer, mon)
    seen = {(r.split(",")[2], r.split(",")[3]) for r in mon.stats_rows}
    assert {("enc", "net_input"), ("enc", "net_input_2"), ("enc", "activation"),
            ("enc", "activation_2")} <= seen


def test_an_exception_in_the_block_leaves_no_hook_behind():
    model = SmallCNN()
    with pytest.raises(RuntimeError), watch(model, every=1):
        model(torch.randn(2, 1, 12, 12))
        model(torch.randn(2, 3, 12, 12))  # wrong channels: raises inside the forward pass
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_importing_the_package_loads_no_pytorch():
    code = ("import sys, backproplab.monitor, backproplab.monitor.health; "
            "print(sorted({'torch', 'numpy'} & {n.split('.')[0] for n in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_mid_run_verdicts_thin_out_so_a_long_run_is_judged_in_linear_time(monkeypatch):
    # The rules read every sample so far: judging all n monitored steps would cost O(n^2).
    from backproplab.monitor import watcher

    judged = []
    check = health.check
    monkeypatch.setattr(health, "check", lambda evidence, n: judged.append(1) or check(evidence, n))
    model = mlp([5, 4, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with watch(model, None, every=1, optimizer=optimizer, n_classes=3) as mon:
        fit(model, _batches(model, 400), optimizer, mon)
    rows = [r for r in mon.stats_rows if ",health,stalled_loss," in r]
    steps = [int(r.split(",")[0]) for r in rows]
    assert steps[:watcher.JUDGE_SAMPLES] == list(range(watcher.JUDGE_SAMPLES))  # all early ones
    assert 60 <= len(steps) <= 100 and len(judged) == len(steps) + 1  # + close()
    assert steps[-1] >= 360  # and still late in the run

"""The health verdicts fire on broken training and stay silent on healthy training.

Each broken case is the issue's: a learning rate x100, a deep ReLU net at a too-large step, a
20-layer sigmoid MLP, weights x10, shuffled labels, a NaN step; each beside the same model
trained sensibly, where the rule stays silent. Then the problem set's own default runs.
"""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import pytest
import torch
from monitor_models import fit, minibatches, mlp, noisy_blobs
from torch import nn

from backproplab.monitor import health, watch


def train(model, optimizer, steps=200, data=None, every=5, **batches):
    X, y = data if data is not None else noisy_blobs()
    with watch(model, every=every, optimizer=optimizer, n_classes=int(y.max()) + 1) as mon:
        fit(model, minibatches(X, y, steps, **batches), optimizer, mon)
    return mon.verdicts


def rules(verdicts) -> set:
    return {v.rule for v in verdicts}


# --------------------------------------------------------------------------- broken and healthy

def test_a_learning_rate_x100_gives_the_update_ratio_verdict():
    healthy = mlp([5, 32, 32, 3], nn.Tanh)
    assert train(healthy, torch.optim.Adam(healthy.parameters(), lr=1e-3)) == []
    broken = mlp([5, 32, 32, 3], nn.Tanh)
    verdicts = train(broken, torch.optim.Adam(broken.parameters(), lr=1e-1))
    ratio = next(v for v in verdicts if v.rule == "update_ratio")
    assert "too high" in ratio.summary and ratio.layers == ["0", "2", "4"]
    assert ratio.value > health.THRESHOLDS["update_ratio_high"]


def test_a_deep_relu_net_at_a_too_large_step_has_dead_layers():
    dims = [5, 32, 32, 32, 32, 32, 3]
    healthy = mlp(dims)
    assert train(healthy, torch.optim.Adam(healthy.parameters(), lr=1e-3)) == []
    broken = mlp(dims)  # Adam's steps are about lr in size: 0.1 is large for these weights
    dead = next(v for v in train(broken, torch.optim.Adam(broken.parameters(), lr=0.1))
                if v.rule == "dead")
    assert {"6", "8"} <= set(dead.layers) and dead.value > health.THRESHOLDS["dead"]
    assert "dead" in dead.summary and "ReLU" in dead.explanation


def test_a_20_layer_sigmoid_mlp_has_a_vanishing_gradient():
    shallow = mlp([5, 32, 3], nn.Sigmoid)
    assert "vanishing" not in rules(train(shallow, torch.optim.SGD(shallow.parameters(), lr=0.5),
                                          steps=60))
    deep = mlp([5] + [32] * 20 + [3], nn.Sigmoid)
    vanishing = next(v for v in train(deep, torch.optim.SGD(deep.parameters(), lr=0.01),
                                      steps=60) if v.rule == "vanishing")
    assert vanishing.layers == ["0", "40"] and vanishing.value < 1e-3


def test_weights_x10_saturate_a_tanh_network():
    healthy = mlp([5, 32, 32, 3], nn.Tanh)
    assert train(healthy, torch.optim.SGD(healthy.parameters(), lr=0.01)) == []
    broken = mlp([5, 32, 32, 3], nn.Tanh)
    with torch.no_grad():
        for p in broken.parameters():
            p.mul_(10)
    found = rules(train(broken, torch.optim.SGD(broken.parameters(), lr=0.01)))
    assert {"saturated", "initial_loss"} <= found


def test_shuffled_labels_stall_the_loss():
    X, y = noisy_blobs(20000)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    healthy = mlp([5, 32, 32, 3])
    assert train(healthy, torch.optim.SGD(healthy.parameters(), lr=0.05, momentum=0.5),
                 data=(X, y)) == []
    broken = mlp([5, 32, 32, 3])
    stalled = train(broken, torch.optim.SGD(broken.parameters(), lr=0.05, momentum=0.5),
                    data=(X, shuffled))
    assert rules(stalled) == {"stalled_loss"}
    assert stalled[0].value == pytest.approx(math.log(3), rel=0.05)


@pytest.mark.parametrize("bad_step", [13, 18])  # between monitored steps; after the last one
def test_a_nan_step_gives_the_nan_verdict_with_its_step(bad_step):
    X, y = noisy_blobs()
    batches = list(minibatches(X, y, 20))
    batches[bad_step][0][0, 0] = float("nan")
    model = mlp([5, 8, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with watch(model, every=5, optimizer=optimizer) as mon:
        fit(model, batches, optimizer, mon)
    nan = [v for v in mon.verdicts if v.rule == "nonfinite_loss"]
    assert len(nan) == 1 and nan[0].step == bad_step
    assert f"at step {bad_step}" in nan[0].summary


def test_the_problem_sets_default_cnn_runs_are_healthy(tmp_path):
    """{adam, sgd} x {relu, tanh} at the problem set's settings: the bundled MNIST subset, one
    epoch (157 steps of 64), statistics every 10 steps as the quick profile takes them."""
    pytest.importorskip("backproplab.cnn.train")
    from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
    from backproplab.cnn.train import train as train_cnn

    for optimizer in ("adam", "sgd"):
        for activation in ("relu", "tanh"):
            config = TrainConfig(optimizer=optimizer, activation=activation, epochs=1,
                                 device="cpu", logdir=str(tmp_path / f"{optimizer}-{activation}"))
            result = train_cnn(config, DataConfig(dataset="mnist-subset"),
                               MonitorConfig(monitor_every=10), progress=False)
            assert result.verdicts == [], (optimizer, activation, result.verdicts)
            assert health.load(result.logdir) == []


# --------------------------------------------------------------------------- the rules as data

def evidence(**series) -> health.Evidence:
    """Evidence from {"layer/quantity/stat": [values at steps 0, 10, 20, ...]}."""
    e = health.Evidence()
    for tag, values in series.items():
        for i, v in enumerate(values):
            e.add_tag(10 * i, tag.replace("__", "/"), v)
    return e


def test_the_initial_loss_is_judged_against_ln_c():
    assert health.check(evidence(train__loss=[2.3]), n_classes=10) == []
    assert health.check(evidence(train__loss=[3.3]), n_classes=10) == []  # within 0.5 ln 10
    (v,) = health.check(evidence(train__loss=[3.6]), n_classes=10)
    assert v.rule == "initial_loss" and "ln 10 = 2.3" in v.summary
    assert health.check(evidence(train__loss=[9.0])) == []  # C unknown: not judged


def test_a_trend_rule_needs_most_of_the_runs_second_half():
    high = [0.05] * 10
    assert rules(health.check(evidence(**{"fc/weight/update_ratio": high}))) == {"update_ratio"}
    # early trouble that went away: silent
    assert health.check(evidence(**{"fc/weight/update_ratio": high[:5] + [1e-3] * 5})) == []
    # a frozen layer (no update at all) is not "a learning rate too low"
    assert health.check(evidence(**{"fc/weight/update_ratio": [0.0] * 10})) == []


def test_tiny_updates_of_dead_layers_are_not_blamed_on_the_learning_rate():
    tiny = {"fc/weight/update_ratio": [1e-6] * 10}
    assert rules(health.check(evidence(**tiny))) == {"update_ratio"}
    assert rules(health.check(evidence(**tiny, **{"fc/activation/dead": [1.0] * 10}))) == {"dead"}


def test_the_gradient_ratio_compares_the_first_and_last_weighted_layers():
    e = evidence(**{"a/net_input/mean": [0] * 4, "a/weight/grad_norm": [1e-5] * 4,
                    "bn/weight/grad_norm": [1.0] * 4,
                    "b/net_input/mean": [0] * 4, "b/weight/grad_norm": [1.0] * 4})
    (v,) = health.check(e)
    assert v.rule == "vanishing" and v.layers == ["a", "b"] and v.value == pytest.approx(1e-5)


def test_the_loss_stalls_only_near_where_it_started():
    flat = [2.30] * 12
    assert rules(health.check(evidence(train__loss_mean=flat))) == {"stalled_loss"}
    converged = [2.3, 1.0, 0.5] + [0.05] * 9  # flat too, but far below the start
    assert health.check(evidence(train__loss_mean=converged)) == []
    assert health.check(evidence(train__loss_mean=flat[:7])) == []  # too short to judge


def test_every_rule_explains_itself_with_a_threshold_and_a_reference():
    for rule in health.RULES.values():
        assert len(rule.explanation.split()) > 40, rule.name  # a paragraph
        assert rule.threshold and rule.title, rule.name
        assert rule.reference
    text = health.report(health.check(evidence(train__loss_mean=[2.3] * 12)))
    assert text.startswith("health: 1 warning") and "Karpathy" in text


def test_health_json_round_trips(tmp_path):
    verdicts = health.check(evidence(train__loss_mean=[2.3] * 12), n_classes=10)
    health.save(tmp_path, verdicts)
    assert health.load(tmp_path) == verdicts
    assert health.load(tmp_path / "nowhere") == []


def test_the_stats_csv_gives_the_verdicts_the_run_gave(tmp_path):
    """A resumed run rebuilds its evidence from stats.csv: the same verdicts."""
    model = mlp([5, 32, 32, 3], nn.Tanh)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-1)
    X, y = noisy_blobs()
    with watch(model, tmp_path, every=5, optimizer=optimizer, n_classes=3) as mon:
        fit(model, minibatches(X, y, 100), optimizer, mon)
    with open(tmp_path / "stats.csv", newline="") as fh:
        again = health.check(health.Evidence.from_rows(csv.DictReader(fh)), n_classes=3)
    assert again == mon.verdicts != []


# --------------------------------------------------------------------------- the NumPy side

def test_a_studys_diagnostics_speak_the_same_rules():
    """studies.results.Diagnostics of one network: (samples, hidden layers), NaN where a metric
    does not apply (dead for tanh), with its loss curve."""
    nan = float("nan")
    passes = list(range(0, 10000, 1000))
    tanh = SimpleNamespace(passes=passes, grad_norm=[[1e-6, 1.0]] * 10, dead=[[nan, nan]] * 10,
                           saturated=[[0.9, 0.1]] * 10)
    verdicts = health.verdicts_from_study_diagnostics(tanh, passes, [0.69] * 10, n_classes=2)
    assert rules(verdicts) == {"vanishing", "saturated", "stalled_loss"}
    assert next(v for v in verdicts if v.rule == "saturated").layers == ["hidden1"]
    relu = SimpleNamespace(passes=passes, grad_norm=[[0.1, 0.2]] * 10, dead=[[0.0, 0.8]] * 10,
                           saturated=[[nan, nan]] * 10)
    losses = [0.7, 0.4, 0.2] + [0.1] * 6 + [nan]
    verdicts = health.verdicts_from_study_diagnostics(relu, passes, losses, n_classes=2)
    assert rules(verdicts) == {"dead", "nonfinite_loss"}
    assert next(v for v in verdicts if v.rule == "nonfinite_loss").step == 9000

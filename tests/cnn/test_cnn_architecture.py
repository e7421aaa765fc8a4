"""The architecture table is the network: the model is built from it, the report shows it."""

from __future__ import annotations

import torch

from backproplab.cnn import architecture
from backproplab.cnn import model as net
from backproplab.cnn.architecture import MONITORED


def test_the_models_parameters_are_the_tables():
    assert net.architecture(net.Net()) == architecture.parameter_shapes()


def test_every_step_has_the_shape_the_table_gives():
    model = net.Net("tanh").eval()
    seen = {}
    modules = dict(model.named_modules())
    for layer in architecture.LAYERS:
        z, act, pool = layer.modules
        last = pool or act or z
        for name, key in ((z, "net_input"), (last, "output")):
            modules[name].register_forward_hook(
                lambda m, i, out, k=(layer.name, key): seen.__setitem__(k, tuple(out.shape[1:])))
    model(torch.zeros(2, *architecture.INPUT))
    for layer in architecture.LAYERS:
        assert seen[(layer.name, "net_input")] == layer.net_input, layer.name
        assert seen[(layer.name, "output")] == layer.output, layer.name


def test_the_monitor_hooks_the_modules_the_table_names():
    modules = dict(net.Net().named_modules())
    assert list(MONITORED) == [layer.name for layer in architecture.LAYERS]
    assert all(name in modules for names in MONITORED.values() for name in names if name)


def test_the_shape_table_reads_as_the_problem_set_writes_it():
    lines = architecture.shape_table().splitlines()
    assert lines[0] == "    x (N, 1, 28, 28)"
    assert lines[1] == ("    conv1 5x5, 1->10   -> (N, 10, 24, 24)   activation, max-pool 2 "
                        "-> (N, 10, 12, 12)")
    assert lines[3] == "    flatten            -> (N, 320)"
    assert architecture.summary().startswith("conv 5×5 1→10, activation, max-pool 2, conv 5×5")
    assert architecture.summary().endswith("fully connected 50→10, log-softmax")


def test_the_activation_choices_are_the_models():
    from backproplab.cnn import config, model

    assert tuple(model.ACTIVATIONS) == config.CNN_ACTIVATIONS

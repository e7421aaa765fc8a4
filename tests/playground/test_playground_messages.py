"""Every message from the page is checked before a session sees it."""

import json

import pytest

from backproplab.playground.messages import (
    MAX_MESSAGE,
    MAX_POINTS,
    MessageError,
    default_config,
    parse_csv,
    parse_message,
)


def parse(**message):
    return parse_message(json.dumps(message))


def test_defaults_are_the_problem_sets_settings():
    c = default_config()
    assert c["data"]["source"] == "moons" and c["data"]["noise"] == 0.2
    assert c["network"] == {"hidden": [3], "activation": "tanh", "reg_lambda": 0.01,
                            "epsilon": 0.01, "batch_size": None, "momentum": 0.0, "seed": 0}


def test_a_step_message_gets_its_default():
    assert parse(type="step") == {"type": "step", "passes": 1}


def test_a_full_config_message_is_accepted():
    m = parse(type="config", **default_config(), **{"pass": 100})
    assert m["pass"] == 100 and m["network"]["hidden"] == [3]


@pytest.mark.parametrize("message, fragment", [
    ({"type": "fly"}, "message type 'fly' is not one of"),
    ({"type": "step", "passes": "10"}, "passes='10' must be an integer"),
    ({"type": "step", "passes": 1.5}, "must be an integer"),
    ({"type": "step", "passes": True}, "must be an integer"),
    ({"type": "step", "passes": 0}, "passes=0 must be >= 1"),
    ({"type": "step", "passes": 10**9}, "must be <= 10000"),
    ({"type": "step", "speed": 2}, "unknown field speed"),
    ({"type": "config", "network": {"hidden": [3] * 9}}, "9 hidden layers; at most 8"),
    ({"type": "config", "network": {"hidden": [65]}}, "network.hidden[0]=65 must be <= 64"),
    ({"type": "config", "network": {"hidden": "3"}}, "must be a list of layer widths"),
    ({"type": "config", "network": {"activation": "swish"}}, "'swish' is not one of tanh"),
    ({"type": "config", "network": {"epsilon": 0}}, "network.epsilon=0 must be > 0"),
    ({"type": "config", "network": {"momentum": 1}}, "must be <= 0.99"),
    ({"type": "config", "data": {"points": MAX_POINTS + 1}}, "data.points=5001 must be <="),
    ({"type": "config", "data": {"extra": [[0, 0]]}}, "data.extra[0]=[0, 0] must be"),
    ({"type": "config", "data": "moons"}, "data must be an object"),
    ({"type": "add_point", "x1": 0, "x2": 0}, "field label is missing"),
    ({"type": "add_point", "x1": 0, "x2": 0, "label": 9}, "label=9 must be <= 7"),
])
def test_a_bad_message_is_refused_naming_the_field(message, fragment):
    with pytest.raises(MessageError, match=None) as info:
        parse_message(json.dumps(message))
    assert fragment in str(info.value)


def test_not_json_and_not_an_object_are_refused():
    with pytest.raises(MessageError, match="not valid JSON"):
        parse_message("{play")
    with pytest.raises(MessageError, match="must be a JSON object"):
        parse_message("[1, 2]")


def test_nan_is_not_a_number_here():
    with pytest.raises(MessageError, match="must be a finite number"):
        parse_message('{"type": "config", "network": {"reg_lambda": NaN}}')


def test_an_oversized_message_is_refused_before_it_is_decoded():
    with pytest.raises(MessageError, match="refused: the limit is"):
        parse_message("x" * (MAX_MESSAGE + 1))  # not even JSON: never parsed


def test_a_csv_with_a_header_is_read():
    assert parse_csv("x1,x2,label\n0,1,0\n1.5,-2,1\n") == [(0.0, 1.0, 0), (1.5, -2.0, 1)]


def test_a_csv_message_carries_its_points():
    m = parse(type="csv", text="0,1,0\n1,0,1\n")
    assert m == {"type": "csv", "points": [(0.0, 1.0, 0), (1.0, 0.0, 1)]}


@pytest.mark.parametrize("text, fragment", [
    ("0,1,0\n1,2\n", "CSV line 2: expected 3 columns (x1, x2, label), got 2"),
    ("0,1,0\n1,abc,1\n", "CSV line 2: x2='abc' is not a number"),
    ("x1,x2,label\n0,1,0\nnan,1,1\n", "CSV line 3: x1 is nan; every value must be finite"),
    ("0,1,0\n1,1,0.5\n", "CSV line 2: label=0.5 must be an integer from 0 to 7"),
    ("0,1,0\n1,1,0\n", "only one class (0)"),
    ("x1,x2,label\n", "no rows"),
    ("0,1,0\n" * (MAX_POINTS + 1), f"too many rows; at most {MAX_POINTS}"),
])
def test_a_bad_csv_names_the_line_and_the_problem(text, fragment):
    with pytest.raises(MessageError) as info:
        parse_csv(text)
    assert fragment in str(info.value)

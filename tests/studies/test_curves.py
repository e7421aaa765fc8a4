"""Training-curve measures on synthetic curves whose answer is known."""

import math

import numpy as np
import pytest

from backproplab.studies import curves


@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.3])
def test_noise_recovers_the_std_of_multiplicative_white_noise_around_a_trend(sigma):
    rng = np.random.RandomState(0)
    t = np.arange(2000)
    trend = 2.3 * np.exp(-t / 400) + 0.1
    noisy = trend * np.exp(sigma * rng.randn(len(t)))  # log noise of std sigma
    assert curves.noise(noisy) == pytest.approx(sigma, rel=0.08)
    assert curves.noise(trend) < 0.01  # the trend alone is (almost) no noise


def test_total_variation_ratio_is_one_for_a_monotone_curve_and_grows_with_reversals():
    assert curves.tv_ratio([1.0, 0.8, 0.5, 0.45]) == pytest.approx(1.0)
    # down 0.5, up 0.25, down 0.5: variation 1.25 for a net change of 0.75
    assert curves.tv_ratio([1.0, 0.5, 0.75, 0.25]) == pytest.approx(1.25 / 0.75)
    assert curves.reversals([1.0, 0.5, 0.75, 0.25]) == 1
    assert math.isnan(curves.tv_ratio([1.0, 0.5]))  # two points: nothing to measure


def test_spikes_count_each_excursion_above_the_running_minimum_once():
    loss = [1.0, 0.5, 0.4, 0.6, 0.7, 0.35, 0.3, 0.31, 0.5, 0.2]
    # 0.6 and 0.7 are one excursion above 0.4 (the largest: 0.7 / 0.4 - 1 = 0.75); 0.31 is a
    # 3% rise, no spike; 0.5 above 0.3 is the second
    count, size = curves.spikes(loss)
    assert count == 2 and size == pytest.approx(0.75)
    assert curves.spikes(np.linspace(1, 0.1, 50)) == (0, 0.0)


def test_converged_pass_is_the_first_within_one_percent_of_the_final_loss():
    passes = [100, 200, 300, 400, 500]
    assert curves.converged_pass(passes, [1.0, 0.5, 0.2015, 0.25, 0.2]) == 300
    assert math.isnan(curves.converged_pass(passes, [1.0, np.inf, 0.2, 0.2, 0.2]))


def test_a_flat_loss_near_its_start_is_stalled_a_falling_one_is_not():
    passes = list(range(0, 2000, 20))
    assert curves.stalled(passes, [0.69] * len(passes))
    assert not curves.stalled(passes, list(0.69 * np.exp(-np.arange(len(passes)) / 30)))

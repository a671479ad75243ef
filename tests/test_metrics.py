"""Metrics that mean what they say: Naeem coverage/density against the prdc package, holes and shrinkage
that must lower the score, floors from two prior samples, and the prior-specific diagnostics."""

import math

import numpy as np
import pytest
import torch

from aae_core.config import ModelConfig, PriorConfig
from aae_core.data import Dataset
from aae_core.metrics import (
    component_shares,
    coverage_density,
    evaluate,
    mode_mass,
    prior_floor,
    prior_match,
    roll_distance,
    shape_diagnostics,
)
from aae_core.models import build_model
from aae_core.priors import make_prior


def gen(seed):
    return torch.Generator().manual_seed(seed)


def sample(prior, n, seed, labels=None):
    return prior.sample(n, labels, gen(seed)).numpy().astype(np.float64)


def test_coverage_and_density_equal_the_prdc_package_on_fixed_samples():
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(400, 2)), rng.normal(0.3, 1.2, size=(300, 2))
    expected = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    cov, dens = coverage_density(real, fake, k=5)
    assert cov == pytest.approx(expected["coverage"], abs=1e-12)
    assert dens == pytest.approx(expected["density"], abs=1e-12)


def test_an_empty_petal_lowers_coverage_well_below_a_perfect_sample():
    prior = make_prior(PriorConfig(name="mixture"))
    n = 1000
    perfect = [prior_match(sample(prior, n, s), prior, seed=s)["prior_coverage"] for s in range(10, 15)]
    # Codes on nine petals only: petal 0 is a hole.
    nine = torch.arange(n) % 9 + 1
    holed = [prior_match(sample(prior, n, s, nine), prior, seed=s)["prior_coverage"] for s in range(10, 15)]
    assert np.mean(holed) < np.mean(perfect) - 0.06  # a tenth of the prior is uncovered
    assert max(holed) < min(perfect)


@pytest.mark.parametrize("name", ["gaussian", "mixture", "swissroll"])
def test_shrunken_codes_never_score_above_a_prior_sample(name):
    prior = make_prior(PriorConfig(name=name))
    n = 1000
    for s in range(3):
        good = prior_match(sample(prior, n, 20 + s), prior, seed=s)
        shrunk = prior_match(0.8 * sample(prior, n, 20 + s), prior, seed=s)
        assert shrunk["prior_coverage"] < good["prior_coverage"]
        assert shrunk["prior_mmd"] > good["prior_mmd"]


def test_floor_is_what_two_prior_samples_score_and_a_prior_sample_sits_on_it():
    prior = make_prior(PriorConfig(name="gaussian"))
    floor = prior_floor(prior, 1000)
    mmd_mean, mmd_sd = floor["prior_mmd"]
    # docs/report.md measures this floor at n = 1000 as 0.0012 +- 0.0002: far below 0.01.
    assert 0 < mmd_sd < mmd_mean < 0.01
    assert 0.9 < floor["prior_coverage"][0] < 1 and 0.9 < floor["prior_density"][0] < 1.1
    m = prior_match(sample(prior, 1000, 99), prior, seed=0)
    assert m["prior_mmd_floor"] == mmd_mean and m["prior_mmd_ratio"] == pytest.approx(m["prior_mmd"] / mmd_mean)
    assert m["prior_mmd_ratio"] < 3
    off = prior_match(2.0 * sample(prior, 1000, 99), prior, seed=0)  # codes at twice the prior's spread
    assert off["prior_mmd_ratio"] > 20 and off["prior_density"] < m["prior_density"] - 0.15


def test_component_shares_count_codes_per_petal():
    prior = make_prior(PriorConfig(name="mixture"))
    labels = torch.tensor([0] * 500 + [3] * 300 + [7] * 200)
    shares = component_shares(sample(prior, 1000, 1, labels), prior)
    assert shares[[0, 3, 7]] == pytest.approx([0.5, 0.3, 0.2], abs=0.02)
    assert shape_diagnostics(sample(prior, 1000, 2), prior)["component_share_max_dev"] < 0.05


def test_roll_distance_is_zero_on_the_roll_and_half_a_gap_between_turns():
    prior = make_prior(PriorConfig(name="swissroll"))
    assert np.median(roll_distance(sample(prior, 500, 3), prior)) < 1e-3
    # Halfway between the turns along the positive x axis: radii R/4 * (1, 2) lie on the roll there (phi = 2 pi, 4 pi).
    gap = prior.turn_gap
    between = np.array([[prior.config.roll_radius / 2 + gap / 2, 0.0]])
    assert roll_distance(between, prior)[0] == pytest.approx(0.5, abs=0.02)


def test_mode_mass_of_prior_samples_and_of_mode_centres():
    g = torch.Generator().manual_seed(0)
    gauss = make_prior(PriorConfig("gaussian", std=2.0))
    assert mode_mass(gauss.sample(50_000, generator=g).numpy(), gauss) == pytest.approx(1 - math.exp(-0.5), abs=0.01)
    mixture = make_prior(PriorConfig("mixture"))
    assert mode_mass(mixture.means.numpy(), mixture) == 1.0
    assert mode_mass(np.zeros((10, 2)), mixture) == 0.0  # the origin lies between the petals
    # Each petal holds 1 - e^-1/2 of its own mass within one std; the petals overlap only a little.
    assert 0.39 < mode_mass(mixture.sample(50_000, generator=g).numpy(), mixture) < 0.42
    assert mode_mass(np.zeros((3, 2)), make_prior(PriorConfig("swissroll"))) is None


@pytest.mark.parametrize("n_label_classes", [10, 0])
def test_own_part_is_the_share_of_codes_on_their_labels_petal_for_a_conditioned_aae(n_label_classes):
    # An encoder that puts each one-hot image of digit d exactly on petal d's centre: every code is on its own
    # label's petal, so own_part is the share of test labels that were not moved to the next digit (70 %).
    prior = make_prior(PriorConfig(name="mixture", dim=2))
    model = build_model(ModelConfig(kind="aae", input_dim=10, hidden=(8,), n_label_classes=n_label_classes))
    model.encoder = torch.nn.Linear(10, 2, bias=False)
    model.encoder.weight.data = prior.means.T.clone()
    y_train, y_test = torch.arange(200) % 10, torch.arange(100) % 10
    wrong = torch.arange(100) < 30
    x = torch.nn.functional.one_hot(torch.cat([y_train, y_test]), 10).float()
    data = Dataset("onehot", x[:200], y_train, x[200:], torch.where(wrong, (y_test + 1) % 10, y_test), (2, 5), 10)
    metrics = evaluate(model, prior, data)
    if n_label_classes:
        assert metrics["own_part"] == pytest.approx(0.7)
    else:  # not label-conditioned: no labels' parts to keep to
        assert "own_part" not in metrics

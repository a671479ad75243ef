"""Priors: per-component geometry, segment order along the roll, densities that integrate to one."""

import math

import numpy as np
import pytest
import torch

from aae_core.config import AAEError, PriorConfig
from aae_core.priors import MixturePrior, SwissRollPrior, make_prior


def GEN(seed=0):
    return torch.Generator().manual_seed(seed)


def grid_integral(prior, half_width=35.0, n=701):  # the default priors reach ~30 from the origin
    g = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    z = torch.stack([xx.ravel(), yy.ravel()], 1)
    cell = (2 * half_width / (n - 1)) ** 2
    return float(prior.log_prob(z).exp().sum() * cell)


@pytest.mark.parametrize("name", ["gaussian", "mixture", "swissroll"])
def test_log_prob_integrates_to_one(name):
    assert grid_integral(make_prior(PriorConfig(name=name))) == pytest.approx(1.0, abs=2e-3)


def test_gaussian_std_and_dims():
    z = make_prior(PriorConfig(name="gaussian", dim=5, std=5.0)).sample(20000, generator=GEN())
    assert z.shape == (20000, 5)
    assert z.mean(0).abs().max() < 0.15
    assert z.std(0).numpy() == pytest.approx(np.full(5, 5.0), rel=0.03)


def test_mixture_components_have_their_means_and_spreads():
    cfg = PriorConfig(name="mixture", n_parts=10, radius=1.4, radial_std=0.5, tangential_std=0.1)
    prior = make_prior(cfg)
    n = 4000
    for k in (0, 3, 7):
        z = prior.sample(n, labels=torch.full((n,), k), generator=GEN(k)).double()
        theta = 2 * math.pi * k / 10
        centre = 1.4 * torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)
        assert torch.allclose(z.mean(0), centre, atol=0.03)
        radial = torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)
        tangential = torch.tensor([-math.sin(theta), math.cos(theta)], dtype=torch.float64)
        assert float(((z - centre) @ radial).std()) == pytest.approx(0.5, rel=0.05)
        assert float(((z - centre) @ tangential).std()) == pytest.approx(0.1, rel=0.05)


def test_mixture_in_more_dims_keeps_layout_and_gaussian_rest():
    prior = make_prior(PriorConfig(name="mixture", dim=4, radius=1.4, radial_std=0.5, tangential_std=0.1, rest_std=1.0))
    z = prior.sample(20000, generator=GEN())
    assert z[:, 2:].std(0).numpy() == pytest.approx([1.0, 1.0], rel=0.03)
    assert z[:, :2].norm(dim=1).mean() == pytest.approx(1.45, abs=0.1)


def test_swiss_roll_segments_are_ordered_along_the_roll():
    prior = make_prior(PriorConfig(name="swissroll", roll_radius=3.0))
    radii = [
        float(prior.sample(2000, labels=torch.full((2000,), k), generator=GEN(k)).norm(dim=1).mean()) for k in range(10)
    ]
    assert radii == sorted(radii)
    assert radii[0] < 1.0 and radii[-1] > 2.8
    assert 0 < radii[0] and max(r for r in radii) <= 3.0


def test_swiss_roll_density_is_flagged_approximate():
    prior = make_prior(PriorConfig(name="swissroll"))
    assert prior.exact_density is False and "approximate" in prior.metadata()["density_note"]
    assert make_prior(PriorConfig(name="mixture")).metadata()["exact_density"] is True


def test_mixture_log_prob_matches_component_average():
    prior: MixturePrior = make_prior(PriorConfig(name="mixture"))
    z = prior.sample(50, generator=GEN())
    manual = torch.log(prior.component_log_prob(z).exp().mean(1))
    assert torch.allclose(prior.log_prob(z), manual, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": "swissroll", "dim": 3}, "latent_dim"),
        ({"name": "mixture", "n_parts": 0}, "n_parts"),
        ({"name": "gaussian", "std": 0.0}, "prior_std"),
        ({"name": "gaussian", "std": -1.0}, "prior_std"),
        ({"name": "gaussian", "dim": 0}, "latent_dim"),
        ({"name": "banana"}, "prior"),
    ],
)
def test_impossible_priors_are_refused_by_field(kwargs, field):
    with pytest.raises(AAEError, match=field):
        make_prior(PriorConfig(**kwargs))


def test_labels_out_of_range_or_on_gaussian_are_refused():
    with pytest.raises(AAEError, match="labels"):
        make_prior(PriorConfig(name="mixture")).sample(3, labels=torch.tensor([0, 1, 10]))
    with pytest.raises(AAEError, match="per-label"):
        make_prior(PriorConfig()).sample(2, labels=torch.tensor([0, 1]))


def test_sampling_is_repeatable_with_a_seed():
    prior = make_prior(PriorConfig(name="swissroll"))
    assert torch.equal(prior.sample(100, generator=GEN(5)), prior.sample(100, generator=GEN(5)))
    assert isinstance(prior, SwissRollPrior)

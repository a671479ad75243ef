"""Priors p(z): what the AAE's discriminator calls "real", and what the VAE's KL term measures against.

An AAE only needs `sample`; a VAE needs `log_prob`. That asymmetry is the paper's point, so each
prior says whether its density is exact (`exact_density`). The swiss roll has none (it has zero
thickness), so it offers a documented approximation instead.
"""

from __future__ import annotations

import math

import torch

from . import drawn_prior
from .config import AAEError, PriorConfig

LOG_2PI = math.log(2 * math.pi)


class Prior:
    """Base class: `sample(n, labels)` draws codes; labels pick each row's component or segment (Fig. 4)."""

    dim: int
    n_parts: int = 0  # how many label-conditioned parts the prior has (0: none)
    exact_density: bool = True
    density_note: str = "exact closed-form density"

    def __init__(self, config: PriorConfig):
        self.config = config  # checked by make_prior, the one way to build a prior
        self.dim = config.dim

    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n codes of shape (n, dim); with `labels` (n,), row i comes from part labels[i]."""
        if labels is not None:
            if self.n_parts == 0:
                raise AAEError(f"prior={self.config.name!r}: has no per-label parts, so it cannot sample by label")
            labels = torch.as_tensor(labels, dtype=torch.long)
            if labels.shape != (n,):
                raise AAEError(f"labels: shape {tuple(labels.shape)} does not match n={n}")
            if len(labels) and (labels.min() < 0 or labels.max() >= self.n_parts):
                raise AAEError(f"labels: values must lie in 0..{self.n_parts - 1} for this prior")
        return self._sample(n, labels, generator)

    def _sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for each row of z (exact, or the documented approximation when `exact_density` is False)."""
        raise NotImplementedError

    def metadata(self) -> dict:
        return {**self.config.params(), "exact_density": self.exact_density, "density_note": self.density_note}


class GaussianPrior(Prior):
    """N(0, std^2 I) in any dimension."""

    def _sample(self, n, labels, generator):
        return torch.randn(n, self.dim, generator=generator) * self.config.std

    def log_prob(self, z):
        s = self.config.std
        return -0.5 * (z / s).pow(2).sum(1) - self.dim * (math.log(s) + 0.5 * LOG_2PI)


class MixturePrior(Prior):
    """The paper's K 2-D "petals": component k is N(0, diag(radial^2, tangential^2)) rotated by
    2*pi*k/K and shifted radius*(cos, sin). Dims beyond the first two are N(0, rest_std^2)."""

    def __init__(self, config: PriorConfig):
        super().__init__(config)
        c = config
        self.n_parts = c.n_parts
        theta = 2 * math.pi * torch.arange(c.n_parts, dtype=torch.float32) / c.n_parts
        self.means = c.radius * torch.stack([theta.cos(), theta.sin()], 1)  # (K, 2)
        self.rot = torch.stack(
            [torch.stack([theta.cos(), -theta.sin()], 1), torch.stack([theta.sin(), theta.cos()], 1)], 1
        )  # (K, 2, 2): R_k
        self.scales = torch.tensor([c.radial_std, c.tangential_std])

    def _sample(self, n, labels, generator):
        if labels is None:
            labels = torch.randint(self.n_parts, (n,), generator=generator)
        ab = torch.randn(n, 2, generator=generator) * self.scales
        xy = torch.einsum("nij,nj->ni", self.rot[labels], ab) + self.means[labels]
        if self.dim == 2:
            return xy
        return torch.cat([xy, torch.randn(n, self.dim - 2, generator=generator) * self.config.rest_std], 1)

    def component_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N_k(z) for every row and component: shape (n, K)."""
        d = z[:, None, :2] - self.means.to(z)  # (n, K, 2)
        ab = torch.einsum("kji,nkj->nki", self.rot.to(z), d)  # rotate back: R_k^T d
        scales = self.scales.to(z)
        lp = -0.5 * (ab / scales).pow(2).sum(-1) - scales.log().sum() - LOG_2PI
        if self.dim > 2:
            s = self.config.rest_std
            lp = lp + (-0.5 * (z[:, 2:] / s).pow(2).sum(1) - (self.dim - 2) * (math.log(s) + 0.5 * LOG_2PI))[:, None]
        return lp

    def log_prob(self, z):
        return torch.logsumexp(self.component_log_prob(z), 1) - math.log(self.n_parts)


class SwissRollPrior(Prior):
    """A 2-D swiss roll with label segments: for label k, u = (U(0,1) + k) / K, r = R sqrt(u),
    phi = 4 pi sqrt(u), z = r (cos phi, sin phi), where R is `roll_radius`. Two turns, so the radius
    grows by R / 2 per turn: that gap between turns is the unit the roll's distance measure uses."""

    exact_density = False
    # The roll is a curve with zero area, so it has no density. The VAE gets the roll blurred by N(0, s^2 I) with
    # s = BLUR_GAPS x the gap between turns, as an equal-weight mixture of N_ANCHORS Gaussians at evenly spaced u.
    # A narrow blur (0.1 at R = 3, i.e. 0.07 gaps) gives log-density gradients of order 75 that pull each code to
    # the nearest ridge, and the VAE's codes collapsed onto the inner turn; at a quarter of the gap the ridges still
    # separate (they are 4 s apart) but the pull is gentle enough for the codes to spread along the whole roll.
    BLUR_GAPS = 0.25
    N_ANCHORS = 400

    def __init__(self, config: PriorConfig):
        super().__init__(config)
        self.n_parts = config.n_parts
        self.turn_gap = config.roll_radius / 2
        self.blur = self.BLUR_GAPS * self.turn_gap
        self.density_note = (
            f"approximate: the roll blurred by N(0, {self.blur:g}² I), a quarter of the gap between "
            f"its turns, as an equal-weight mixture of {self.N_ANCHORS} Gaussians along it (the roll "
            "itself has no density)"
        )
        self.anchors = self.roll((torch.arange(self.N_ANCHORS, dtype=torch.float32) + 0.5) / self.N_ANCHORS)

    def roll(self, u: torch.Tensor) -> torch.Tensor:
        """Points on the roll for positions u in [0, 1] (0: centre, 1: outer end)."""
        r = self.config.roll_radius * u.sqrt()
        phi = 4 * math.pi * u.sqrt()
        return torch.stack([r * phi.cos(), r * phi.sin()], 1)

    def _sample(self, n, labels, generator):
        if labels is None:
            labels = torch.randint(self.n_parts, (n,), generator=generator)
        u = (torch.rand(n, generator=generator) + labels) / self.n_parts
        return self.roll(u)

    def log_prob(self, z):
        s = self.blur
        sq = torch.cdist(z, self.anchors.to(z)).pow(2)
        lp = -0.5 * sq / s**2 - 2 * math.log(s) - LOG_2PI
        return torch.logsumexp(lp, 1) - math.log(self.N_ANCHORS)


class DrawnPrior(Prior):
    """A drawing (aae_core.drawn_prior): a stroke picked uniformly (by label, among the strokes tagged with it),
    a place on it uniformly by length, plus N(0, spread^2 I). 2-D only."""

    exact_density = False

    def __init__(self, config: PriorConfig):
        super().__init__(config)
        drawing = drawn_prior.decode(config.points)
        self.strokes = drawn_prior.Strokes(drawing)
        self.n_parts = drawn_prior.tag_parts(drawing)
        # Strokes sorted by tag, so a label's strokes are one run of `by_tag` from first[k], count[k] long.
        tags = torch.tensor([-1 if t is None else t for t in drawing.tags])
        self.by_tag = tags.argsort(stable=True)[(tags < 0).sum() :]
        self.count = torch.bincount(tags[tags >= 0], minlength=self.n_parts)[: self.n_parts]
        self.first = self.count.cumsum(0) - self.count
        # The VAE's density: a Gaussian KDE on samples, the best a sample-only prior allows. Scott's bandwidth
        # (n^(-1/6) x the samples' std, in 2-D) is wider than the drawing's spread, so it blurs thin strokes.
        kde = self._sample(drawn_prior.KDE_SAMPLES, None, torch.Generator().manual_seed(0))
        self.kde_points = kde
        self.bandwidth = drawn_prior.KDE_SAMPLES ** (-1 / 6) * float(kde.var(0).mean().sqrt())
        self.density_note = (
            f"approximate: a kernel density estimate on {drawn_prior.KDE_SAMPLES:,} samples of the drawing, "
            f"bandwidth {self.bandwidth:.2g} (Scott's rule) against the drawing's spread of {config.spread:g} "
            "(a drawing has no density of its own)"
        )

    def _sample(self, n, labels, generator):
        if labels is None:
            stroke = torch.randint(self.strokes.n_strokes, (n,), generator=generator)
        else:
            pick = (torch.rand(n, generator=generator) * self.count[labels]).long()
            stroke = self.by_tag[self.first[labels] + pick]
        where = stroke.double() + torch.rand(n, generator=generator, dtype=torch.float64)
        on = self.strokes.at(where).float()
        return on + torch.randn(n, 2, generator=generator) * self.config.spread

    def log_prob(self, z):
        h = self.bandwidth
        sq = torch.cdist(z, self.kde_points.to(z)).pow(2)
        return torch.logsumexp(-0.5 * sq / h**2, 1) - 2 * math.log(h) - LOG_2PI - math.log(len(self.kde_points))

    def distance(self, z: torch.Tensor) -> torch.Tensor:
        """Each code's distance to the drawing (0 on a stroke)."""
        return self.strokes.distance(z).float()


def make_prior(config: PriorConfig) -> Prior:
    """Build the prior a config names (validating it first)."""
    config.validate()
    kinds = {"gaussian": GaussianPrior, "mixture": MixturePrior, "swissroll": SwissRollPrior, "points": DrawnPrior}
    return kinds[config.name](config)

"""How well codes match the prior, and how useful they are: the numbers behind the pictures.

A scatter over the prior does not say how close the match is, so every picture comes with numbers; and a
number means little without its noise floor: every prior-match measure is also computed between two
independent samples of the prior of the same size (`prior_floor`), and the model's value is reported beside it
and as a multiple of it. All measures compare held-out codes with prior samples, so an AAE, a VAE and a plain
autoencoder under the same prior are comparable.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .config import AAEError, PriorConfig
from .data import Dataset
from .models import AutoEncoderBase
from .priors import GaussianPrior, MixturePrior, Prior, SwissRollPrior, make_prior

MAX_POINTS = 2000  # codes and prior samples compared; MMD and the k-NN radii are quadratic in this
NEAREST_K = 5  # Naeem et al. (2020) recommend k = 5 for coverage and density
FLOOR_DRAWS = 5  # independent prior-vs-prior draws behind each floor
N_DECODED = 2000  # decoded prior samples whose digits the pixel classifier counts
# Measures of how well codes match the prior, with the direction that is better. Each has a floor.
# The headline metrics and which way is better: the one table the CLI, the app and the report read it from.
METRIC_DIRECTIONS = {
    "reconstruction_mse": "lower",
    "knn_accuracy": "higher",
    "prior_mmd": "lower",
    "prior_swd": "lower",
    "prior_coverage": "higher",
    "prior_density": "closer to 1",
}
METRIC_KEYS = tuple(METRIC_DIRECTIONS)
# The ones that compare codes with the prior: each has a floor.
PRIOR_MEASURES = {k: v for k, v in METRIC_DIRECTIONS.items() if k.startswith("prior_")}


def mmd2(a: np.ndarray, b: np.ndarray, scales: np.ndarray) -> float:
    """Biased (V-statistic, so never negative) RBF MMD^2 between samples a and b, averaged over bandwidths."""
    ta, tb = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    dists = [torch.cdist(p, q).pow(2) for p, q in ((ta, ta), (tb, tb), (ta, tb))]
    total = 0.0
    for s in scales:
        # numpy's mean, not torch's: torch splits a reduction by its thread count, and the result's last digits
        # with it; a sweep trial (1 thread) and aae-eval (all cores) must report the same number.
        kaa, kbb, kab = (float(np.mean(torch.exp(-d / (2 * s * s)).numpy())) for d in dists)
        total += kaa + kbb - 2 * kab
    return total / len(scales)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_projections: int = 200, seed: int = 0) -> float:
    """Mean 1-Wasserstein distance between a and b along random unit directions (equal sample sizes)."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((a.shape[1], n_projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
    return float(np.abs(pa - pb).mean())


def coverage_density(real: np.ndarray, fake: np.ndarray, k: int = NEAREST_K) -> tuple[float, float]:
    """Coverage and density of Naeem et al. (2020). Each real point (a prior sample) gets a ball reaching its
    k-th nearest real neighbour. Coverage: the fraction of balls holding at least one fake point (a code), so a
    region of the prior that no code reaches lowers it. Density: how many balls each fake point falls in, over k
    (about 1 for a perfect match; above 1 where codes pile up on the prior's dense parts, below where they stray)."""
    r, f = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    if len(r) <= k or len(f) == 0:
        raise AAEError(f"coverage: needs more than k={k} prior samples and at least one code")
    radii = torch.cdist(r, r).kthvalue(k + 1, dim=1).values  # k + 1: each point is its own nearest neighbour
    inside = torch.cdist(r, f) < radii[:, None]  # (real, fake)
    return float(inside.any(1).double().mean()), float(inside.sum().item() / (k * len(f)))


def _prior_measures(codes: np.ndarray, samples: np.ndarray, scales: np.ndarray, seed: int) -> dict[str, float]:
    cov, dens = coverage_density(samples, codes)
    return {
        "prior_mmd": mmd2(codes, samples, scales),
        "prior_swd": sliced_wasserstein(codes, samples, seed=seed),
        "prior_coverage": cov,
        "prior_density": dens,
    }


def _bandwidths(prior: Prior, seed: int) -> np.ndarray:
    """RBF bandwidths: fractions and multiples of the prior's median pairwise distance, so they follow its scale."""
    ref = prior.sample(500, generator=torch.Generator().manual_seed(seed + 7919)).double()
    return float(torch.pdist(ref).median()) * np.array([0.125, 0.25, 0.5, 1.0, 2.0])


def _sample(prior: Prior, n: int, seed: int) -> np.ndarray:
    return prior.sample(n, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.float64)


@functools.lru_cache(maxsize=64)
def _floor_cached(config: PriorConfig, n: int, seed: int) -> tuple[tuple[str, float, float], ...]:
    prior = make_prior(config)
    scales = _bandwidths(prior, seed)
    draws = [
        _prior_measures(_sample(prior, n, 1000 + 2 * i + seed), _sample(prior, n, 1001 + 2 * i + seed), scales, seed)
        for i in range(FLOOR_DRAWS)
    ]
    return tuple(
        (key, float(np.mean([d[key] for d in draws])), float(np.std([d[key] for d in draws], ddof=1)))
        for key in PRIOR_MEASURES
    )


def prior_floor(prior: Prior, n: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Each prior-match measure between two independent prior samples of size n: (mean, sd) over FLOOR_DRAWS
    draws. What a perfect encoder would score at this sample size, so a model's value can be read against it."""
    return {key: (mean, sd) for key, mean, sd in _floor_cached(prior.config, min(n, MAX_POINTS), seed)}


def prior_match(codes: np.ndarray, prior: Prior, seed: int = 0) -> dict[str, float]:
    """Each prior-match measure between codes and as many prior samples, with its floor (`<key>_floor`,
    `<key>_floor_sd`) and, for MMD and SWD, the value as a multiple of the floor (`<key>_ratio`)."""
    rng = np.random.default_rng(seed)
    if len(codes) > MAX_POINTS:
        codes = codes[rng.choice(len(codes), MAX_POINTS, replace=False)]
    codes = codes.astype(np.float64)
    out = _prior_measures(codes, _sample(prior, len(codes), seed), _bandwidths(prior, seed), seed)
    for key, (mean, sd) in prior_floor(prior, len(codes), seed).items():
        out[f"{key}_floor"], out[f"{key}_floor_sd"] = mean, sd
        if PRIOR_MEASURES[key] == "lower":
            out[f"{key}_ratio"] = out[key] / mean
    return out


def part_of(codes: np.ndarray, prior: Prior) -> np.ndarray:
    """Which label part (mixture component, swiss-roll segment) each code lies closest to."""
    z = torch.as_tensor(codes, dtype=torch.float32)
    if isinstance(prior, MixturePrior):
        return prior.component_log_prob(z).argmax(1).numpy()
    if isinstance(prior, SwissRollPrior):
        nearest = torch.cdist(z, prior.anchors).argmin(1)
        return (nearest * prior.n_parts // SwissRollPrior.N_ANCHORS).numpy()
    raise AAEError(f"prior={prior.config.name!r}: has no label parts")


def component_shares(codes: np.ndarray, prior: MixturePrior) -> np.ndarray:
    """The share of codes whose most likely mixture component is k, for each k (1/K each for a perfect match)."""
    part = prior.component_log_prob(torch.as_tensor(codes, dtype=torch.float32)).argmax(1)
    return np.bincount(part.numpy(), minlength=prior.n_parts) / len(codes)


def roll_distance(codes: np.ndarray, prior: SwissRollPrior) -> np.ndarray:
    """Each code's distance to the swiss roll, in units of the gap between the roll's turns (its radius grows by
    that much per turn): 0 on the roll, 0.5 halfway to the next turn."""
    curve = prior.roll(torch.linspace(0, 1, 20_000))
    d = torch.cdist(torch.as_tensor(codes[:, :2], dtype=torch.float32), curve).min(1).values
    return d.numpy() / prior.turn_gap


def shape_diagnostics(codes: np.ndarray, prior: Prior) -> dict[str, float | list[float]]:
    """Prior-specific checks: each mixture component's share of the codes and the largest deviation from 1/K;
    the codes' median and 90th-percentile distance to the swiss roll, in units of the gap between its turns."""
    if isinstance(prior, MixturePrior):
        shares = component_shares(codes, prior)
        return {
            "component_shares": [round(float(s), 4) for s in shares],
            "component_share_max_dev": float(np.abs(shares - 1 / prior.n_parts).max()),
        }
    if isinstance(prior, SwissRollPrior):
        d = roll_distance(codes, prior)
        return {"roll_distance_median": float(np.median(d)), "roll_distance_p90": float(np.percentile(d, 90))}
    return {}


def mode_mass(codes: np.ndarray, prior: Prior) -> float | None:
    """Fraction of 2-D codes within one standard deviation (Mahalanobis distance < 1) of a mode centre:
    the origin of a Gaussian, or a mixture component's mean in its own rotated frame. None for the swiss roll,
    which has no modes. Compared with the prior's own value, it shows whether codes over-weight the modes."""
    z = torch.as_tensor(codes[:, :2], dtype=torch.float32)
    if isinstance(prior, GaussianPrior):
        dist2 = z.pow(2).sum(1) / prior.config.std**2
    elif isinstance(prior, MixturePrior):
        # component_log_prob in 2-D is -d^2/2 - log(scales).sum() - log(2 pi); undo the constants.
        lp = prior.component_log_prob(z)
        dist2 = (-2 * (lp + prior.scales.log().sum() + math.log(2 * math.pi))).min(1).values
    else:
        return None
    return float((dist2 < 1).float().mean())


def knn_accuracy(train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray, test_y: np.ndarray) -> float:
    """5-NN accuracy of test codes classified from train codes: how much class structure the codes keep."""
    from sklearn.neighbors import KNeighborsClassifier  # imported here: scikit-learn adds ~1 s to the app's first page

    return float(KNeighborsClassifier(n_neighbors=5).fit(train_codes, train_y).score(test_codes, test_y))


def pixel_classify(data: Dataset, images: np.ndarray) -> np.ndarray:
    """Labels for images (N, D) from a 5-NN classifier on the training split's pixels (0.9 accuracy on
    mnist5k's held-out images): the judge of which digit a decoded prior sample shows."""
    from sklearn.neighbors import KNeighborsClassifier

    if data.y_train is None:
        raise AAEError(f"{data.name}: has no labels to classify decoded images by")
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    return KNeighborsClassifier(n_neighbors=5).fit(x, y).predict(images.reshape(len(images), -1))


@torch.no_grad()
def decoded_class_shares(model: AutoEncoderBase, prior: Prior, data: Dataset, seed: int = 0) -> np.ndarray:
    """The share of N_DECODED decoded prior samples that the pixel classifier labels as each class: a class
    with no share is a digit the model never generates from its prior."""
    param = next(model.parameters())
    z = prior.sample(N_DECODED, generator=torch.Generator().manual_seed(seed + 3)).to(param)
    images = model.decode(z).cpu().numpy()
    return np.bincount(pixel_classify(data, images), minlength=data.n_classes) / N_DECODED


@torch.no_grad()
def encode_all(model: AutoEncoderBase, x: torch.Tensor, batch: int = 2000) -> np.ndarray:
    """The codes (a VAE's posterior means) of images x, in eval mode and in batches, as a numpy array."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.encode(x[i : i + batch].to(device)) for i in range(0, len(x), batch)]).cpu().numpy()


@torch.no_grad()
def evaluate(model: AutoEncoderBase, prior: Prior, data: Dataset, seed: int = 0) -> dict:
    """Every metric on the test split: reconstruction, class structure (None for unlabelled data), the
    prior-match measures with their floors, prior-specific diagnostics, for a label-conditioned AAE the share of
    codes in their own label's part, and which digits the prior's samples decode to."""
    model.eval()
    device = next(model.parameters()).device
    test_codes = encode_all(model, data.x_test)
    y_test = None if data.y_test is None else data.y_test.to(device)
    recon = torch.cat(
        [
            model.reconstruct(
                data.x_test[i : i + 2000].to(device), None if y_test is None else y_test[i : i + 2000]
            ).cpu()
            for i in range(0, len(data.x_test), 2000)
        ]
    )
    out: dict = {"reconstruction_mse": float((recon - data.x_test.cpu()).pow(2).mean())}
    labelled = data.y_train is not None
    out["knn_accuracy"] = None
    if data.y_train is not None and data.y_test is not None:
        out["knn_accuracy"] = knn_accuracy(
            encode_all(model, data.x_train), data.y_train.cpu().numpy(), test_codes, data.y_test.cpu().numpy()
        )
    if not np.isfinite(test_codes).all():
        return {**out, **dict.fromkeys(PRIOR_MEASURES, float("nan"))}
    out.update(prior_match(test_codes, prior, seed))
    out.update(shape_diagnostics(test_codes, prior))
    if model.config.n_label_classes and data.y_test is not None:  # Fig. 4: does each label keep to its own part?
        out["own_part"] = float((part_of(test_codes, prior) == data.y_test.cpu().numpy()).mean())
    if labelled and model.decodes_codes:  # a categorical model's decoder needs y too: see categorical_metrics
        shares = decoded_class_shares(model, prior, data, seed)
        out["decoded_class_shares"] = [round(float(s), 4) for s in shares]
        out["decoded_class_min_share"] = float(shares.min())
    return out


# ---- Parzen-window log-likelihood (the paper's Table 1 protocol) ------------------------------------------

PARZEN_SIGMAS = np.geomspace(0.02, 1.0, 50)  # window widths searched, in pixel units (intensities in [0, 1])


def _parzen(samples: np.ndarray, points: np.ndarray, sigmas: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """log p(x) under an equal-weight mixture of N(sample, sigma^2 I), for every sigma and point: (n_sigmas, n_points).
    Squared distances are computed once per chunk and shared by all sigmas, in float64 so that
    |x|^2 + |s|^2 - 2 x.s does not lose the small distances that dominate the sum."""
    s = torch.as_tensor(samples, dtype=torch.float64)
    s_sq = s.pow(2).sum(1)
    inv = torch.as_tensor(0.5 / np.asarray(sigmas, dtype=np.float64) ** 2)
    out = []
    for i in range(0, len(points), chunk):
        x = torch.as_tensor(points[i : i + chunk], dtype=torch.float64)
        sq = (x.pow(2).sum(1, keepdim=True) + s_sq - 2 * x @ s.T).clamp_min_(0)
        out.append(torch.stack([torch.logsumexp(-sq * c, 1) for c in inv]))
    d = s.shape[1]
    norm = math.log(len(s)) + 0.5 * d * np.log(2 * math.pi * np.asarray(sigmas, dtype=np.float64) ** 2)
    return torch.cat(out, 1).numpy() - norm[:, None]


def parzen_log_likelihood(samples: np.ndarray, test: np.ndarray, sigma: float) -> np.ndarray:
    """Log-likelihood of each test row under a Gaussian Parzen window of width sigma on the model's samples."""
    if not (math.isfinite(sigma) and sigma > 0):
        raise AAEError(f"sigma={sigma!r}: must be a finite number > 0")
    return _parzen(samples, test, np.array([sigma]))[0]


def select_parzen_sigma(samples: np.ndarray, validation: np.ndarray, sigmas: np.ndarray = PARZEN_SIGMAS) -> float:
    """The window width (from `sigmas`) with the highest mean validation log-likelihood: the paper's
    cross-validation."""
    return float(sigmas[int(np.argmax(_parzen(samples, validation, sigmas).mean(1)))])

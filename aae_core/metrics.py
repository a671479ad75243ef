"""How well codes match the prior, and how useful they are: the numbers behind the pictures.

Users ask for a number as well as a picture (REFERENCE.md section 3). All five metrics compare
held-out codes with samples from the prior, so an AAE and a VAE under the same prior are comparable.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import AAEError
from .data import Dataset
from .models import AutoEncoderBase
from .priors import Prior

METRIC_KEYS = ("reconstruction_mse", "knn_accuracy", "prior_mmd", "prior_swd", "prior_coverage")
MAX_POINTS = 2000   # codes and prior samples compared; MMD is quadratic in this


def mmd2(a: np.ndarray, b: np.ndarray, scales: np.ndarray) -> float:
    """Biased (V-statistic, so never negative) RBF MMD^2 between samples a and b, averaged over bandwidths."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    dists = [torch.cdist(p, q).pow(2) for p, q in ((a, a), (b, b), (a, b))]
    total = 0.0
    for s in scales:
        kaa, kbb, kab = (torch.exp(-d / (2 * s * s)).mean().item() for d in dists)
        total += kaa + kbb - 2 * kab
    return total / len(scales)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_projections: int = 200, seed: int = 0) -> float:
    """Mean 1-Wasserstein distance between a and b along random unit directions (equal sample sizes)."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((a.shape[1], n_projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
    return float(np.abs(pa - pb).mean())


def coverage(codes: np.ndarray, prior_samples: np.ndarray) -> float:
    """Fraction of prior samples with a code closer than the median nearest-neighbour distance among
    the prior samples themselves: low where the codes leave holes in the prior."""
    from sklearn.neighbors import NearestNeighbors   # imported here: scikit-learn adds ~1 s to the app's first page
    nn_prior = NearestNeighbors(n_neighbors=2).fit(prior_samples)
    radius = np.median(nn_prior.kneighbors(prior_samples)[0][:, 1])   # column 0 is the point itself
    nearest_code = NearestNeighbors(n_neighbors=1).fit(codes).kneighbors(prior_samples)[0][:, 0]
    return float((nearest_code < radius).mean())


def prior_match(codes: np.ndarray, prior: Prior, seed: int = 0) -> dict[str, float]:
    """MMD^2, sliced Wasserstein and coverage between codes and as many samples of the prior.
    Bandwidths are fractions and multiples of the prior's median pairwise distance, so they follow its scale."""
    rng = np.random.default_rng(seed)
    if len(codes) > MAX_POINTS:
        codes = codes[rng.choice(len(codes), MAX_POINTS, replace=False)]
    g = torch.Generator().manual_seed(seed)
    samples = prior.sample(len(codes), generator=g).numpy().astype(np.float64)
    codes = codes.astype(np.float64)
    median = float(np.median(torch.pdist(torch.as_tensor(samples[:500])).numpy()))
    scales = median * np.array([0.125, 0.25, 0.5, 1.0, 2.0])
    return {"prior_mmd": mmd2(codes, samples, scales),
            "prior_swd": sliced_wasserstein(codes, samples, seed=seed),
            "prior_coverage": coverage(codes, samples)}


def knn_accuracy(train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray, test_y: np.ndarray) -> float:
    """5-NN accuracy of test codes classified from train codes: how much class structure the codes keep."""
    from sklearn.neighbors import KNeighborsClassifier   # imported here: see coverage()
    return float(KNeighborsClassifier(n_neighbors=5).fit(train_codes, train_y).score(test_codes, test_y))


@torch.no_grad()
def evaluate(model: AutoEncoderBase, prior: Prior, data: Dataset, seed: int = 0) -> dict[str, float | None]:
    """All five metrics on the test split (knn_accuracy is None for unlabelled data), plus
    `prior_coverage_reference`: the coverage a second sample of the prior itself scores, the ideal to compare with."""
    model.eval()
    device = next(model.parameters()).device

    def codes_of(x: torch.Tensor) -> np.ndarray:
        return torch.cat([model.encode(x[i:i + 2000].to(device)) for i in range(0, len(x), 2000)]).cpu().numpy()

    test_codes = codes_of(data.x_test)
    recon = torch.cat([model.decode(model.encode(data.x_test[i:i + 2000].to(device))).cpu()
                       for i in range(0, len(data.x_test), 2000)])
    out: dict[str, float | None] = {"reconstruction_mse": float((recon - data.x_test.cpu()).pow(2).mean())}
    out["knn_accuracy"] = None if data.y_train is None else knn_accuracy(
        codes_of(data.x_train), data.y_train.cpu().numpy(), test_codes, data.y_test.cpu().numpy())
    if not np.isfinite(test_codes).all():
        return {**out, "prior_mmd": float("nan"), "prior_swd": float("nan"), "prior_coverage": 0.0}
    out.update(prior_match(test_codes, prior, seed))
    n = min(len(test_codes), MAX_POINTS)
    g = torch.Generator().manual_seed(seed + 1)
    out["prior_coverage_reference"] = coverage(prior.sample(n, generator=g).numpy(),
                                               prior.sample(n, generator=torch.Generator().manual_seed(seed)).numpy())
    return out


# ---- Parzen-window log-likelihood (the paper's Table 1 protocol) ------------------------------------------

PARZEN_SIGMAS = np.geomspace(0.02, 1.0, 50)   # window widths searched, in pixel units (intensities in [0, 1])


def _parzen(samples: np.ndarray, points: np.ndarray, sigmas: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """log p(x) under an equal-weight mixture of N(sample, sigma^2 I), for every sigma and point: (n_sigmas, n_points).
    Squared distances are computed once per chunk and shared by all sigmas, in float64 so that
    |x|^2 + |s|^2 - 2 x.s does not lose the small distances that dominate the sum."""
    s = torch.as_tensor(samples, dtype=torch.float64)
    s_sq = s.pow(2).sum(1)
    inv = torch.as_tensor(0.5 / np.asarray(sigmas, dtype=np.float64) ** 2)
    out = []
    for i in range(0, len(points), chunk):
        x = torch.as_tensor(points[i:i + chunk], dtype=torch.float64)
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
    """The window width (from `sigmas`) with the highest mean validation log-likelihood: the paper's cross-validation."""
    return float(sigmas[int(np.argmax(_parzen(samples, validation, sigmas).mean(1)))])

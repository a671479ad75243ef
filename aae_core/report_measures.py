"""The report's measures of one finished run: read its checkpoint, never train.

aae-report's runs are an aae-sweep grid (aae_core/grids/report.toml); each finished run leaves a checkpoint and
its `aae-eval --json` row. This module turns a run into what the report's tables and figures need: for a 2-D
model its metrics (with the weights rounded to float16 first, as the shipped demos are), codes and diagnostics;
for an 8-D likelihood model the paper's Parzen-window protocol on its held-out validation images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoints import load_checkpoint
from .config import AAEError
from .data import Dataset, load_dataset
from .latent import decode
from .metrics import (
    encode_all,
    evaluate,
    knn_accuracy,
    mode_mass,
    parzen_log_likelihood,
    select_parzen_sigma,
)
from .models import AutoEncoderBase
from .priors import make_prior

PARZEN_DIM, PARZEN_STD = 8, 5.0  # Appendix A's likelihood model: an 8-D Gaussian prior of std 5
# The 2-D models by (model, prior, label-conditioned). The first eight are the explorer's demos; the plain
# autoencoder is the baseline with no regularizer (its "prior" only scores its codes).
DEMO_RUNS = {
    "aae-gaussian": ("aae", "gaussian", False),
    "vae-gaussian": ("vae", "gaussian", False),
    "aae-mixture": ("aae", "mixture", False),
    "vae-mixture": ("vae", "mixture", False),
    "aae-swissroll": ("aae", "swissroll", False),
    "vae-swissroll": ("vae", "swissroll", False),
    "aae-mixture-labels": ("aae", "mixture", True),
    "aae-swissroll-labels": ("aae", "swissroll", True),
    "ae-gaussian": ("ae", "gaussian", False),
}
SHIPPED = tuple(name for name in DEMO_RUNS if not name.startswith("ae-"))
PARZEN_LABELS = {"mnist5k": "mnist5k", "fashion": "Fashion-MNIST"}  # any other dataset: a --mnist-dir folder


@dataclass(frozen=True)
class EvalBudget:
    """How much the Parzen protocol evaluates (samples, not seconds): the training budgets are the grid's."""

    parzen_samples: int  # decoded prior samples the Parzen window sits on (the paper: 10K)
    max_test: int | None  # test images scored (None: the whole test split)


FULL = EvalBudget(parzen_samples=10_000, max_test=None)
QUICK = EvalBudget(parzen_samples=1000, max_test=500)


def labels_of(data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The training and test labels: every dataset the report uses has them."""
    if data.y_train is None or data.y_test is None:
        raise AAEError(f"dataset {data.name!r}: the report needs class labels, and it has none")
    return data.y_train, data.y_test


def pca_knn(data: Dataset) -> float:
    """5-NN accuracy of the held-out images projected to 2-D by a PCA of the training images: the linear baseline."""
    from sklearn.decomposition import PCA

    y_train, y_test = labels_of(data)
    pca = PCA(n_components=2, random_state=0).fit(data.x_train.numpy())
    return knn_accuracy(
        pca.transform(data.x_train.numpy()), y_train.numpy(), pca.transform(data.x_test.numpy()), y_test.numpy()
    )


def round_to_half(model: AutoEncoderBase) -> None:
    """Round every weight to float16 and back, in place: the model then is exactly the shipped file, as loaded."""
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})


def is_parzen(settings: dict[str, Any]) -> bool:
    """Whether a run of the report's grid is a Table 1 likelihood model (else one of the 2-D models)."""
    return settings.get("latent_dim") == PARZEN_DIM


def demo_name(settings: dict[str, Any]) -> str:
    """The 2-D model's name in DEMO_RUNS (and of its shipped checkpoint)."""
    key = (settings.get("model", "aae"), settings.get("prior", "gaussian"), settings.get("label_conditioned", False))
    for name, spec in DEMO_RUNS.items():
        if spec == key:
            return name
    raise AAEError(f"report: no 2-D model is {key} (model, prior, label-conditioned)")


def measure(run_id: str, settings: dict[str, Any], runs_dir: Path, budget: EvalBudget, fig5_seed: int) -> dict:
    """The report's record of one finished run, from its checkpoint under runs_dir."""
    torch.set_num_threads(1)  # runs are measured side by side in worker processes
    ckpt = load_checkpoint(runs_dir / f"{run_id}.safetensors")
    cfg = ckpt.config
    data = load_dataset(settings["dataset"], seed=cfg.train.seed)
    train, validation = data.hold_out(cfg.train.holdout)
    common = {"id": run_id, "seed": cfg.train.seed, "config": cfg, "n_train": train.x_train.shape[0]}
    common |= {"seconds": ckpt.meta.get("train_seconds", math.nan), "steps": ckpt.meta.get("step")}
    if is_parzen(settings):
        fig5 = settings["dataset"] == "mnist5k" and cfg.model.kind == "aae" and cfg.train.seed == fig5_seed
        return common | parzen_record(ckpt.model, cfg, train, validation, budget, fig5)
    return common | demo_record(demo_name(settings), ckpt.model, cfg, train, ckpt.meta)


def demo_record(name: str, model: AutoEncoderBase, cfg: Any, data: Dataset, meta: dict) -> dict:
    """A 2-D model, rounded to float16 as shipped: its metrics, held-out codes, diagnostics and weights."""
    round_to_half(model)
    prior = make_prior(cfg.prior)
    seed = cfg.train.seed
    metrics = evaluate(model, prior, data, seed=seed)
    codes = encode_all(model, data.x_test)
    labels = labels_of(data)[1].numpy()
    ref = prior.sample(100_000, generator=torch.Generator().manual_seed(seed)).numpy()
    kind, prior_name, conditioned = DEMO_RUNS[name]
    extra = {
        "mode_mass": mode_mass(codes, prior),
        "prior_mode_mass": mode_mass(ref, prior),
        "code_std": float(codes.std(0).mean()),
    }
    return {
        "name": name,
        "kind": kind,
        "prior": prior_name,
        "conditioned": conditioned,
        "metrics": metrics,
        "extra": extra,
        "codes": codes,
        "labels": labels,
        "state": {k: v.cpu() for k, v in model.state_dict().items()},
        "history": meta.get("history"),
    }


def parzen_record(
    model: AutoEncoderBase, cfg: Any, train: Dataset, validation: torch.Tensor, budget: EvalBudget, fig5: bool
) -> dict:
    """Table 1's protocol for one 8-D model: decode samples of the prior, choose sigma on the held-out validation
    images, report the test log-likelihood and its standard error, and how well the model's codes match its prior
    (a Parzen score means little if they do not). With `fig5`, also Fig. 5's samples beside their nearest
    training images."""
    if not len(validation):
        raise AAEError(f"{cfg.dataset}: a likelihood run needs held-out validation images (--holdout)")
    seed = cfg.train.seed
    prior = make_prior(cfg.prior)
    test = train.x_test[: budget.max_test].numpy()
    z = prior.sample(budget.parzen_samples, generator=torch.Generator().manual_seed(seed)).numpy()
    samples = decode(model, z, (train.input_dim,))
    sigma = select_parzen_sigma(samples, validation.numpy())
    ll = parzen_log_likelihood(samples, test, sigma)
    metrics = evaluate(model, prior, train, seed=seed)
    codes = encode_all(model, train.x_test)
    row = {
        "dataset": PARZEN_LABELS.get(cfg.dataset, "MNIST (full)"),
        "model": cfg.model.kind.upper(),
        "hidden": "-".join(map(str, cfg.model.hidden)),
        "epochs": cfg.train.epochs,
        "n_val": len(validation),
        "n_test": len(test),
        "sigma": sigma,
        "mean": float(ll.mean()),
        "se": float(ll.std(ddof=1) / math.sqrt(len(ll))),
        "prior_mmd_ratio": metrics["prior_mmd_ratio"],
        "prior_coverage": metrics["prior_coverage"],
        "code_std_ratio": float(codes.std(0).mean() / cfg.prior.std),
    }
    if fig5:  # are the samples new digits, or copies of training images?
        picks = samples[:10]
        nearest = torch.cdist(torch.as_tensor(picks), train.x_train).argmin(1)
        row["fig5"] = np.stack([picks, train.x_train[nearest].numpy()]).reshape(2, 10, *train.image_shape)
    return row

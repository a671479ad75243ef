"""The numbers of the paper's categorical AAEs (sections 4-7), added to `aae-eval --json` by aae_core.runs.

supervised: `requested_label_accuracy` (images decoded from (prior z, label k) that the pixel classifier of
aae_core.metrics labels k) and `style_knn_accuracy` (5-NN label accuracy of z: towards 0.1 when z holds style
only). semisupervised: `classification_error` of q(y|x) on the held-out images. cluster and dimred: `cluster_error`
as the paper defines it (cluster i takes the label of the training image with the highest q(y = i | x)) and
`cluster_error_majority` (each cluster takes its training images' majority label), with `clusters_used`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import Dataset
from .errors import AAEError
from .metrics import knn_accuracy, pixel_classify
from .models import AutoEncoderBase, CategoricalAAE
from .priors import Prior

N_REQUESTED = 1000  # decoded (prior z, label) pairs the pixel classifier judges


def _batched(fn, x: torch.Tensor, device: torch.device) -> np.ndarray:
    return torch.cat([fn(x[i : i + 2000].to(device)).cpu() for i in range(0, len(x), 2000)]).numpy()


@torch.no_grad()
def probabilities(model: CategoricalAAE, x: torch.Tensor) -> np.ndarray:
    """q(y|x) for every row of x, in eval mode: (N, K)."""
    model.eval()
    return _batched(model.classify, x, next(model.parameters()).device)


@torch.no_grad()
def decode_grid(model: CategoricalAAE, z: np.ndarray) -> np.ndarray:
    """Every style code z (rows) decoded with every one-hot y (columns): (len(z), K, input_dim). The supervised
    AAE's style x digit grid (Fig. 7), and the clusters' samples (Fig. 9) transposed."""
    model.eval()
    k, param = model.config.n_categories, next(model.parameters())
    zz = torch.as_tensor(z, dtype=param.dtype, device=param.device).repeat_interleave(k, 0)
    y = F.one_hot(torch.arange(k, device=param.device).repeat(len(z)), k).to(param.dtype)
    return model.decode_pairs(y, zz).cpu().numpy().reshape(len(z), k, -1)


def cluster_labels(prob_train: np.ndarray, y_train: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's label (paper's rule: that of the training image with the highest q(y = i | x)) and its
    majority label among the training images assigned to it (the paper's rule where a cluster has none)."""
    paper = y_train[prob_train.argmax(0)]
    assigned = prob_train.argmax(1)
    majority = paper.copy()
    for i in range(prob_train.shape[1]):
        members = y_train[assigned == i]
        if len(members):
            majority[i] = np.bincount(members, minlength=n_classes).argmax()
    return paper, majority


def cluster_table(prob_train: np.ndarray, y_train: np.ndarray, n_classes: int) -> list[dict]:
    """Per cluster: its training images, majority label and purity (the majority's share), for the app's grid."""
    assigned = prob_train.argmax(1)
    rows = []
    for i in range(prob_train.shape[1]):
        counts = np.bincount(y_train[assigned == i], minlength=n_classes)
        n = int(counts.sum())
        purity = float(counts.max() / n) if n else 0.0
        rows.append({"cluster": i, "images": n, "label": int(counts.argmax()), "purity": purity})
    return rows


def confusion(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts: rows the true class, columns the predicted one."""
    return np.bincount(true * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@torch.no_grad()
def requested_label_accuracy(model: CategoricalAAE, prior: Prior, data: Dataset, seed: int = 0) -> float:
    """The share of images decoded from (a prior sample z, label k), k cycling through the classes, that the pixel
    classifier labels k: whether the label alone sets the digit."""
    k = model.config.n_categories
    z = prior.sample(N_REQUESTED // k, generator=torch.Generator().manual_seed(seed + 11)).numpy()
    images = decode_grid(model, z)  # (n, k, D): column j asked for label j
    asked = np.tile(np.arange(k), len(z))
    return float((pixel_classify(data, images.reshape(-1, images.shape[-1])) == asked).mean())


def categorical_metrics(model: AutoEncoderBase, prior: Prior, data: Dataset, seed: int = 0) -> dict:
    """The kind's own numbers (module docstring); {} for the AAE, VAE and plain autoencoder, or unlabelled data."""
    if not isinstance(model, CategoricalAAE) or data.y_train is None or data.y_test is None:
        return {}
    y_train, y_test = data.y_train.cpu().numpy(), data.y_test.cpu().numpy()
    kind = model.config.kind
    if kind == "supervised":
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():  # encode: the style code z, for the supervised AAE
            style = [_batched(model.encode, x, device) for x in (data.x_train, data.x_test)]
        return {
            "requested_label_accuracy": requested_label_accuracy(model, prior, data, seed),
            "style_knn_accuracy": knn_accuracy(style[0], y_train, style[1], y_test),
        }
    prob_test = probabilities(model, data.x_test)
    if kind == "semisupervised":
        if prob_test.shape[1] != data.n_classes:
            raise AAEError(f"{data.name}: has {data.n_classes} classes, the model {prob_test.shape[1]}")
        return {"classification_error": float((prob_test.argmax(1) != y_test).mean())}
    paper, majority = cluster_labels(probabilities(model, data.x_train), y_train, data.n_classes)
    cluster = prob_test.argmax(1)
    return {
        "cluster_error": float((paper[cluster] != y_test).mean()),
        "cluster_error_majority": float((majority[cluster] != y_test).mean()),
        "clusters_used": int(len(np.unique(cluster))),
    }


@torch.no_grad()
def style_grid(model: CategoricalAAE, x: torch.Tensor, image_shape: tuple[int, ...]) -> np.ndarray:
    """The supervised AAE's Fig. 7: one row per image of x (its style code), one column per label: (len(x), K, H, W)."""
    model.eval()
    style = model.split(x.to(next(model.parameters()).device))[1].cpu().numpy()
    return decode_grid(model, style).reshape(len(x), -1, *image_shape)


def cluster_grid(
    model: CategoricalAAE, prior: Prior, n: int, image_shape: tuple[int, ...], seed: int = 0
) -> np.ndarray:
    """Fig. 9: one row per cluster, n style samples from the prior decoded with that cluster's one-hot y."""
    z = prior.sample(n, generator=torch.Generator().manual_seed(seed + 13)).numpy()
    return decode_grid(model, z).transpose(1, 0, 2).reshape(model.config.n_categories, n, *image_shape)

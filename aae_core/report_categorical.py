"""The report's sections on the paper's categorical AAEs (sections 4-7), from the rows of the report grid's
categorical runs (`aae-report` writes them to report-categorical.md): tables of mean ± sd over seeds beside the
measured baselines and the paper's numbers, and one figure per section drawn from the first seed's checkpoint.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from .categorical_metrics import cluster_grid, cluster_table, confusion, probabilities, style_grid
from .checkpoints import load_checkpoint
from .data import load_dataset
from .files import write_atomic
from .latent import tile, to_png
from .models import CategoricalAAE
from .priors import make_prior
from .settings import default

# Measured on mnist5k's seed-0 split with the same class-balanced label counts (REFERENCE.md section 7).
SEMI_BASELINES = {100: (24.3, 26.7), 1000: (15.1, 10.1)}  # labels: (logistic regression, 1-NN on pixels), % error
KMEANS = {10: 47.5, 16: 33.8, 30: 26.1}  # clusters: % error of k-means on pixels
PAPER_CLUSTER = {16: 9.55, 30: 4.10}  # Table 3, full MNIST (unverified, REFERENCE.md section 9)
PCA_KNN = 0.415  # 5-NN accuracy of held-out mnist5k images projected to 2-D by PCA (REFERENCE.md section 7)
DATA_NOTE = (
    "mnist5k has 4,000 training and 1,000 held-out images; the paper trained on full MNIST's 60,000 (and "
    "tested on 10,000), so every unlabelled-data effect here works with 15x less data, at the explorer size "
    "(256-256) rather than the paper's 1000-1000."
)


def in_section(settings: dict) -> bool:
    """Whether a run of the report's grid is one of these sections': each of them names its cluster count (the
    plain AAE and VAE trained beside dimred too), and no other run of the grid does."""
    return "clusters" in settings


def _runs(rows: list[dict], **match) -> list[dict]:
    """The finished runs whose settings include `match`, by seed."""
    found = [r for r in rows if "error" not in r and all(r.get(k) == v for k, v in match.items())]
    return sorted(found, key=lambda r: r.get("seed", 0))


def _failed(rows: list[dict], **match) -> int:
    return sum(1 for r in rows if "error" in r and all(r.get(k) == v for k, v in match.items()))


def _pm(runs: list[dict], key: str, scale: float = 1.0, digits: int = 3) -> str:
    """mean ± sd (seeds: each value) of one metric, or '–' where no run has it."""
    values = [r[key] * scale for r in runs if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    if not values:
        return "–"
    sd = f" ± {np.std(values, ddof=1):.{digits}f}" if len(values) > 1 else ""
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{np.mean(values):.{digits}f}{sd} (n={len(values)}: {each})"


def _first(runs: list[dict]):
    """The first seed's checkpoint, and its dataset split."""
    ck = load_checkpoint(runs[0]["checkpoint"])
    return ck, load_dataset(ck.config.dataset, seed=ck.config.train.seed)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _verdict(runs: list[dict], key: str, limit: float, what: str) -> list[str]:
    """The issue's target for a metric (an error in %, at most `limit`): met, or missed by how much."""
    if not runs:
        return []
    mean = 100 * float(np.mean([r[key] for r in runs]))
    verdict = "met" if mean <= limit else f"missed by {mean - limit:.1f} points"
    return ["", f"Target: error ≤ {limit} % {what}: **{verdict}** ({mean:.2f} %)."]


def _none(title: str, what: str) -> str:
    return f"### {title}\n\nNo finished {what} run in this sweep."


def _supervised(rows: list[dict], out: Path) -> str:
    title = "Supervised AAE: style and content (paper section 4, Fig. 7)"
    runs = _runs(rows, model="supervised")
    if not runs:
        return _none(title, "supervised")
    ck, data = _first(runs)
    assert isinstance(ck.model, CategoricalAAE)
    grid = style_grid(ck.model, data.x_test[:10], data.image_shape)
    write_atomic(out / "categorical-supervised-style.png", to_png(tile(grid), scale=2))
    return "\n".join(
        [
            f"### {title}",
            "",
            "| measure | value (3 seeds) | reference |",
            "|---|---|---|",
            f"| requested-label accuracy | {_pm(runs, 'requested_label_accuracy')} | chance 0.100 |",
            f"| 5-NN accuracy of the style z | {_pm(runs, 'style_knn_accuracy')} | chance 0.100; a 2-D Gaussian "
            "AAE's codes 0.662 (docs/report.md) |",
            f"| reconstruction MSE | {_pm(runs, 'reconstruction_mse', digits=4)} | |",
            "",
            "*Requested-label accuracy*: 1,000 images decoded from (a prior sample z, label k), k cycling through the "
            "digits, and the share that a 5-NN classifier on the training pixels labels k. *5-NN of z*: how much of "
            "the digit the style code still holds; the label carries the content when it falls towards 0.1.",
            "",
            "![style x digit](categorical-supervised-style.png)",
            "",
            "Each row: the style code of one held-out image; each column: the label 0-9 given to the decoder "
            f"(first seed, {ck.path.name}).",
        ]
    )


def _semisupervised(rows: list[dict], out: Path) -> str:
    title = "Semi-supervised classification (paper section 5, Table 2)"
    counts = sorted({r["labels"] for r in _runs(rows, model="semisupervised")})
    if not counts:
        return _none(title, "semisupervised")
    lines = [
        f"### {title}",
        "",
        "| labels | held-out error, % (3 seeds) | logistic regression on the labelled images | 1-NN on pixels | paper "
        "(full MNIST) |",
        "|---|---|---|---|---|",
    ]
    for n in counts:
        runs = _runs(rows, model="semisupervised", labels=n)
        lr, nn = SEMI_BASELINES.get(n, (None, None))
        ref = f"{lr} %" if lr is not None else "–", f"{nn} %" if nn is not None else "–"
        paper = {100: "1.90 ± 0.10 %", 1000: "1.60 ± 0.08 %"}.get(n, "–")  # Table 2
        lines.append(f"| {n} | {_pm(runs, 'classification_error', 100, 2)} | {ref[0]} | {ref[1]} | {paper} |")
    target = _runs(rows, model="semisupervised", labels=100)
    lines += _verdict(target, "classification_error", 10, "with 100 labels, mean over 3 label draws")
    runs = target or _runs(rows, model="semisupervised", labels=counts[0])
    ck, data = _first(runs)
    assert isinstance(ck.model, CategoricalAAE) and data.y_test is not None
    predicted = probabilities(ck.model, data.x_test).argmax(1)
    true = data.y_test.numpy()
    with torch.no_grad():
        codes = ck.model.encode(data.x_test).numpy()
    _confusion_figure(confusion(true, predicted, data.n_classes), codes, true, predicted, out)
    lines += [
        "",
        "![confusion and codes](categorical-semisupervised.png)",
        "",
        f"Left: held-out confusion matrix (rows true, columns predicted; first seed, {runs[0]['labels']} labels). "
        "Right: the style codes z, coloured by the predicted class; crosses are misclassified images. Labels are "
        "chosen class-balanced with each run's seed, so the 3 seeds are 3 label draws. The paper's 100 labels came "
        "with 59,900 unlabelled images; here 3,900.",
    ]
    return "\n".join(lines)


def _confusion_figure(matrix: np.ndarray, codes: np.ndarray, true: np.ndarray, pred: np.ndarray, out: Path) -> None:
    from matplotlib.figure import Figure  # the Agg canvas, with no global pyplot state

    fig = Figure(figsize=(10, 4.4))
    left, right = fig.subplots(1, 2)
    left.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        left.text(j, i, str(v), ha="center", va="center", fontsize=6)
    left.set_xlabel("predicted")
    left.set_ylabel("true")
    left.set_xticks(range(len(matrix)))
    left.set_yticks(range(len(matrix)))
    wrong = true != pred
    right.scatter(codes[~wrong, 0], codes[~wrong, 1], c=pred[~wrong], cmap="tab10", vmin=-0.5, vmax=9.5, s=5)
    right.scatter(codes[wrong, 0], codes[wrong, 1], c=pred[wrong], cmap="tab10", vmin=-0.5, vmax=9.5, s=18, marker="x")
    right.set_title("style codes z, coloured by the predicted class", fontsize=10)
    write_atomic(out / "categorical-semisupervised.png", _png(fig))


def _cluster(rows: list[dict], out: Path) -> str:
    title = "Unsupervised clustering (paper section 6, Table 3)"
    ks = sorted({r["clusters"] for r in _runs(rows, model="cluster")})
    if not ks:
        return _none(title, "cluster")
    lines = [
        f"### {title}",
        "",
        "| K | error, %: paper's rule (3 seeds) | error, %: majority vote | clusters used | k-means on pixels | "
        "paper (full MNIST) |",
        "|---|---|---|---|---|---|",
    ]
    for k in ks:
        runs = _runs(rows, model="cluster", clusters=k)
        kmeans = f"{KMEANS[k]} %" if k in KMEANS else "–"
        paper = f"{PAPER_CLUSTER[k]} %" if k in PAPER_CLUSTER else "–"
        lines.append(
            f"| {k} | {_pm(runs, 'cluster_error', 100, 2)} | {_pm(runs, 'cluster_error_majority', 100, 2)} | "
            f"{_pm(runs, 'clusters_used', digits=1)} | {kmeans} | {paper} |"
        )
    target = _runs(rows, model="cluster", clusters=16)
    lines += _verdict(target, "cluster_error", 20, "with K = 16 (paper's rule), mean of 3 seeds")
    runs = target or _runs(rows, model="cluster", clusters=ks[0])
    ck, data = _first(runs)
    assert isinstance(ck.model, CategoricalAAE) and data.y_train is not None
    table = cluster_table(probabilities(ck.model, data.x_train), data.y_train.numpy(), data.n_classes)
    _cluster_figure(cluster_grid(ck.model, make_prior(ck.config.prior), 10, data.image_shape), table, out)
    lines += [
        "",
        "![clusters](categorical-clusters.png)",
        "",
        "*Paper's rule*: each cluster takes the label of the one training image with the highest q(y = i | x); "
        "*majority vote*: the majority label of the training images it holds; held-out images are classified by "
        f"their most likely cluster. Figure: one row per cluster (first seed, K = {runs[0]['clusters']}), 10 style "
        "samples from the prior decoded with that cluster's one-hot y; each row names its majority label, its "
        "purity (the majority's share of its training images) and how many it holds. "
        f"{sum(r['images'] == 0 for r in table)} of its {len(table)} clusters hold no training image: the "
        "Cat(K) prior's even use of the clusters is not reached. Where the rows look alike and the columns "
        "differ, the style z carries the digit and y little of it.",
    ]
    return "\n".join(lines)


def _cluster_figure(grid: np.ndarray, table: list[dict], out: Path) -> None:
    from matplotlib.figure import Figure

    k, n, h, w = grid.shape
    fig = Figure(figsize=(6, 0.42 * k + 0.6))
    ax = fig.subplots()
    ax.imshow(tile(grid), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([i * (h + 1) + h / 2 for i in range(k)])
    ax.set_yticklabels([f"{r['label']}  {r['purity']:.0%}  ({r['images']})" for r in table], fontsize=7)
    ax.set_ylabel("majority label, purity, (training images)", fontsize=8)
    fig.tight_layout()
    write_atomic(out / "categorical-clusters.png", _png(fig))


def _dimred(rows: list[dict], out: Path) -> str:
    title = "Dimensionality reduction: 2-D codes from cluster heads plus style (paper section 7)"
    runs = _runs(rows, model="dimred")
    if not runs:
        return _none(title, "dimred")
    aae, vae = _runs(rows, model="aae", latent_dim=2), _runs(rows, model="vae", latent_dim=2)
    lines = [
        f"### {title}",
        "",
        "| 2-D codes of | 5-NN accuracy of held-out codes (3 seeds) |",
        "|---|---|",
        f"| cluster heads + style (K = {runs[0]['clusters']}) | {_pm(runs, 'knn_accuracy')} |",
        f"| Gaussian AAE (this sweep) | {_pm(aae, 'knn_accuracy')} |",
        f"| VAE (this sweep) | {_pm(vae, 'knn_accuracy')} |",
        f"| PCA | {PCA_KNN} (REFERENCE.md section 7) |",
        "",
        f"Its cluster error, % (paper's rule): {_pm(runs, 'cluster_error', 100, 2)}; clusters used: "
        f"{_pm(runs, 'clusters_used', digits=1)} of {runs[0]['clusters']}.",
    ]
    ck, data = _first(runs)
    from matplotlib.figure import Figure

    assert data.y_test is not None
    with torch.no_grad():
        codes = ck.model.encode(data.x_test).numpy()
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    dots = ax.scatter(codes[:, 0], codes[:, 1], c=data.y_test.numpy(), cmap="tab10", vmin=-0.5, vmax=9.5, s=5)
    assert isinstance(ck.model, CategoricalAAE)
    heads = ck.model.heads.weight.detach().numpy().T
    ax.scatter(heads[:, 0], heads[:, 1], c="black", marker="+", s=60)
    ax.set_aspect("equal")
    fig.colorbar(dots, ax=ax, ticks=range(10), label="digit")
    write_atomic(out / "categorical-dimred.png", _png(fig))
    lines += [
        "",
        "![2-D codes](categorical-dimred.png)",
        "",
        "Held-out 2-D codes (the cluster head of q(y|x) plus the style z) coloured by digit; black crosses: the "
        "learned cluster heads, kept apart by a penalty on their mean pairwise cosine similarity.",
    ]
    return "\n".join(lines)


def section(rows: list[dict], out: Path, command: str) -> str:
    """The markdown of the four sections (figures written into `out`) from the rows of the report grid's
    categorical runs, made by `command`."""
    out.mkdir(parents=True, exist_ok=True)
    parts = [_supervised(rows, out), _semisupervised(rows, out), _cluster(rows, out), _dimred(rows, out)]
    failed = _failed(rows)
    used = {name: " or ".join(f"{v:g}" for v in sorted({r.get(name, default(name)) for r in rows})) or "–"
            for name in ("epochs", "latent_dim", "prior_std")}  # fmt: skip
    notes = [
        "## The paper's other adversarial autoencoders (sections 4-7)",
        "",
        f"All runs: `{command}` (the grid's categorical groups, {len({r.get('seed') for r in rows})} seeds per cell; "
        "a seed sets the train/test split, the labelled images and the weights, so the baselines, measured on the "
        "seed-0 split, are approximate for other seeds); every number is what `python -m aae_core eval CHECKPOINT "
        "--json` prints for the run's checkpoint. Training: "
        f"{used['epochs']} epochs of the project's one recipe (Adam, batch 100, the adversarial phases at 2e-4, "
        f"the last 20 % of the steps at a tenth of every rate), a {used['latent_dim']}-D style code z with a Gaussian "
        f"prior of std {used['prior_std']}. " + DATA_NOTE,
        "",
        "Where the semi-supervised and clustering targets are missed, `bench/grids/categorical-ablation.toml` "
        "changes one setting at a time (the style's scale and size, the adversarial rates, the discriminators' "
        "input noise, 4x the epochs, the paper's widths) over 3 seeds; its results are in "
        "`bench/results/categorical-ablation/summary.csv`, summed up in the README.",
    ]
    if failed:
        notes.append(f"\n{failed} run(s) ended with an error and are left out of the tables.")
    return "\n\n".join(["\n".join(notes), *parts])

"""The paper's categorical AAEs (sections 4-7) train a few hundred steps on mnist5k and beat their baselines:
semi-supervised error below logistic regression on the same labels, clustering error below chance, 2-D codes
above PCA's, requested labels mostly drawn; and the numbers reach `aae-eval --json`."""

import numpy as np
import pytest
import torch

from aae_core.categorical_metrics import (
    categorical_metrics,
    cluster_labels,
    cluster_table,
    confusion,
    decode_grid,
)
from aae_core.categorical_training import choose_labels, head_penalty
from aae_core.config import build_run_config
from aae_core.metrics import knn_accuracy
from aae_core.runs import evaluate_checkpoint
from aae_core.training import Trainer

STEPS = 400  # 10 epochs of mnist5k's 4,000 training images
SEMI_STEPS = 800  # the semi-supervised model needs 20 epochs to pull clearly ahead of its baseline


def trained(data, steps: int = STEPS, **settings) -> Trainer:
    trainer = Trainer(build_run_config(**settings), data)
    for _ in range(steps):
        trainer.step()
    trainer.publish(force_codes=True)
    return trainer


@pytest.fixture(scope="module")
def semisupervised(mnist5k):
    return trained(mnist5k, SEMI_STEPS, model="semisupervised", labels=100)


def test_semisupervised_beats_logistic_regression_on_its_own_labels(mnist5k, semisupervised):
    from sklearn.linear_model import LogisticRegression

    chosen = choose_labels(mnist5k.y_train.numpy(), 100, 10, seed=0)
    lr = LogisticRegression(max_iter=2000).fit(mnist5k.x_train.numpy()[chosen], mnist5k.y_train.numpy()[chosen])
    baseline = 1 - lr.score(mnist5k.x_test.numpy(), mnist5k.y_test.numpy())
    error = categorical_metrics(semisupervised.model, semisupervised.prior, mnist5k)["classification_error"]
    assert 0.2 < baseline < 0.3  # REFERENCE.md section 7: 24.3 %
    # Measured: 0.231 against 0.242 after 800 steps (one thread); the 3-seed sweep at 50 epochs is no better on
    # average (docs/report-categorical.md), so this checks only that it is below, not by how much.
    assert error < baseline


def test_semisupervised_publishes_its_predictions_and_a_live_error_curve(mnist5k, semisupervised):
    snap = semisupervised.snapshot()
    assert snap.predicted is not None and snap.predicted.shape == (1000,)
    steps = [s for s, _ in snap.error_curve]
    assert steps == sorted(steps) and steps[-1] == SEMI_STEPS and len(steps) >= 2
    live = snap.error_curve[-1][1]
    assert live == pytest.approx(float((snap.predicted != mnist5k.y_test[:1000].numpy()).mean()))
    assert live < snap.error_curve[0][1]  # it learned while training: the first point is the untrained model's


def test_clustering_error_below_chance(mnist5k):
    trainer = trained(mnist5k, model="cluster", clusters=16)
    m = categorical_metrics(trainer.model, trainer.prior, mnist5k)
    # Chance: 0.9. Measured here: 0.74 after 10 epochs (k-means on pixels: 0.338, REFERENCE.md section 7).
    assert m["cluster_error"] < 0.8 and m["cluster_error_majority"] < 0.8
    assert m["clusters_used"] >= 5  # the images spread over several clusters, not one


def test_supervised_draws_the_requested_label_and_keeps_style_in_z(mnist5k):
    trainer = trained(mnist5k, model="supervised")
    m = categorical_metrics(trainer.model, trainer.prior, mnist5k)
    assert m["requested_label_accuracy"] > 0.4  # chance: 0.1; measured 0.507 after 400 steps, 0.745 after 50 epochs
    assert m["style_knn_accuracy"] < 0.5  # z alone says little of the digit (a plain 2-D AAE's codes: ~0.66)
    grid = decode_grid(trainer.model, np.zeros((3, 2), dtype=np.float32))
    assert grid.shape == (3, 10, 784) and not np.allclose(grid[:, 0], grid[:, 1])


def test_dimred_codes_are_2d_and_heads_stay_apart(mnist5k):
    trainer = trained(mnist5k, model="dimred", clusters=10)
    heads = trainer.model.heads.weight.detach()
    untrained = Trainer(build_run_config(model="dimred", clusters=10), mnist5k).model.heads.weight.detach()
    assert head_penalty(heads) < head_penalty(untrained)
    codes = trainer.snapshot().codes
    assert codes.shape == (1000, 2)
    train_codes = trainer.encode(mnist5k.x_train)
    accuracy = knn_accuracy(train_codes, mnist5k.y_train.numpy(), codes, mnist5k.y_test.numpy())
    assert accuracy > 0.415 + 0.05  # PCA to 2-D: 0.415 (REFERENCE.md section 7)


def test_the_numbers_reach_aae_eval(tmp_path, mnist5k, semisupervised):
    from aae_core.checkpoints import save_checkpoint

    path = save_checkpoint(tmp_path / "s", semisupervised.model, semisupervised.config, step=SEMI_STEPS)
    out = evaluate_checkpoint(path, device="cpu")
    assert out["model"] == "semisupervised" and out["classification_error"] < 0.3
    assert (
        out["classification_error"]
        == categorical_metrics(semisupervised.model, semisupervised.prior, mnist5k)["classification_error"]
    )
    assert "decoded_class_shares" not in out  # its decoder needs y: the per-class shares do not apply


def test_cluster_labels_follow_the_papers_rule_and_the_majority():
    # Four training images, two clusters: cluster 0 holds images 0-2 (labels 5, 5, 7), image 2 its most confident
    # member; cluster 1 holds image 3 (label 3).
    prob = np.array([[0.6, 0.4], [0.55, 0.45], [0.9, 0.1], [0.3, 0.7]])
    y = np.array([5, 5, 7, 3])
    paper, majority = cluster_labels(prob, y, 10)
    assert list(paper) == [7, 3] and list(majority) == [5, 3]
    table = cluster_table(prob, y, 10)
    assert table[0] == {"cluster": 0, "images": 3, "label": 5, "purity": pytest.approx(2 / 3)}
    assert confusion(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist() == [[1, 0], [1, 1]]


def test_head_penalty_is_mean_pairwise_cosine():
    apart = torch.tensor([[1.0, -1.0], [0.0, 0.0]])  # two opposite heads (columns)
    together = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    assert head_penalty(apart).item() == pytest.approx(-1.0) and head_penalty(together).item() == pytest.approx(1.0)

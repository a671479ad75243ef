"""The categorical models' settings and files: bad flags give one line naming the flag, checkpoints of every new
kind round-trip and are validated on load, and files of format 3 (before these models) still load."""

import numpy as np
import pytest
import torch

from aae_core.categorical_training import choose_labels
from aae_core.checkpoints import load_checkpoint, save_checkpoint
from aae_core.cli import train_main
from aae_core.config import AAEError, build_run_config
from aae_core.models import CategoricalAAE, build_model
from aae_core.settings import CATEGORICAL_KINDS
from aae_core.training import Trainer
from tests.helpers import rewrite_meta


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "semisupervised", "--labels", "5000"], "labels=5000: is larger than the training set"),
        (["--model", "semisupervised", "--labels", "7"], "labels=7: needs at least one label per class"),
        (["--model", "cluster", "--clusters", "1"], "clusters=1: must be an integer >= 2"),
        (["--model", "dimred", "--clusters", "0"], "clusters=0"),
        (["--model", "cluster", "--prior", "mixture"], "prior='mixture': --model cluster regularizes"),
        (["--model", "supervised", "--label-conditioned", "--prior", "mixture"], "label_conditioned"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(tmp_path, capsys, args, message):
    argv = ["--dataset", "mnist5k", "--epochs", "1", "--quiet", "--out", str(tmp_path / "x"), *args]
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and err.startswith("aae-train: error:")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind, named", [("semisupervised", "labels=100"), ("supervised", "model='supervised'")])
def test_label_models_refuse_a_dataset_without_labels(tmp_path, capsys, kind, named):
    unlabelled = tmp_path / "x.npz"
    np.savez(unlabelled, x=np.random.default_rng(0).integers(0, 255, (50, 8, 8), dtype=np.uint8))
    argv = ["--dataset", str(unlabelled), "--model", kind, "--epochs", "1", "--quiet", "--out", str(tmp_path / "m")]
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "needs a labelled dataset" in err and err.count("\n") == 0
    assert not (tmp_path / "m.safetensors").exists()


def test_clustering_needs_no_labels(tmp_path):
    unlabelled = tmp_path / "x.npz"
    np.savez(unlabelled, x=np.random.default_rng(0).integers(0, 255, (50, 8, 8), dtype=np.uint8))
    argv = ["--dataset", str(unlabelled), "--model", "cluster", "--clusters", "3", "--batch-size", "10"]
    assert train_main([*argv, "--epochs", "1", "--quiet", "--out", str(tmp_path / "c")]) == 0
    assert load_checkpoint(tmp_path / "c").config.model.n_categories == 3


def test_labels_are_class_balanced_seeded_and_distinct(mnist5k):
    y = mnist5k.y_train.numpy()
    a, b, other = (choose_labels(y, 103, 10, s) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, other)
    assert len(np.unique(a)) == 103
    assert sorted(np.bincount(y[a], minlength=10)) == [10] * 7 + [11] * 3


def test_each_kind_has_its_k_and_only_semisupervised_keeps_labels():
    configs = {kind: build_run_config(model=kind, clusters=30, labels=1000) for kind in CATEGORICAL_KINDS}
    assert {k: c.model.n_categories for k, c in configs.items()} == {
        "supervised": 10, "semisupervised": 10, "cluster": 30, "dimred": 30,
    }  # fmt: skip
    assert {k: c.train.n_labels for k, c in configs.items()} == {
        "supervised": None, "semisupervised": 1000, "cluster": None, "dimred": None,
    }  # fmt: skip
    assert build_run_config(model="aae", clusters=30).model.n_categories == 0
    assert configs["cluster"].settings()["clusters"] == 30 and configs["supervised"].settings()["clusters"] == 16
    for cfg in configs.values():
        assert build_run_config(**cfg.settings()) == cfg  # a loaded checkpoint's settings rebuild its config


@pytest.mark.parametrize("kind", CATEGORICAL_KINDS)
def test_checkpoints_of_every_kind_round_trip(tmp_path, mnist5k, kind):
    cfg = build_run_config(model=kind, clusters=5, labels=50, latent_dim=3)
    trainer = Trainer(cfg, mnist5k)
    for _ in range(3):
        trainer.step()
    path = save_checkpoint(tmp_path / kind, trainer.model, cfg, step=trainer.step_count)
    ck = load_checkpoint(path)
    assert isinstance(ck.model, CategoricalAAE) and ck.config == cfg and ck.meta["step"] == 3
    x, y = mnist5k.x_test[:20], mnist5k.y_test[:20]
    with torch.no_grad():
        assert torch.allclose(ck.model.encode(x), trainer.model.eval().encode(x))
        assert torch.allclose(ck.model.reconstruct(x, y), trainer.model.reconstruct(x, y))


def test_a_file_whose_config_disagrees_with_its_tensors_is_refused(tmp_path, mnist5k):
    cfg = build_run_config(model="cluster", clusters=16)
    path = save_checkpoint(tmp_path / "c", build_model(cfg.model), cfg, step=0)
    rewrite_meta(path, lambda m: m["config"]["model"].update(n_categories=30))
    with pytest.raises(AAEError, match="encoder.*shape|tensor .* has shape"):
        load_checkpoint(path)
    rewrite_meta(path, lambda m: m["config"]["model"].update(n_categories=1))
    with pytest.raises(AAEError, match="n_categories=1: must be an integer between 2"):
        load_checkpoint(path)
    rewrite_meta(path, lambda m: m["config"]["model"].update(n_categories=16, kind="aae"))
    with pytest.raises(AAEError, match="n_categories=16: must be 0 for --model aae"):
        load_checkpoint(path)


def test_a_format_3_file_loads_as_a_model_without_categories(tmp_path):
    cfg = build_run_config(model="aae")
    path = save_checkpoint(tmp_path / "old", build_model(cfg.model), cfg, step=0)

    def as_v3(meta):
        meta["format_version"] = 3
        del meta["config"]["model"]["n_categories"], meta["config"]["train"]["n_labels"]

    rewrite_meta(path, as_v3)
    ck = load_checkpoint(path)
    assert ck.config == cfg and ck.config.model.n_categories == 0 and ck.config.train.n_labels is None

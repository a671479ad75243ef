"""One validation layer for the CLI and the app: every bad hyperparameter is refused up front with a
message that names the field, through `build_run_config` and through `aae-train` (exit status 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aae_core import cli
from aae_core.config import AAEError, ModelConfig, PriorConfig, RunConfig, TrainConfig, build_run_config

ROOT = Path(__file__).resolve().parent.parent
DIGITS_TRAIN = 1438  # digits: 1797 images, 80 % of them for training

# (build_run_config keyword arguments, the aae-train flags meaning the same, the field the message must name)
BAD_FIELDS = [
    (dict(lr_recon=0.0), ["--lr-recon", "0"], "lr_recon"),
    (dict(lr_recon=-1e-3), ["--lr-recon=-1e-3"], "lr_recon"),
    (dict(lr_recon=float("nan")), ["--lr-recon", "nan"], "lr_recon"),
    (dict(lr_disc=0.0), ["--lr-disc", "0"], "lr_disc"),
    (dict(lr_disc=-2e-4), ["--lr-disc=-2e-4"], "lr_disc"),
    (dict(lr_gen=0.0), ["--lr-gen", "0"], "lr_gen"),
    (dict(lr_gen=float("inf")), ["--lr-gen", "inf"], "lr_gen"),
    (dict(latent_dim=0), ["--latent-dim", "0"], "latent_dim"),
    (dict(latent_dim=-3), ["--latent-dim", "-3"], "latent_dim"),
    (dict(latent_dim=100_000), ["--latent-dim", "100000"], "latent_dim"),
    (
        dict(prior="mixture", n_parts=0),
        ["--prior", "mixture", "--n-components", "0"],
        "n_parts",
    ),
    (
        dict(prior="mixture", n_parts=10**9),
        ["--prior", "mixture", "--n-components", "1000000000"],
        "n_parts",
    ),
    (dict(prior="swissroll", latent_dim=3), ["--prior", "swissroll", "--latent-dim", "3"], "latent_dim"),
    (dict(prior="swissroll", latent_dim=1), ["--prior", "swissroll", "--latent-dim", "1"], "latent_dim"),
    (dict(prior="mixture", latent_dim=1), ["--prior", "mixture", "--latent-dim", "1"], "latent_dim"),
    (dict(batch_size=DIGITS_TRAIN + 1, n_train=DIGITS_TRAIN), ["--batch-size", str(DIGITS_TRAIN + 1)], "batch_size"),
    (dict(batch_size=0), ["--batch-size", "0"], "batch_size"),
    (dict(prior_std=0.0), ["--prior-std", "0"], "prior_std"),
    (dict(disc_noise=-0.1), ["--disc-noise=-0.1"], "disc_noise"),
    (
        dict(prior="mixture", label_conditioned=True, label_fraction=1.5),
        ["--prior", "mixture", "--label-conditioned", "--label-fraction", "1.5"],
        "label_fraction",
    ),
    (dict(label_conditioned=True), ["--label-conditioned"], "label_conditioned"),
    (
        dict(model="vae", prior="mixture", label_conditioned=True),
        ["--model", "vae", "--prior", "mixture", "--label-conditioned"],
        "label_conditioned",
    ),
    (dict(seed=-1), ["--seed", "-1"], "seed"),
    (dict(seed=2**70), ["--seed", str(2**70)], "seed"),
]


@pytest.mark.parametrize("kwargs, flags, field", BAD_FIELDS, ids=[" ".join(f) for _, f, _ in BAD_FIELDS])
def test_build_run_config_names_the_field(kwargs, flags, field):
    with pytest.raises(AAEError, match=rf"^{field}="):
        build_run_config(input_dim=64, **kwargs)


@pytest.mark.parametrize("kwargs, flags, field", BAD_FIELDS, ids=[" ".join(f) for _, f, _ in BAD_FIELDS])
def test_cli_exits_2_naming_the_field(kwargs, flags, field, tmp_path, capsys):
    out = tmp_path / "never"
    status = cli.train_main(["--dataset", "digits", "--epochs", "0.01", "--quiet", "--out", str(out), *flags])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"aae-train: error: {field}=") and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was trained or written


def test_cli_entry_point_process(tmp_path):
    """The real command, in its own process: exit status 2, one line on stderr, no traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aae_core",
            "train",
            "--dataset",
            "digits",
            "--lr-disc",
            "0",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["aae-train: error: lr_disc=0.0: must be a finite number > 0"]


@pytest.mark.parametrize("widths", [(0,), (256, 0), (), (-5,), (2.5,), (10**9,), (64,) * 9])
@pytest.mark.parametrize("which", ["hidden", "disc_hidden"])
def test_hidden_widths(which, widths):
    """The CLI and app pick widths from SIZE_PRESETS; metadata of a checkpoint can hold any, so the layer checks."""
    with pytest.raises(AAEError, match=rf"^{which}="):
        ModelConfig(**{which: widths}).validate()


def test_model_too_large_for_memory_is_refused():
    # Each width is fine alone; together with a 256x256 input they would need ~0.5 G weights.
    with pytest.raises(AAEError, match=r"^hidden=.*weights, more than"):
        build_run_config(size="paper", input_dim=256 * 256)
    assert build_run_config(size="explorer", input_dim=256 * 256).model.input_dim == 256 * 256


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(stdd=2.0), "stdd"),
        (dict(dim=3), "dim"),
        (dict(learning_rate=1e-3), "learning_rate"),
        (dict(label_fraction_typo=0.1), "label_fraction_typo"),
    ],
)
def test_unknown_settings_are_refused_by_name(kwargs, name):
    with pytest.raises(AAEError, match=rf"^setting='{name}': is not a"):
        build_run_config(**kwargs)


@pytest.mark.parametrize(
    "cfg, field",
    [
        (TrainConfig(history_len=10**12), "history_len"),
        (TrainConfig(history_len=5), "history_len"),
        (TrainConfig(n_eval_codes=0), "n_eval_codes"),
        (TrainConfig(batch_size=True), "batch_size"),
        (PriorConfig(name="laplace"), "prior"),
        (PriorConfig(name="swissroll", n_parts=0), "n_parts"),
        (ModelConfig(kind="gan"), "model"),
        (ModelConfig(input_dim=0), "input_dim"),
    ],
)
def test_dataclass_validate(cfg, field):
    with pytest.raises(AAEError, match=rf"^{field}="):
        cfg.validate()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("train"),
        lambda d: d["model"].update(bogus=1),
        lambda d: d.update(model="aae"),  # a string where a section belongs: dict("aae") is a ValueError
        lambda d: d["model"].update(hidden=5),
        lambda d: d["prior"].update(dim="2"),
    ],
)
def test_from_dict_refuses_malformed_metadata(mutate):
    d = build_run_config().to_dict()
    mutate(d)
    with pytest.raises(AAEError):
        RunConfig.from_dict(d)


def test_valid_configs_pass():
    cfg = build_run_config(
        model="vae",
        prior="swissroll",
        input_dim=64,
        n_train=DIGITS_TRAIN,
        batch_size=DIGITS_TRAIN,
        n_parts=10,
        lr_recon=1e-3,
    )
    assert RunConfig.from_dict(cfg.to_dict()) == cfg

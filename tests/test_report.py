"""aae-report: the quick report writes every section with real numbers and valid figures; the Parzen
estimator and the report's own measures agree with cases whose answer is known."""

import math
import re
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from aae_core.checkpoints import read_metadata
from aae_core.cli import report_main
from aae_core.config import AAEError, PriorConfig
from aae_core.data import FASHION_DIR
from aae_core.metrics import PARZEN_SIGMAS, part_of, parzen_log_likelihood, select_parzen_sigma
from aae_core.priors import make_prior
from aae_core.report import grid_path, report_grid
from aae_core.report import parser as report_parser
from aae_core.report_categorical import in_section
from aae_core.report_measures import DEMO_RUNS, PARZEN_DIM, PARZEN_STD, SHIPPED, demo_name
from aae_core.runs import evaluate_checkpoint
from aae_core.settings import CONDITIONED
from aae_core.sweep_grid import load_grid

NUMBER = r"-?\d+(?:\.\d+)?"


# ---- Parzen window ------------------------------------------------------------------------------------


def test_parzen_with_one_sample_is_that_gaussians_log_density():
    rng = np.random.default_rng(0)
    sample, test = rng.random((1, 784)), rng.random((5, 784))
    sigma = 0.3
    expected = torch.distributions.Normal(torch.as_tensor(sample[0]), sigma).log_prob(torch.as_tensor(test)).sum(1)
    np.testing.assert_allclose(parzen_log_likelihood(sample, test, sigma), expected.numpy(), rtol=1e-9)


def test_parzen_of_gaussian_samples_approaches_the_blurred_density():
    # A Gaussian window of width s on samples of N(0, I) estimates N(0, (1 + s^2) I) exactly in expectation.
    rng = np.random.default_rng(1)
    samples, test = rng.standard_normal((40_000, 2)), rng.standard_normal((300, 2))
    test = test[np.linalg.norm(test, axis=1) < 2]  # the tails hold too few samples for a pointwise check
    sigma = 0.3
    exact = torch.distributions.Normal(0.0, math.sqrt(1 + sigma**2)).log_prob(torch.as_tensor(test)).sum(1).numpy()
    est = parzen_log_likelihood(samples, test, sigma)
    assert abs(est.mean() - exact.mean()) < 0.02
    assert np.abs(est - exact).max() < 0.1


def test_sigma_selection_picks_the_best_width_on_validation():
    rng = np.random.default_rng(2)
    samples, validation = rng.standard_normal((2000, 2)), rng.standard_normal((500, 2))
    sigma = select_parzen_sigma(samples, validation)
    scores = [parzen_log_likelihood(samples, validation, s).mean() for s in PARZEN_SIGMAS]
    assert sigma == PARZEN_SIGMAS[int(np.argmax(scores))]
    assert 0.1 < sigma < 0.6  # a density estimate's best width for 2K samples in 2-D, neither extreme of the grid


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_parzen_refuses_a_bad_width(sigma):
    with pytest.raises(AAEError, match="sigma"):
        parzen_log_likelihood(np.zeros((3, 2)), np.zeros((1, 2)), sigma)


# ---- the report's own measures ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mixture", "swissroll"])
def test_part_of_recovers_the_label_a_prior_sample_was_drawn_with(name):
    prior = make_prior(PriorConfig(name))
    labels = torch.arange(10).repeat(200)
    z = prior.sample(len(labels), labels=labels, generator=torch.Generator().manual_seed(0)).numpy()
    assert (part_of(z, prior) == labels.numpy()).mean() > 0.97


# ---- the quick report, end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    # The report's worker processes are spawned, and a spawned child first imports the parent's __main__. After an
    # AppTest in this process, Streamlit has left explorer/app.py there, and a child importing it dies; from the
    # command line __main__ is aae-report's own entry point. A bare module stands in for it here.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        argv = ["--quick", "--out", str(out), "--runs", str(out / "runs"), "--checkpoints", str(out / "ckpt")]
        rc = report_main(argv)
    finally:
        sys.modules["__main__"] = main
    return rc, out


def test_quick_report_writes_every_section(quick):
    rc, out = quick
    assert rc == 0
    md = (out / "report.md").read_text()
    for heading in (
        "## The recipe",
        "## Fig. 2",
        "## Fig. 4",
        "## Metrics of every 2-D model",
        "### Do the paper's claims hold here?",
        "## Table 1: Parzen-window log-likelihood",
        "## Fig. 5 analogue",
        "## How this report was made",
    ):
        assert heading in md
    pm = rf"{NUMBER} ± {NUMBER}"
    for name in DEMO_RUNS:  # one metrics row per model: mean ± sd over seeds in every cell (no mode mass on the roll)
        row = next(line for line in md.splitlines() if line.startswith(f"| `{name}` |"))
        assert len(re.findall(pm, row)) == (7 if "swissroll" in name else 8), row
    assert re.search(rf"\| PCA to 2-D \(pixels\) \| none \| none \| n/a \| {pm} \|", md)
    for prior in ("Gaussian", "mixture of 10 Gaussians", "swiss roll"):  # each prior's floors, mean ± sd
        assert len(re.findall(pm, next(line for line in md.splitlines() if line.startswith(f"| {prior} |")))) == 4
    assert len(re.findall(r"\*\*[^*\n]*: (holds|does NOT hold) here\.\*\*", md)) == 9
    parzen = [line for line in md.splitlines() if re.match(r"\| (mnist5k|Fashion-MNIST) \| (AAE|VAE) \|", line)]
    assert len(parzen) == (4 if FASHION_DIR.is_dir() else 2)
    assert all(len(re.findall(pm, line)) == 6 for line in parzen)  # score, se and the code diagnostics
    assert "over 2 seeds" in md and "Theis" in md and "no VAE row" in md
    assert "Full MNIST skipped" in md and "aae-report --out" in md and "| total |" in md
    assert "[report-categorical.md](report-categorical.md)" in md


def test_quick_report_writes_the_categorical_sections_from_its_own_runs(quick):
    _, out = quick
    md = (out / "report-categorical.md").read_text()
    for title in ("Supervised AAE", "Semi-supervised classification", "Unsupervised clustering", "Dimensionality"):
        assert f"### {title}" in md
    assert "All runs: `aae-report --out" in md and "2 seeds per cell" in md and "No finished" not in md
    pm = rf"{NUMBER} ± {NUMBER} \(n=2: {NUMBER}, {NUMBER}\)"
    for labels in (100, 1000):  # every cell's mean ± sd over the quick grid's 2 seeds
        assert re.search(rf"\| {labels} \| {pm} \| ", md), labels
    assert all((out / f"categorical-{png}.png").stat().st_size > 1000 for png in ("clusters", "dimred"))


def test_quick_report_figures_are_valid_images(quick):
    _, out = quick
    md = (out / "report.md").read_text()
    names = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert len(names) == 8
    for name in names:
        with Image.open(out / name) as im:
            im.verify()
        with Image.open(out / name) as im:
            assert im.format == "PNG" and min(im.size) >= 200
            assert np.asarray(im.convert("L")).std() > 10  # not a blank canvas


def test_saved_demo_checkpoints_reevaluate_to_their_stored_metrics(quick):
    _, out = quick
    paths = sorted((out / "ckpt").glob("*.safetensors"))
    assert {p.name[: -len(".safetensors")] for p in paths} == set(SHIPPED)
    for p in paths[:2]:  # the rest are made by the same code; test_shipped_checkpoints checks all shipped ones
        stored = read_metadata(p)["metrics"]
        again = evaluate_checkpoint(p, device="cpu")
        for k, v in stored.items():
            assert again[k] == pytest.approx(v, rel=1e-6, abs=1e-9), (p.name, k)


def test_bad_mnist_dir_is_one_line_and_writes_nothing(tmp_path, capsys):
    rc = report_main(
        ["--quick", "--out", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"), "--mnist-dir", str(tmp_path / "x")]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(tmp_path / "x") in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_report_from_a_finished_sweep_trains_nothing_and_writes_the_same_numbers(quick, tmp_path):
    _, out = quick

    def files() -> dict:
        return {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*")}

    before = files()
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")  # as in `quick`: spawned workers import __main__
    try:
        assert report_main(["--quick", "--out", str(tmp_path), "--from-sweep", str(out / "runs")]) == 0
    finally:
        sys.modules["__main__"] = main

    def table(md: str) -> list[str]:
        return [line for line in md.splitlines() if line.startswith("| `")]

    again, first = (tmp_path / "report.md").read_text(), (out / "report.md").read_text()
    assert table(again) == table(first) and len(table(first)) >= len(DEMO_RUNS)
    assert "--from-sweep" in again and files() == before  # no run trained again, no file written


def test_report_from_an_unfinished_sweep_names_what_is_missing(tmp_path, capsys):
    rc = report_main(["--quick", "--out", str(tmp_path / "r"), "--from-sweep", str(tmp_path / "sweep")])
    err = capsys.readouterr().err.strip()
    n = len(report_grid(report_parser().parse_args(["--quick"]))[0].runs)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"{n} of {n} runs are not finished" in err and "aae-sweep" in err and "report-quick.toml" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("quick", [False, True])
def test_the_report_grid_uses_the_recipe_it_describes(quick):
    runs = load_grid(grid_path(quick)).runs
    seeds = {r.settings["seed"] for r in runs}
    assert seeds == ({0, 1} if quick else {0, 1, 2})
    conditioned = [r.settings for r in runs if r.settings.get("label_conditioned")]
    assert {s["prior"] for s in conditioned} == set(CONDITIONED) and len(conditioned) == 2 * len(seeds)
    for s in conditioned:  # the label-conditioned recipe is aae_core.settings.CONDITIONED, nothing else
        assert s.items() >= CONDITIONED[s["prior"]].items() and s["label_fraction"] == 0.2
    parzen = [r.settings for r in runs if r.settings.get("latent_dim") == PARZEN_DIM]
    assert len(parzen) == 4 * len(seeds) and all(s["prior_std"] == PARZEN_STD and s["holdout"] > 0 for s in parzen)
    two_d = [r.settings for r in runs if r.settings.get("latent_dim") != PARZEN_DIM and not in_section(r.settings)]
    assert sorted({demo_name(s) for s in two_d}) == sorted(DEMO_RUNS) and len(two_d) == len(DEMO_RUNS) * len(seeds)
    unconditioned = [s for s in two_d if not s.get("label_conditioned")]
    recipe = {"lr_recon", "lr_disc", "lr_gen", "prior_std", "radius", "roll_radius", "batch_size", "size"}
    assert not any(recipe & s.keys() for s in unconditioned)  # the defaults are the recipe
    categorical = [r.settings for r in runs if in_section(r.settings)]  # sections 4-7: 8 cells of every seed
    assert len(categorical) == 8 * len(seeds) and not any(
        {"lr_disc", "lr_gen", "prior_std"} & s.keys() for s in categorical
    )

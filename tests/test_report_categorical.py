"""The categorical report sections from a tiny aae-sweep grid, and the report grid's categorical runs."""

from dataclasses import replace

from aae_core.report import grid_path
from aae_core.report_categorical import in_section, section
from aae_core.sweep import check_runs, train_and_evaluate
from aae_core.sweep_grid import load_grid

TINY = """
[fixed]
dataset = "mnist5k"
epochs = 0.25
[sweep]
seed = [0]
""" + "".join(
    f'[[group]]\n[group.fixed]\nmodel = "{m}"\nlabels = {n}\nclusters = {k}\n'
    for m, n, k in [("supervised", 100, 16), ("semisupervised", 100, 16), ("cluster", 100, 16), ("dimred", 100, 8),
                    ("aae", 100, 16), ("vae", 100, 16)]
)  # fmt: skip


def test_the_four_sections_from_a_tiny_grid(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    grid = load_grid(path)
    rows = [train_and_evaluate(run.settings, tmp_path / "runs" / run.id) for run in grid.runs]
    rows.append({"model": "cluster", "labels": 100, "clusters": 30, "seed": 0, "error": "training diverged"})
    md = section(rows, tmp_path / "out", "aae-report --quick")
    for title in ("Supervised AAE", "Semi-supervised classification", "Unsupervised clustering", "Dimensionality"):
        assert f"### {title}" in md
    for png in ("supervised-style", "semisupervised", "clusters", "dimred"):
        assert (tmp_path / "out" / f"categorical-{png}.png").stat().st_size > 1000
        assert f"(categorical-{png}.png)" in md
    error = next(r for r in rows if r["model"] == "semisupervised")["classification_error"]
    assert f"| 100 | {100 * error:.2f} (n=1: {100 * error:.2f}) | 24.3 % | 26.7 % | 1.90 ± 0.10 % |" in md
    assert "missed by" in md or "**met**" in md
    assert "1 run(s) ended with an error" in md and "All runs: `aae-report --quick` (" in md
    assert "| 30 |" not in md  # the failed K = 30 run has no row
    assert "0.415" in md and "k-means" in md


def test_a_section_without_its_runs_says_so(tmp_path):
    md = section([], tmp_path, "aae-report")
    assert md.count("No finished") == 4


def test_the_report_grid_has_eight_categorical_cells_of_three_seeds_and_every_run_is_valid(tmp_path):
    grid = load_grid(grid_path(quick=False))
    runs = [r for r in grid.runs if in_section(r.settings)]
    assert len(runs) == 24 and {r.settings["seed"] for r in runs} == {0, 1, 2}
    cells = {(r.settings["model"], r.settings["labels"], r.settings["clusters"]) for r in runs}
    assert ("semisupervised", 1000, 16) in cells and ("cluster", 100, 30) in cells and len(cells) == 8
    assert all(r.settings["epochs"] == 50 and r.settings["latent_dim"] == 2 for r in runs)
    check_runs(replace(grid, runs=runs), tmp_path)

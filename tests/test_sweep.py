"""aae-sweep: grids checked before anything starts, every run equal to aae-train + aae-eval, kill and resume."""

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aae_core import sweep, sweep_grid, sweep_results
from aae_core.cli import eval_main, sweep_main, train_main
from aae_core.config import AAEError
from aae_core.runs import train_parser
from tests.helpers import wait_until

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason='ray is not installed (pip install -e ".[cluster]")'
)

GRID = """
[fixed]
dataset = "digits"
epochs = 10
device = "cpu"
[sweep]
prior = ["gaussian", "mixture"]
lr_disc = [1e-4, 1e-3]
seed = [0, 1]
"""
N_RUNS = 8


def _sweep_command(grid: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "aae_core", "sweep", str(grid), "--out", str(out), "--num-cpus", "2", "--quiet"]


def _session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (the sweep, Ray's daemons and its workers, which start their own groups)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


def _kill_session(sid: int) -> None:
    """SIGKILL every process the sweep started, by pid, and wait until none is left."""
    for pid in _session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert wait_until(lambda: not _session_pids(sid), timeout=30)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A sweep killed (SIGKILL, Ray and all) once its first run has finished, then the same command run again."""
    folder = tmp_path_factory.mktemp("sweep")
    grid, out = folder / "grid.toml", folder / "out"
    grid.write_text(GRID)
    first = subprocess.Popen(
        _sweep_command(grid, out), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def rows() -> list[Path]:
        return sorted((out / "runs").glob("*.json"))

    assert wait_until(lambda: rows() or first.poll() is not None, timeout=300), "no run finished in 300 s"
    _kill_session(first.pid)
    first.wait()
    done = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in rows()}
    checkpoints = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.safetensors")}
    second = subprocess.run(_sweep_command(grid, out), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    return argparse.Namespace(out=out, done=done, checkpoints=checkpoints, second=second)


@needs_ray
def test_killed_sweep_resumes_running_only_the_missing_runs(resumed):
    k = len(resumed.done)
    assert 1 <= k < N_RUNS, f"{k} runs had finished when the sweep was killed"
    assert f"{N_RUNS} runs: {k} already done, {N_RUNS - k} to run" in resumed.second.stdout
    for name, (mtime, content) in resumed.done.items():  # finished runs were not redone
        row = resumed.out / "runs" / name
        assert row.stat().st_mtime_ns == mtime and row.read_bytes() == content
        checkpoint = row.with_suffix(".safetensors")
        assert checkpoint.stat().st_mtime_ns == resumed.checkpoints[checkpoint.name]
    experiments = sorted((resumed.out / "ray").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    trials = {p.name for p in experiments[-1].iterdir() if p.is_dir()}
    missing = {p.name[: -len(".json")] for p in (resumed.out / "runs").glob("*.json")} - {
        n[: -len(".json")] for n in resumed.done
    }
    assert trials == missing and len(missing) == N_RUNS - k  # Tune's second experiment ran exactly those
    assert json.loads((resumed.out / "results.json").read_text())["missing"] == 0


@needs_ray
def test_every_run_equals_aae_train_then_aae_eval(resumed, tmp_path, capsys):
    results = sweep_results.load_results(resumed.out)
    assert len(results.runs) == N_RUNS
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a trial trains with one torch thread
    try:
        for i, row in enumerate(results.runs):
            out = tmp_path / f"r{i}"
            assert (
                train_main(
                    [
                        "--dataset",
                        "digits",
                        "--epochs",
                        "10",
                        "--device",
                        "cpu",
                        "--prior",
                        row["prior"],
                        "--lr-disc",
                        str(row["lr_disc"]),
                        "--seed",
                        str(row["seed"]),
                        "--out",
                        str(out),
                        "--quiet",
                    ]
                )
                == 0
            )
            capsys.readouterr()
            assert eval_main([str(out), "--json"]) == 0
            expected = json.loads(capsys.readouterr().out)
            assert Path(row["checkpoint"]).is_file() and Path(row["checkpoint"]).parent == resumed.out / "runs"
            assert set(row) == set(expected) | {"dataset", "epochs", "device", "prior", "lr_disc", "seed"}
            for key, value in expected.items():
                if key != "checkpoint":
                    assert row[key] == value, (key, row)
    finally:
        torch.set_num_threads(threads)


@needs_ray
def test_results_tables_and_per_cell_summary(resumed):
    results = sweep_results.load_results(resumed.out)
    assert results.axes == ["prior", "lr_disc", "seed"] and results.missing == 0
    assert {"reconstruction_mse", "knn_accuracy", "prior_mmd", "prior_swd", "prior_coverage"} <= set(results.metrics)
    lines = (resumed.out / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:6] == ["dataset", "epochs", "device", "prior", "lr_disc", "seed"] and len(lines) == N_RUNS + 1
    assert set(results.metrics) <= set(header)
    assert len(results.cells) == 4
    cell = results.cell(prior="mixture", lr_disc=1e-3)
    assert cell["runs"] == 2 and cell["seeds"] == [0, 1] and cell["errors"] == 0
    values = [r["knn_accuracy"] for r in results.runs if r["prior"] == "mixture" and r["lr_disc"] == 1e-3]
    assert cell["knn_accuracy"] == {"mean": statistics.fmean(values), "sd": statistics.stdev(values), "n": 2}
    summary = (resumed.out / "summary.csv").read_text().splitlines()
    assert len(summary) == 5 and "knn_accuracy_mean" in summary[0] and "knn_accuracy_sd" in summary[0]
    with pytest.raises(AAEError, match="4 cells match"):
        results.cell(dataset="digits")


@needs_ray
@pytest.mark.parametrize(
    "grid, message",
    [
        ("[fixed]\nlr_dsic = 1e-4\n", "fixed.lr_dsic: not an aae-train setting"),
        ("[sweep]\nlr_disc = []\n", "sweep.lr_disc: empty axis"),
        ("[sweep]\nlr_disc = 1e-4\n", "sweep.lr_disc: must be a list"),
        ("[sweep]\nseed = [0, 0]\n", "sweep.seed: lists 0 twice"),
        ("[fixed]\nseed = 0\n[sweep]\nseed = [1]\n", "seed: set in both"),
        ('[fixed]\nout = "x"\n', "fixed.out: set by aae-sweep"),
        ("[grid]\nseed = 1\n", "unknown table 'grid'"),
        ("group = 3\n", "group must be a non-empty array of tables"),
        ("[sweep\n", "not a valid TOML file"),
        ('[sweep]\nlr_disc = ["fast"]\n', "argument --lr-disc: invalid float value: 'fast'"),
        ('[sweep]\nmodel = ["aae", "gan"]\n', "argument --model: invalid choice: 'gan'"),
        ("[fixed]\nepochs = 1\nseconds = 1\n", "not allowed with argument"),
        ('[fixed]\nlabel_conditioned = "yes"\n', "label_conditioned='yes': must be true or false"),
        ("[sweep]\nlr_recon = [1e-3, 0.0]\n", "lr_recon=0.0: must be a finite number > 0 (run 2 of 2: lr_recon=0.0)"),
        ('[fixed]\nprior = "swissroll"\n[sweep]\nlatent_dim = [2, 3]\n', "latent_dim=3"),
        ('[fixed]\ndataset = "/no/such.npz"\n', "/no/such.npz"),
        ('[fixed]\ndevice = "tpu"\n', "device='tpu'"),
        ("[[group]]\n[group.sweep]\nlr_gen = []\n", "group 1.sweep.lr_gen: empty axis"),
        ("[[group]]\n[group.fixed]\nlr_gne = 1e-4\n", "group 1.fixed.lr_gne: not an aae-train setting"),
        ("[sweep]\nseed = [0]\n[[group]]\n[group.sweep]\nseed = [1]\n", "group 1.sweep.seed: already swept"),
        ("[[group]]\n[[group]]\n", "two groups give the same run"),
        ('[[group]]\nmodel = "vae"\n', "group 1: a group has only name, fixed and sweep"),
    ],
)
def test_bad_grid_gives_one_line_naming_it_before_anything_starts(tmp_path, capsys, grid, message):
    (tmp_path / "grid.toml").write_text(grid)
    assert sweep_main([str(tmp_path / "grid.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and err.startswith("aae-sweep: error:"), err
    assert not (tmp_path / "out").exists()


@needs_ray
def test_missing_grid_file_and_bad_options(tmp_path, capsys):
    assert sweep_main([str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "g.toml").write_text("[fixed]\ndataset = 'digits'\n")
    grid = [str(tmp_path / "g.toml"), "--out"]
    assert sweep_main([*grid, str(tmp_path / "o"), "--address", "auto", "--num-cpus", "2"]) == 2
    assert sweep_main([*grid, str(tmp_path / "o"), "--gpus-per-run", "-1"]) == 2
    (tmp_path / "file").write_text("")
    assert sweep_main([*grid, str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot read the grid file" in err[0] and "--num-cpus is for a local Ray" in err[1]
    # An --out that is a file is refused while the runs are checked, before anything is made or trained.
    assert "--gpus-per-run=-1.0" in err[2] and "is a file, not a folder" in err[3] and len(err) == 4
    assert not (tmp_path / "o").exists()


def test_grid_settings_are_the_train_parsers_flags(monkeypatch, tmp_path):
    flags = {a.dest for a in train_parser()._actions if a.option_strings} - {"help", "out", "quiet"}
    assert set(sweep_grid.grid_settings(train_parser())) == flags

    def extended() -> argparse.ArgumentParser:  # a flag added to aae-train later is a grid setting at once
        p = train_parser()
        p.add_argument("--lr-warmup", type=float, default=0.0)
        return p

    monkeypatch.setattr(sweep_grid, "train_parser", extended)
    (tmp_path / "g.toml").write_text("[sweep]\nlr_warmup = [0.1, 0.2]\n")
    grid = sweep_grid.load_grid(tmp_path / "g.toml")
    assert [r.settings for r in grid.runs] == [{"lr_warmup": 0.1}, {"lr_warmup": 0.2}]
    assert sweep_grid.parse_run(grid.runs[1].settings, tmp_path / "x").lr_warmup == 0.2


def test_settings_become_the_flags_a_person_would_type(tmp_path):
    args = sweep_grid.parse_run(
        {"prior": "mixture", "label_conditioned": True, "lr_gen": 3e-4, "epochs": 2}, tmp_path / "x"
    )
    expected = train_parser().parse_args(
        [
            "--prior",
            "mixture",
            "--label-conditioned",
            "--lr-gen",
            "0.0003",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "x"),
            "--quiet",
        ]
    )
    assert args == expected
    assert sweep_grid.parse_run({"label_conditioned": False}, tmp_path / "x").label_conditioned is False
    with pytest.raises(AAEError, match="lr_gen=.*takes one value"):
        sweep_grid.parse_run({"lr_gen": [1e-3, 1e-4]}, tmp_path / "x")


def test_run_ids_are_stable_and_distinct():
    a = sweep_grid.run_id({"lr_disc": 1e-4, "seed": 0})
    assert a == sweep_grid.run_id({"seed": 0, "lr_disc": 0.0001}) and a != sweep_grid.run_id(
        {"lr_disc": 1e-4, "seed": 1}
    )


def test_without_ray_the_sweep_says_how_to_install_it(tmp_path):
    (tmp_path / "g.toml").write_text("[fixed]\ndataset = 'digits'\n")
    code = (
        "import sys; sys.modules['ray'] = None; from aae_core.cli import sweep_main; "
        f"sys.exit(sweep_main([{str(tmp_path / 'g.toml')!r}, '--out', {str(tmp_path / 'o')!r}]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == f"aae-sweep: error: {sweep.INSTALL_HINT}"


def test_the_app_and_the_other_commands_do_not_need_ray():
    code = (
        "import sys; sys.modules['ray'] = None; import aae_core.cli, aae_core.jobs, aae_core.report, "
        "aae_core.bench, explorer.session, explorer.charts; from aae_core.cli import train_main"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_committed_recipe_grid_checks(tmp_path):
    grid = sweep_grid.load_grid(Path(__file__).resolve().parent.parent / "bench" / "grids" / "recipe.toml")
    cells = {frozenset(r.settings.items()) - {("seed", r.settings["seed"])} for r in grid.runs}
    assert len(grid.runs) == 72 and len(cells) == 24  # 24 cells × seeds 0, 1, 2
    sweep.check_runs(grid, tmp_path)


def test_a_run_aae_train_would_end_with_an_error_is_finished_with_its_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the trial changes directory, thread count and CUDA's
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # view for its process: undo them after this test
    threads = torch.get_num_threads()
    (tmp_path / "g.toml").write_text(
        '[fixed]\ndataset = "digits"\nepochs = 1\ndevice = "cpu"\nlr_recon = 1e6\n[sweep]\nlr_disc = [1e5]\n'
    )
    grid = sweep_grid.load_grid(tmp_path / "g.toml")
    run = grid.runs[0]
    try:
        sweep._trial(
            {
                "gpus": 0,
                "cwd": str(tmp_path),
                "out": str(tmp_path / "out"),
                "run": {"id": run.id, "settings": run.settings},
            }
        )
    finally:
        torch.set_num_threads(threads)
    results = sweep_results.write_results(tmp_path / "out", grid)
    assert results.missing == 0 and "training diverged" in results.runs[0]["error"]
    assert not (tmp_path / "out" / "runs" / f"{run.id}.safetensors").exists()  # aae-train saves nothing either
    assert results.cells[0]["errors"] == 1 and results.metrics == []
    assert "n=1, 1 failed" in sweep_results.format_summary(results)


def test_groups_make_one_grid_of_different_experiments(tmp_path):
    (tmp_path / "grid.toml").write_text(
        "[fixed]\ndataset = 'digits'\nepochs = 1\n[sweep]\nseed = [0, 1]\n"
        "[[group]]\nname = 'demos'\n[group.sweep]\nmodel = ['aae', 'vae']\n"
        "[[group]]\n[group.fixed]\nmodel = 'aae'\nlatent_dim = 8\ndataset = 'mnist5k'\n"
    )
    grid = sweep_grid.load_grid(tmp_path / "grid.toml")
    got = [r.settings for r in grid.runs]
    assert got == [
        {"dataset": "digits", "epochs": 1, "seed": 0, "model": "aae"},
        {"dataset": "digits", "epochs": 1, "seed": 0, "model": "vae"},
        {"dataset": "digits", "epochs": 1, "seed": 1, "model": "aae"},
        {"dataset": "digits", "epochs": 1, "seed": 1, "model": "vae"},
        {"dataset": "mnist5k", "epochs": 1, "model": "aae", "latent_dim": 8, "seed": 0},
        {"dataset": "mnist5k", "epochs": 1, "model": "aae", "latent_dim": 8, "seed": 1},
    ]
    assert grid.axes == ["seed", "model", "latent_dim", "dataset"]
    assert grid.describe(grid.runs[4]) == "seed=0, model='aae', latent_dim=8, dataset='mnist5k'"
    rows = [{**r.settings, "knn_accuracy": 0.1 * i} for i, r in enumerate(grid.runs)]
    settings = list(dict.fromkeys(k for r in grid.runs for k in r.settings))
    cells = sweep_results.summarize(rows, settings, ["knn_accuracy"])
    assert [c["runs"] for c in cells] == [2, 2, 2] and "latent_dim" not in cells[0]
    assert cells[2]["latent_dim"] == 8 and cells[2]["knn_accuracy"]["mean"] == pytest.approx(0.45)

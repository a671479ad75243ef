"""The command line end to end: train, eval (--json), python -m, and exit status 2 with one line on bad input."""

import json
import subprocess
import sys

import pytest

from aae_core.cli import eval_main, main, train_main
from aae_core.metrics import METRIC_KEYS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "aae-mix"
    code = train_main(
        [
            "--model",
            "aae",
            "--prior",
            "mixture",
            "--dataset",
            "digits",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    return out


def test_train_writes_a_checkpoint_and_eval_prints_exactly_one_json_object(trained, capsys):
    capsys.readouterr()
    assert eval_main([str(trained), "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)  # the whole of stdout is one JSON object
    assert set(METRIC_KEYS) <= set(result)
    assert result["model"] == "aae" and result["prior"] == "mixture" and result["dataset"] == "digits"
    assert 0 <= result["prior_coverage"] <= 1 and result["knn_accuracy"] > 0.3 and result["prior_mmd"] >= 0


def test_eval_table_and_python_dash_m(trained):
    run = subprocess.run([sys.executable, "-m", "aae_core", "eval", str(trained)], capture_output=True, text=True)
    assert run.returncode == 0
    for key in METRIC_KEYS:
        assert key in run.stdout


def test_train_prints_summary_and_progress(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "aae_core",
            "train",
            "--model",
            "vae",
            "--prior",
            "swissroll",
            "--dataset",
            "digits",
            "--seconds",
            "1",
            "--out",
            str(tmp_path / "v"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "trained vae on digits with a swissroll prior" in run.stdout and "saved" in run.stdout
    assert "100%" in run.stderr  # the tqdm bar went to stderr
    assert (tmp_path / "v.safetensors").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prior", "swissroll", "--latent-dim", "3"], "latent_dim=3"),
        (["--lr-recon", "0"], "lr_recon=0.0"),
        (["--batch-size", "5000"], "batch_size=5000"),
        (["--dataset", "/no/such.npz"], "/no/such.npz"),
        (["--device", "tpu"], "device='tpu'"),
        (["--out", "../bad name"], "checkpoint name"),
    ],
)
def test_train_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    argv = ["--dataset", "digits", "--epochs", "1", "--quiet", "--out", str(tmp_path / "x"), *args]
    assert train_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and err.startswith("aae-train: error:")
    assert list(tmp_path.iterdir()) == []


def test_eval_of_missing_or_corrupt_checkpoint_exits_2(tmp_path, capsys):
    assert eval_main([str(tmp_path / "missing")]) == 2
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    assert eval_main([str(tmp_path / "bad"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("aae-eval: error:") == 2


def test_unknown_subcommand_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err

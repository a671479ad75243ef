"""The command line against bad run lengths and bad destinations (issue 15 items 5 and 7, issue 14 item 17): one line
naming the problem, exit status 2, before any training, and a good checkpoint is never replaced."""

from __future__ import annotations

import pytest

from aae_core.cli import bench_main, eval_main, report_main, train_main


def one_error_line(capsys, prog: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"{prog}: error:"), err
    assert "Traceback" not in err
    return err


@pytest.fixture
def good(tmp_path):
    """A trained checkpoint whose bytes must survive every refused run that names it."""
    out = tmp_path / "good"
    assert train_main(["--dataset", "digits", "--epochs", "1", "--quiet", "--device", "cpu", "--out", str(out)]) == 0
    path = tmp_path / "good.safetensors"
    return path, path.read_bytes()


@pytest.mark.parametrize(
    "budget",
    [
        ["--seconds", "-5"],
        ["--seconds", "0"],
        ["--seconds", "-1"],
        ["--seconds", "nan"],
        ["--epochs", "0"],
        ["--epochs", "-3"],
        ["--epochs", "nan"],
        ["--epochs", "inf"],
        ["--epochs", "1e300"],
    ],
)
def test_run_length_must_be_finite_positive_and_bounded(good, capsys, budget):
    path, before = good
    capsys.readouterr()
    assert train_main(["--dataset", "digits", "--quiet", "--out", str(path), *budget]) == 2
    err = one_error_line(capsys, "aae-train")
    assert budget[0] in err and "must be a number > 0" in err
    assert path.read_bytes() == before, "the good checkpoint is untouched"


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda t: t / "afile" / "x", "is a file, not a folder"),
        (lambda t: t / "afolder", "is a folder; give a file name"),
        (lambda t: "", "empty path"),
    ],
)
def test_train_checks_its_destination_before_training(tmp_path, capsys, where, message):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "afolder.safetensors").mkdir()
    (tmp_path / "afolder").mkdir()
    out = where(tmp_path)
    assert train_main(["--dataset", "digits", "--epochs", "1000", "--quiet", "--out", str(out)]) == 2
    err = one_error_line(capsys, "aae-train")
    assert message in err or "checkpoint name" in err
    assert "trained" not in capsys.readouterr().out


def test_bench_and_report_check_their_destinations_first(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert bench_main(["--json", "--out", str(tmp_path / "afile" / "bench.json")]) == 2
    assert "is a file, not a folder" in one_error_line(capsys, "aae-bench")
    assert report_main(["--quick", "--out", str(tmp_path / "afile" / "docs")]) == 2
    assert "is a file, not a folder" in one_error_line(capsys, "aae-report")
    assert report_main(["--quick", "--out", str(tmp_path / "docs"), "--checkpoints", str(tmp_path / "afile")]) == 2
    assert "--checkpoints" in one_error_line(capsys, "aae-report")
    assert not (tmp_path / "docs").exists()


def test_eval_of_a_file_that_is_no_checkpoint_says_so(tmp_path, capsys):
    """It said '….npz.safetensors: no such checkpoint' for an existing file."""
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    assert eval_main([str(tmp_path / "data.npz")]) == 2
    err = one_error_line(capsys, "aae-eval")
    assert "data.npz:" in err and "not a valid safetensors file" in err and ".npz.safetensors" not in err
    assert eval_main([str(tmp_path)]) == 2
    assert "a folder, not a checkpoint" in one_error_line(capsys, "aae-eval")

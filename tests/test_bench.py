"""`aae-bench`: one JSON object with sane figures, clear errors, and FLOP counts that prove a step does no extra
work."""

import json
import subprocess
import sys

import pytest
import torch

from aae_core.config import build_run_config
from aae_core.timing import peak_and_mfu, step_flops
from aae_core.training import Trainer


def test_quick_json_run_reports_every_figure():
    done = subprocess.run(
        [sys.executable, "-m", "aae_core", "bench", "--quick", "--json", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)  # exactly one JSON object: anything else on stdout fails to parse
    assert r["machine"]["device"] == "cpu" and r["machine"]["torch_threads"] >= 1
    assert 1 < r["sgemm_gflops"] < 1e6
    ours = {"aae_paper", "aae_explorer", "vae_paper", "vae_explorer"}
    assert set(r["train"]) == ours | {f"{name}_plain" for name in ours}, "on CPU, each with the plain loop's figures"
    assert all(r["train"][f"{name}_plain"]["gflop_per_step"] == r["train"][name]["gflop_per_step"] for name in ours)
    for t in r["train"].values():
        assert t["batch_size"] == 100 and t["samples_per_s"] > 0
        assert t["gflops"] == pytest.approx(t["gflop_per_step"] * t["samples_per_s"] / 100, rel=0.02)
        assert t["mfu"] == pytest.approx(t["gflops"] / r["sgemm_gflops"], abs=0.01) and t["mfu"] <= 1
    # The peak is read before every throughput figure, each reading with the load average beside it.
    assert len(r["sgemm"]["readings"]) == len(r["sgemm"]["load_avg_1min"]) == len(r["train"]) + 1
    assert r["sgemm_gflops"] >= max(r["sgemm"]["readings"]) - 0.05
    assert r["machine"]["load_avg_1min_at_start"] >= 0 and r["machine"]["load_avg_1min_at_end"] >= 0
    assert r["train"]["aae_paper"]["layers"] == "784-1000-1000-2"
    assert r["train"]["aae_paper"]["gflop_per_step"] == pytest.approx(4.505, abs=0.001)
    assert r["train"]["vae_explorer"]["gflop_per_step"] < r["train"]["aae_explorer"]["gflop_per_step"]
    (run,) = r["fit"]["runs"]
    assert run["steps"] > 0 and 0 <= run["knn_accuracy"] <= 1 and run["prior_mmd_ratio"] >= 0
    reached = run["prior_mmd_ratio"] <= 3 and run["knn_accuracy"] >= 0.6
    assert (r["seconds_to_fit"] is not None) == reached
    if reached:
        assert 0 < r["seconds_to_fit"] <= r["fit"]["budget_s"] + 1
    assert 0 < r["decode_ms"]["one"] < r["decode_ms"]["grid_20x20"]


@pytest.mark.parametrize(
    "argv, message",
    [(["--device", "cuda"], "cuda"), (["--threads", "0"], "threads"), (["--latent-dim", "0"], "latent_dim")],
)
def test_bad_flags_give_one_line_and_status_2(argv, message):
    if argv[1] == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run(
        [sys.executable, "-m", "aae_core", "bench", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def dense(sizes):
    """Multiply-adds per row of an MLP with these layer sizes, and of its first layer alone."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(a * b for a, b in pairs), pairs[0][0] * pairs[0][1]


def test_counted_flops_are_the_analytic_minimum_of_the_paper_loop(digits):
    """Forward, weight-gradient and input-gradient matmuls, each counted once: one encoder forward shared by
    both regularization updates, no discriminator weight gradients in the generator update, no gradient
    for the images or the detached codes. Any redundant or missing matmul changes the count."""
    b, h, d, n = 100, (256, 256), 2, digits.input_dim
    enc, enc0 = dense([n, *h, d])
    dec, _ = dense([d, *reversed(h), n])
    disc, disc0 = dense([d, *h, 1])
    recon = 3 * (enc + dec) - enc0
    regularize_d = enc + 2 * (3 * disc - disc0)  # 2b rows: prior samples and codes
    regularize_g = 2 * disc + 2 * enc - enc0  # discriminator forward + input grads, encoder backward
    t = Trainer(build_run_config(input_dim=n), digits, publish_every_s=float("inf"))
    assert step_flops(t) == 2 * b * (recon + regularize_d + regularize_g)

    vae_enc, vae_enc0 = dense([n, *h, 2 * d])
    v = Trainer(build_run_config(model="vae", input_dim=n), digits, publish_every_s=float("inf"))
    assert step_flops(v) == 2 * b * (3 * (vae_enc + dec) - vae_enc0)


def test_the_peak_is_the_best_reading_so_no_mfu_exceeds_one():
    """Issue 14, item 18: one reading under a transient load (110 against 195-199 quiet) printed MFU 1.19."""
    train = {"aae_paper": {"gflops": 131.0}, "vae_paper": {"gflops": 120.0}}
    assert peak_and_mfu(train, [110.0, 198.0, 195.5]) == 198.0
    assert train["aae_paper"]["mfu"] == pytest.approx(131 / 198, abs=1e-3)
    # Should every reading be disturbed, a step's own matmul rate bounds the peak from below: MFU at most 1.
    train = {"aae_paper": {"gflops": 131.0}, "vae_paper": {"gflops": 120.0}}
    assert peak_and_mfu(train, [110.0, 101.0]) == 131.0
    assert train["aae_paper"]["mfu"] == 1.0 and train["vae_paper"]["mfu"] == pytest.approx(120 / 131, abs=1e-3)


def test_architecture_flags_time_the_widths_they_name(mnist5k):
    """`--hidden 512,512 --disc-hidden 512,256 --latent-dim 10 --batch-size 64`: PyTorch-GAN's AAE, as one command."""
    from aae_core.bench import architectures, bench_config, parser, training_figures

    args = parser().parse_args(["--hidden", "512,512", "--disc-hidden", "512,256"])
    sizes = architectures(args)
    assert sizes == {"custom": ((512, 512), (512, 256))}
    config = bench_config("aae", sizes["custom"], 10, 64, mnist5k)
    row = training_figures("aae", "custom", config, mnist5k, torch.device("cpu"), window_s=0.05, windows=1)
    assert row["layers"] == "784-512-512-10" and row["disc_layers"] == "10-512-256-1" and row["batch_size"] == 64
    # The PyTorch-GAN comparison's figure (bench/pytorch_gan.py): 0.806 GFLOP per step at these widths.
    assert row["gflop_per_step"] == pytest.approx(0.806, abs=0.001)
    assert architectures(parser().parse_args([])) == {"paper": ((1000, 1000),) * 2, "explorer": ((256, 256),) * 2}
    assert architectures(parser().parse_args(["--hidden", "64"])) == {"custom": ((64,), (64,))}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hidden", "512,x"], "hidden='512,x'"),
        (["--disc-hidden", "0,8"], "disc_hidden=0"),
        (["--batch-size", "5000"], "batch_size=5000"),
    ],
)
def test_bad_architecture_flags_give_one_line_before_any_measuring(argv, message):
    done = subprocess.run(
        [sys.executable, "-m", "aae_core", "bench", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_the_roofline_records_every_product_and_update_of_a_step(digits):
    """bench.step_roofline replays what it records: its products must add up to the FLOPs torch counts for the
    same step, with the layouts autograd used, and it must see the AAE step's three Adam updates."""
    from bench.step_roofline import RecordStep, describe, product_flops

    t = Trainer(build_run_config(input_dim=digits.input_dim), digits, publish_every_s=float("inf"))
    t.step()
    recorder = RecordStep()
    with recorder:
        t.step()
    assert sum(product_flops(layout) * n for layout, n in recorder.seen.items()) == step_flops(t)
    assert [len(shapes) for shapes, _ in recorder.adams] == [12, 6, 6]  # encoder + decoder, discriminator, encoder
    c = t.config.train
    rates = [lr * t.lr_factor for lr in (c.lr_recon, c.lr_disc, c.lr_gen)]
    assert [r["lr"] for _, r in recorder.adams] == rates
    names = {describe(layout) for layout in recorder.seen}
    assert f"addmm 100x{digits.input_dim} @ {digits.input_dim}x256 (B transposed)" in names  # the first layer
    assert f"mm 256x100 @ 100x{digits.input_dim} (A transposed)" in names  # its weight gradient

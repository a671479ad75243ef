"""Divergence: a NaN or inf anywhere stops training with one clear message, the last good weights stay
finite and saveable, and no reader (live plots, timeline) is ever handed non-finite codes without an error."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import torch

from aae_core import cli
from aae_core.checkpoints import load_checkpoint, save_checkpoint
from aae_core.config import build_run_config
from aae_core.jobs import JobError
from aae_core.registry import JobRegistry
from aae_core.training import Trainer, TrainingDiverged

# Learning rates that reliably diverge on digits and mnist5k (measured over seeds 0-2 for both datasets):
# 1e6 on the reconstruction or adversarial updates gives a NaN/inf loss at step 2-3; 1e12 leaves every loss of
# the first step finite but overflows the codes it produces, which only the published codes reveal.
DIVERGING = [
    ("aae", dict(lr_recon=1e6)),
    ("aae", dict(lr_disc=1e6, lr_gen=1e6)),
    ("aae", dict(lr_gen=1e12)),
    ("vae", dict(lr_recon=1e6)),
    ("vae", dict(lr_recon=1e12)),
]
IDS = [f"{m}-{'-'.join(f'{k}={v:g}' for k, v in kw.items())}" for m, kw in DIVERGING]


def finite_weights(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in model.state_dict().values())


def snapshot_is_honest(snap) -> bool:
    """Codes and timeline frames a plot would draw are finite, unless the snapshot carries an error."""
    frames = [snap.codes] + [codes for _, codes in snap.timeline]
    return snap.error is not None or all(np.isfinite(f.astype(np.float32)).all() for f in frames if f is not None)


def train_until_diverged(trainer: Trainer, limit: int = 30) -> TrainingDiverged:
    for _ in range(limit):
        try:
            trainer.step()
        except TrainingDiverged as e:
            return e
        assert snapshot_is_honest(trainer.snapshot())
    pytest.fail(f"did not diverge within {limit} steps")


@pytest.mark.parametrize("publish_every_s", [0.0, math.inf])
@pytest.mark.parametrize("model, lrs", DIVERGING, ids=IDS)
def test_divergence_stops_with_a_message_and_keeps_saveable_weights(digits, tmp_path, model, lrs, publish_every_s):
    config = build_run_config(model=model, input_dim=digits.input_dim, **lrs)
    trainer = Trainer(config, digits, publish_every_s=publish_every_s)
    error = train_until_diverged(trainer)
    message = str(error)
    assert (
        message.startswith(f"training diverged at step {trainer.step_count}") and "Lower the learning rates" in message
    )
    assert "\n" not in message and trainer.error == message
    snap = trainer.snapshot()
    assert snap.error == message and np.isfinite(snap.codes).all() and snapshot_is_honest(snap)
    assert finite_weights(trainer.model)
    with pytest.raises(TrainingDiverged):  # stays stopped: no silent further training on restored weights
        trainer.step()
    path = save_checkpoint(tmp_path / "last-good", trainer.model, config, step=trainer.step_count)
    loaded = load_checkpoint(path).model
    assert finite_weights(loaded)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_run_raises_and_the_cli_writes_nothing(digits, tmp_path, capsys):
    config = build_run_config(input_dim=digits.input_dim, lr_recon=1e6)
    with pytest.raises(TrainingDiverged):
        Trainer(config, digits).run(epochs=1)
    status = cli.train_main(
        ["--dataset", "digits", "--lr-recon", "1e6", "--epochs", "1", "--quiet", "--out", str(tmp_path / "diverged")]
    )
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("aae-train: error: training diverged at step") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_huge_but_finite_codes_do_not_become_inf_in_the_timeline(digits):
    """The timeline stores float16 to bound memory: codes beyond its range (65504) must not turn into inf."""
    trainer = Trainer(build_run_config(input_dim=digits.input_dim), digits, publish_every_s=math.inf)
    with torch.no_grad():
        trainer.model.encoder[-1].weight.mul_(1e6)
    trainer.step("recon")
    snap = trainer.publish(force_codes=True)
    assert np.isfinite(snap.codes).all() and np.abs(snap.codes).max() > 65504
    assert snap.error is None and all(np.isfinite(c.astype(np.float32)).all() for _, c in snap.timeline)


def test_reader_thread_never_sees_unflagged_nan(digits):
    """A reader polling snapshots while a run diverges (as the live plots do) sees finite codes or an error."""
    config = build_run_config(input_dim=digits.input_dim, lr_gen=1e12)
    trainer = Trainer(config, digits, publish_every_s=0.0)
    seen, done = [], threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(trainer.snapshot())
            time.sleep(0.001)  # poll like a UI does, without starving the training thread of the GIL

    t = threading.Thread(target=reader)
    t.start()
    try:
        with pytest.raises(TrainingDiverged):
            trainer.run(epochs=1)
    finally:
        done.set()
        t.join(10)
    assert seen and all(snapshot_is_honest(s) for s in seen)
    assert seen[-1].error is not None or trainer.snapshot().error is not None


def test_live_lr_change_that_diverges_restores_weights_from_before_it(digits):
    trainer = Trainer(build_run_config(input_dim=digits.input_dim), digits, publish_every_s=0.0)
    for _ in range(5):
        trainer.step()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.update_settings(lr_recon=1e6)
    train_until_diverged(trainer)
    assert finite_weights(trainer.model)
    assert trainer.snapshot().error.count("(step 5)") + trainer.snapshot().error.count("(step 6)") == 1
    if "(step 5)" in trainer.snapshot().error:
        assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


@pytest.mark.parametrize("lrs", [dict(lr_recon=1e6), dict(lr_gen=1e12)], ids=["nan-loss", "overflowing-codes"])
def test_job_reports_divergence_and_saves_last_good_weights(mnist5k, tmp_path, lrs):
    registry = JobRegistry(max_live=1, grace_s=0.1, threads=1)
    try:
        job = registry.start(registry.lease().owner, "AAE", build_run_config(**lrs), mnist5k, paused=True)
        with pytest.raises(JobError, match="diverged"):
            for _ in range(10):
                snap = job.step()  # a step that leaves non-finite codes must raise here, not one step later
                assert snap.error is None and np.isfinite(snap.codes).all() and job.status().state == "paused"
        status = job.status()
        assert status.state == "diverged" and status.message.startswith("training diverged")
        assert snapshot_is_honest(job.snapshot()) and job.snapshot().error == status.message
        job.resume()  # refuses quietly: it stays diverged, it does not train on
        assert job.status().state == "diverged"
        saved = load_checkpoint(job.save("last-good", tmp_path, with_metrics=False))
        assert finite_weights(saved.model)
        good_step = int(status.message.split("(step ")[1].split(")")[0])
        assert saved.meta["step"] == good_step < job.step_count, "labelled with the good weights' step"
    finally:
        registry.stop_all()

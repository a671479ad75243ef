"""The job registry without Streamlit: lifecycle, single steps on the worker, the cap, grace-period reaping,
saving, and that no worker thread outlives its job."""

import math
import threading
import time

import numpy as np
import pytest

from aae_core.checkpoints import load_checkpoint
from aae_core.config import AAEError, build_run_config
from aae_core.jobs import Job, JobError
from aae_core.registry import JobLimitReached, JobRegistry
from tests.helpers import wait_until


def aae_config(**kw):
    return build_run_config(model="aae", **kw)


def job_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("aae-job", "aae-metrics", "aae-release"))]


@pytest.fixture
def registry():
    reg = JobRegistry(max_live=2, grace_s=0.3, threads=1)
    yield reg
    reg.stop_all()
    assert wait_until(lambda: not job_threads()), job_threads()


def test_start_pause_step_resume_stop(registry, mnist5k):
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", aae_config(), mnist5k)
    assert job.status().state == "running"
    assert wait_until(lambda: job.snapshot().step >= 3)
    paused = job.pause()
    assert job.status().state == "paused"
    time.sleep(0.3)
    assert job.snapshot().step == paused.step, "a paused job must not train"
    # GAN Lab steps: exactly one minibatch each, run on the worker, and only the chosen phase runs.
    disc = job.step("disc")
    assert disc.step == paused.step + 1
    assert not math.isnan(disc.history["d_loss"][-1]) and math.isnan(disc.history["g_loss"][-1])
    gen = job.step("gen")
    assert gen.step == paused.step + 2
    assert math.isnan(gen.history["d_loss"][-1]) and not math.isnan(gen.history["g_loss"][-1])
    assert job.step("full").step == paused.step + 3
    job.resume()
    assert wait_until(lambda: job.snapshot().step > paused.step + 5)
    assert job.stop(timeout=5)
    assert job.status().state == "stopped" and not job.alive
    with pytest.raises(JobError, match="stopped"):
        job.step()


def test_live_settings_apply_without_restart(registry, mnist5k):
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", aae_config(), mnist5k, paused=True)
    job.update_settings(lr_disc=1e-3)
    job.update_settings(disc_noise=0.1)
    assert (job.train_settings.lr_disc, job.train_settings.disc_noise) == (1e-3, 0.1)
    job.step()
    assert job._trainer.opt_disc.param_groups[0]["lr"] == 1e-3
    assert job.config.train.disc_noise == 0.1
    with pytest.raises(AAEError, match="batch_size"):
        job.update_settings(batch_size=10)


def test_vae_refuses_adversarial_phases(registry, mnist5k):
    job = registry.start(registry.lease().owner, "VAE", build_run_config(model="vae"), mnist5k, paused=True)
    with pytest.raises(AAEError, match="phase"):
        job.step("disc")
    assert job.step("full").step == 1


def test_step_budget_pauses_and_resume_extends_it(registry, mnist5k):
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k, max_steps=4)
    assert wait_until(lambda: job.status().state == "paused")
    assert job.snapshot().step == 4 and "budget" in job.status().message
    job.resume()
    assert wait_until(lambda: job.status().state == "paused" and job.snapshot().step == 8)


def test_cap_refuses_at_once_with_a_message_and_frees_on_stop(registry, mnist5k):
    a, b, c = (registry.lease().owner for _ in range(3))
    registry.start(a, "AAE", aae_config(), mnist5k)
    registry.start(b, "AAE", aae_config(), mnist5k)
    t0 = time.monotonic()
    with pytest.raises(JobLimitReached, match="2 models are already training"):
        registry.start(c, "AAE", aae_config(), mnist5k)
    assert time.monotonic() - t0 < 1.0
    # Replacing one's own job (reset) is allowed at the cap: the old one is stopped.
    registry.start(a, "AAE", aae_config(seed=1), mnist5k)
    assert registry.live_count() == registry.training_count() == 2
    registry.stop(b)
    assert registry.start(c, "AAE", aae_config(), mnist5k).alive


def test_the_cap_counts_only_training_jobs(registry, mnist5k):
    """Paused jobs hold no CPU, so they hold no slot; resuming one claims a slot again, and is refused at the cap."""
    a, b, c = (registry.lease().owner for _ in range(3))
    held = registry.start(a, "AAE", aae_config(), mnist5k, paused=True)
    paused_later = registry.start(b, "AAE", aae_config(), mnist5k)
    paused_later.pause()
    assert registry.training_count() == 0
    running = [registry.start(c, name, aae_config(), mnist5k) for name in ("AAE", "VAE")]
    assert registry.training_count() == 2 and registry.live_count() == 4
    with pytest.raises(JobLimitReached, match="2 models are already training on this server"):
        held.resume()
    assert held.status().state == "paused"
    running[0].pause()
    assert held.resume().state == "running" and registry.training_count() == 2


def test_the_cap_pauses_jobs_of_closed_pages_to_make_room(registry, mnist5k):
    """A page closed a moment ago keeps its jobs for a reload, but not its slots: a new visitor gets them."""
    closed = registry.lease()
    mine = [registry.start(closed.owner, name, aae_config(), mnist5k) for name in ("AAE", "VAE")]
    closed.release()
    visitor = registry.lease().owner
    job = registry.start(visitor, "AAE", aae_config(), mnist5k)
    assert job.status().state == "running"
    assert all(j.alive and j.status().state == "paused" for j in mine), "paused, weights kept for a reload"
    assert "page was closed" in mine[0].status().message


def test_a_group_gets_all_its_slots_or_none(registry, mnist5k):
    """Issue 15, item 12: at the cap a session used to get its AAE but not the VAE beside it."""
    from aae_core.jobs import JobSpec

    other = registry.lease().owner
    registry.start(other, "AAE", aae_config(), mnist5k)
    owner = registry.lease().owner
    pair = {name: JobSpec(aae_config(), mnist5k) for name in ("AAE", "VAE")}
    with pytest.raises(JobLimitReached):
        registry.start_group(owner, pair)
    assert registry.jobs(owner) == {} and registry.training_count() == 1
    paused = registry.start_group(owner, {name: JobSpec(aae_config(), mnist5k, paused=True) for name in pair})
    with pytest.raises(JobLimitReached):
        registry.resume(owner)
    assert all(j.status().state == "paused" for j in paused.values())
    registry.stop(other)
    assert {s.state for s in registry.resume(owner).values()} == {"running"}


def test_bad_config_leaves_the_running_job_alone(registry, mnist5k):
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", aae_config(), mnist5k, paused=True)
    with pytest.raises(AAEError, match="batch_size"):
        registry.start(owner, "AAE", aae_config(batch_size=10**6), mnist5k)
    assert registry.jobs(owner)["AAE"] is job and job.alive


def test_owners_do_not_see_each_other_and_a_held_token_is_not_shared(registry, mnist5k):
    first = registry.lease()
    registry.start(first.owner, "AAE", aae_config(), mnist5k, paused=True)
    second = registry.lease(first.owner)  # same URL in another open tab
    assert second.owner != first.owner
    assert registry.jobs(second.owner) == {}
    assert registry.lease("../../etc").owner != "../../etc"


def test_release_stops_after_grace_unless_reattached(registry, mnist5k):
    lease = registry.lease()
    job = registry.start(lease.owner, "AAE", aae_config(), mnist5k, paused=True)
    lease.release()
    again = registry.lease(lease.owner)  # a reload within the grace period
    assert again.owner == lease.owner
    time.sleep(0.5)
    assert job.alive and registry.jobs(lease.owner)["AAE"] is job
    again.release()
    assert wait_until(lambda: not job.alive, 3.0)
    assert registry.jobs(lease.owner) == {}


def test_save_validates_the_name_and_round_trips(registry, mnist5k, tmp_path):
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k, paused=True)
    for _ in range(3):
        job.step()
    with pytest.raises(AAEError, match="checkpoint name"):
        job.save("../evil", tmp_path)
    assert list(tmp_path.iterdir()) == []
    path = job.save("run1", tmp_path)
    ckpt = load_checkpoint(path)
    assert ckpt.meta["step"] == 3 and set(ckpt.meta["metrics"]) >= {"prior_mmd", "knn_accuracy"}
    step, frozen = job.frozen_model()
    for k, v in frozen.state_dict().items():
        assert (ckpt.model.state_dict()[k] == v).all()


def test_divergence_is_reported_and_last_good_weights_stay_saveable(registry, mnist5k, tmp_path):
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k, paused=True)
    job.step()
    job.pause()
    job._trainer.model.encoder[0].weight.data.fill_(math.inf)  # the worker is paused, so this thread may write
    with pytest.raises(JobError, match="diverged"):
        job.step()
    assert job.status().state == "diverged" and "diverged" in job.status().message
    job.resume()
    assert job.status().state == "diverged"
    assert math.isfinite(
        load_checkpoint(job.save("good", tmp_path, with_metrics=False)).model.encoder[0].weight.detach().sum()
    )


@pytest.mark.parametrize("trouble", ["diverged", "failed"])
def test_a_stopped_job_still_says_why_it_stopped_training(registry, mnist5k, trouble):
    """A divergence or failure, and its message, survive a stop: the page must not have to guess them back."""
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k, paused=True)
    job.step()
    if trouble == "diverged":
        job._trainer.model.encoder[0].weight.data.fill_(math.inf)  # the worker is paused, so this thread may write
        with pytest.raises(JobError, match="diverged"):
            job.step()
    else:

        def out_of_memory(phase: str = "full") -> None:
            raise RuntimeError("CUDA out of memory")

        job._trainer.step = out_of_memory
        job.resume()
        assert wait_until(lambda: job.status().state == "failed")
    told = job.status()
    assert told.cause == trouble and told.message
    assert job.stop()
    status = job.status()
    assert (status.state, status.cause, status.message) == ("stopped", trouble, told.message)


def test_a_stopped_job_continues_from_its_weights_step_and_history(registry, mnist5k):
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", aae_config(), mnist5k, paused=True)
    with pytest.raises(JobError, match="has not stopped"):
        job.continuation(paused=True, budget=5)
    for _ in range(3):
        job.step()
    _, weights = job.frozen_model()
    history = job.history()
    assert job.stop()
    spec = job.continuation(paused=True, budget=5)
    assert (spec.start_step, spec.max_steps, spec.paused, spec.config) == (3, 8, True, job.config)
    again = registry.start_group(owner, {"AAE": spec})["AAE"]
    assert again.step_count == 3 and again.max_steps == 8
    assert all((again.frozen_model()[1].state_dict()[k] == v).all() for k, v in weights.state_dict().items())
    assert all(np.array_equal(again.history()[k], v, equal_nan=True) for k, v in history.items())
    assert again.step().step == 4 and list(again.history()["step"]) == [*history["step"], 4]


def test_metrics_are_computed_in_the_background(registry, mnist5k):
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k, paused=True)
    assert job.metrics() is None  # never computed inside the caller's call
    assert wait_until(lambda: job.metrics() is not None, 30)
    step, result = job.metrics()
    assert step == 0 and 0 <= result["prior_coverage"] <= 1


def test_many_start_stop_cycles_leak_no_threads(registry, mnist5k):
    owner = registry.lease().owner
    for i in range(100):
        job = registry.start(owner, "AAE", aae_config(), mnist5k, paused=i % 2 == 0)
        if i % 10 == 0:
            job.step()
    registry.stop(owner)
    assert wait_until(lambda: not any(n.startswith("aae-job") for n in job_threads()))


def test_concurrent_control_calls_all_return(registry, mnist5k):
    job = registry.start(registry.lease().owner, "AAE", aae_config(), mnist5k)
    errors, durations = [], []

    def hammer(k: int) -> None:
        for i in range(15):
            t0 = time.monotonic()
            try:
                (job.pause, job.resume, lambda: job.step("disc"), job.frozen_model)[(i + k) % 4]()
            except JobError as e:
                errors.append(e)
            durations.append(time.monotonic() - t0)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors and max(durations) < job.call_timeout_s
    assert job.stop()


def test_ten_sessions_against_the_cap(registry, mnist5k):
    results: list[str] = []
    lock = threading.Lock()

    def session() -> None:
        owner = registry.lease().owner
        try:
            registry.start(owner, "AAE", aae_config(), mnist5k)
            outcome = "started"
        except JobLimitReached:
            outcome = "refused"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=session) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["refused"] * 8 + ["started"] * 2
    assert registry.live_count() == registry.training_count() == 2


def test_job_is_usable_without_a_registry(mnist5k):
    from aae_core.training import Trainer

    job = Job(Trainer(aae_config(), mnist5k), name="solo", owner="tester00", paused=True)
    assert job.step().step == 1
    assert job.stop()


def test_a_loaded_history_comes_before_the_jobs_own(registry, mnist5k):
    stored = {"step": [10, 20], "recon": [300.0, None], "kl": [1.0, 2.0]}  # as checkpoints keep it
    job = registry.start(
        registry.lease().owner,
        "VAE",
        build_run_config(model="vae"),
        mnist5k,
        start_step=20,
        paused=True,
        history=stored,
    )
    job.step()
    h = job.history()
    assert list(h["step"]) == [10, 20, 21] and h["step"].dtype.kind == "i"
    assert h["recon"][0] == 300.0 and math.isnan(h["recon"][1]) and not math.isnan(h["recon"][2])
    assert math.isnan(h["d_loss"][0]), "keys the stored history lacks are NaN, never invented"

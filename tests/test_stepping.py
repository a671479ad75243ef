"""Slow motion in the core (aae_core.stepping): phases in turn on a real job, each sentence's numbers, D(z)."""

import re

import numpy as np
import pytest

from aae_core import stepping
from aae_core.config import AAEError, build_run_config
from aae_core.registry import JobRegistry
from tests.helpers import wait_until


@pytest.fixture
def registry():
    reg = JobRegistry(max_live=2, grace_s=0.3, threads=1)
    yield reg
    reg.stop_all()


def test_next_phase_cycles_in_the_papers_order():
    assert stepping.next_phase(None) == "recon"
    assert [stepping.next_phase(p) for p in stepping.PHASES] == ["disc", "gen", "recon"]
    assert stepping.next_phase("full") == "recon"


def test_generator_sentence_reports_d_of_the_codes_before_and_after(registry, digits):
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", build_run_config(model="aae", input_dim=64), digits, paused=True)
    before = job.pause().codes
    report = stepping.run_phase(job, "gen")
    assert report.phase == "gen" and report.step == 1
    _, model = job.frozen_model()
    p0, p1 = stepping.realness(model, before).mean(), stepping.realness(model, job.snapshot().codes).mean()
    assert f"probability {p1:.2f} on average (it was {p0:.2f})" in report.sentence
    disc = stepping.run_phase(job, "disc")
    acc = job.snapshot().history["d_acc"][-1]
    assert disc.step == 2 and f"now gets {acc:.0%} of that batch right" in disc.sentence
    assert re.search(r"moved \d+\.\d{3} on average", stepping.run_phase(job, "recon").sentence)


def test_slow_motion_refuses_what_has_no_phases(registry, digits):
    owner = registry.lease().owner
    vae = registry.start(owner, "VAE", build_run_config(model="vae", input_dim=64), digits, paused=True)
    with pytest.raises(AAEError, match="VAE, which has no discriminator"):
        stepping.run_phase(vae, "disc")
    aae = registry.start(owner, "AAE", build_run_config(model="aae", input_dim=64), digits, paused=True)
    with pytest.raises(AAEError, match="phase='full'"):
        stepping.run_phase(aae, "full")
    _, model = vae.frozen_model()
    with pytest.raises(AAEError, match="needs an AAE"):
        stepping.decision_surface(model, 5.0)
    wide = build_run_config(model="aae", input_dim=64, latent_dim=3)
    job3 = registry.start(owner, "AAE3", wide, digits, paused=True)
    assert wait_until(lambda: job3.alive)
    with pytest.raises(AAEError, match="only for 2-D codes"):
        stepping.decision_surface(job3.frozen_model()[1], 5.0)


def test_a_label_conditioned_discriminator_is_asked_about_unlabeled_codes(registry, digits):
    config = build_run_config(model="aae", input_dim=64, prior="mixture", label_conditioned=True)
    owner = registry.lease().owner
    job = registry.start(owner, "AAE", config, digits, paused=True)
    _, model = job.frozen_model()
    xs, d = stepping.decision_surface(model, 8.0, n=20)
    assert d.shape == (20, 20) and np.all((d >= 0) & (d <= 1)) and xs[0] == -8.0

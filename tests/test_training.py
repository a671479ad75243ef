"""The trainer: learning happens, seeds repeat, phases do what they say, readers never see torn state."""

import threading

import numpy as np
import pytest
import torch

from aae_core.config import AAEError, PriorConfig, build_run_config
from aae_core.losses import kl_gaussian, kl_monte_carlo
from aae_core.metrics import prior_match
from aae_core.priors import make_prior
from aae_core.training import Trainer

UNIT_PETALS = {"radius": 1.4, "radial_std": 0.5, "tangential_std": 0.1}


def make(data, **kw):
    kw.setdefault("input_dim", data.input_dim)
    return Trainer(build_run_config(**kw), data, publish_every_s=float("inf"))


@pytest.mark.parametrize("prior", ["mixture", "swissroll"])
def test_aae_on_mnist5k_reconstruction_and_prior_mmd_fall(mnist5k, prior):
    t = make(mnist5k, prior=prior)
    mmd_before = prior_match(t.encode(t.eval_x), t.prior)["prior_mmd"]
    t.run(epochs=4)
    h = t.snapshot().history
    assert np.nanmean(h["recon"][-20:]) < 0.6 * np.nanmean(h["recon"][:5])
    mmd_after = prior_match(t.encode(t.eval_x), t.prior)["prior_mmd"]
    assert mmd_after < 0.3 * mmd_before and mmd_after < 0.1


def test_vae_learns_and_its_kl_shrinks_codes_towards_the_prior(mnist5k):
    t = make(mnist5k, model="vae", prior="gaussian")
    t.run(epochs=3)
    h = t.snapshot().history
    assert np.nanmean(h["recon"][-20:]) < 0.6 * np.nanmean(h["recon"][:5])
    assert np.isfinite(h["kl"]).all() and np.nanmean(h["kl"][-20:]) > 0
    assert np.isnan(h["d_loss"]).all()


def test_kl_closed_form_matches_torch_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g) * 0.5
    for std in (1.0, 5.0):
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        p = torch.distributions.Normal(torch.zeros(3), torch.full((3,), std))
        expected = torch.distributions.kl_divergence(q, p).sum(1).mean()
        assert torch.allclose(kl_gaussian(mu, logvar, std), expected, atol=1e-5)
        prior = make_prior(PriorConfig(name="gaussian", dim=3, std=std))
        mc = torch.stack([kl_monte_carlo(mu, logvar, q.sample(), prior) for _ in range(4000)]).mean()
        assert float(mc) == pytest.approx(float(expected), rel=0.02)


def test_same_seed_same_run_different_seed_different_run(digits):
    a, b = make(digits, prior="mixture", seed=3), make(digits, prior="mixture", seed=3)
    c = make(digits, prior="mixture", seed=4)
    for t in (a, b, c):
        for _ in range(15):
            t.step()
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.model.parameters(), c.model.parameters()))


def test_single_phases_touch_only_their_networks(digits):
    t = make(digits, prior="mixture")
    t.step()
    nets = {
        n: {k: v.clone() for k, v in getattr(t.model, n).state_dict().items()}
        for n in ("encoder", "decoder", "discriminator")
    }

    def changed():
        out = {
            n: any(not torch.equal(v, getattr(t.model, n).state_dict()[k]) for k, v in nets[n].items()) for n in nets
        }
        for n in nets:
            nets[n] = {k: v.clone() for k, v in getattr(t.model, n).state_dict().items()}
        return out

    t.step("disc")
    assert changed() == {"encoder": False, "decoder": False, "discriminator": True}
    t.step("gen")
    assert changed() == {"encoder": True, "decoder": False, "discriminator": False}
    t.step("recon")
    assert changed() == {"encoder": True, "decoder": True, "discriminator": False}
    losses = t.step("disc")
    assert np.isnan(losses["recon"]) and np.isfinite(losses["d_loss"]) and 0 <= losses["d_acc"] <= 1
    with pytest.raises(AAEError, match="phase"):
        t.step("discriminator")


def test_label_conditioned_discriminator_sees_code_plus_eleven_way_onehot(mnist5k):
    # The paper's unit-scale petals: six epochs are enough for codes starting near 0 to reach them.
    t = make(
        mnist5k,
        prior="mixture",
        label_conditioned=True,
        label_fraction=1.0,
        lr_recon=2e-3,
        lr_disc=1e-3,
        lr_gen=1e-3,
        **UNIT_PETALS,
    )
    assert t.model.discriminator[0].in_features == 2 + 11
    assert bool(t.labelled.all())
    t.run(epochs=6)
    # Each digit is pulled onto its own petal: held-out codes fall in their label's component far above chance (0.1).
    component = t.prior.component_log_prob(torch.as_tensor(t.encode(t.eval_x))).argmax(1).numpy()
    assert (component == t.eval_y).mean() > 0.4


def test_settings_change_mid_run_without_restart(digits):
    t = make(digits, prior="gaussian")
    t.step()
    t.update_settings(lr_recon=5e-4, disc_noise=0.1)
    t.step()
    assert t.opt_recon.param_groups[0]["lr"] == 5e-4 and t.config.train.disc_noise == 0.1
    with pytest.raises(AAEError, match="lr_gen"):
        t.update_settings(lr_gen=-1)
    with pytest.raises(AAEError, match="batch_size"):
        t.update_settings(batch_size=10)


def test_snapshot_is_readable_from_another_thread_while_training(digits):
    t = Trainer(build_run_config(prior="mixture", input_dim=digits.input_dim), digits, publish_every_s=0.0)
    worker = threading.Thread(target=t.run, kwargs={"epochs": 3})  # publishes after every step
    seen = []
    worker.start()
    while worker.is_alive():
        s = t.snapshot()
        seen.append((s.version, s.step, len(s.history["step"])))
    worker.join()
    versions = [v for v, _, _ in seen]
    assert versions == sorted(versions) and len(set(versions)) > 3
    assert all(n == min(step, 2000) for _, step, n in seen)  # never a torn snapshot: counters agree
    s = t.snapshot()
    assert s.codes.shape == (min(1000, len(digits.x_test)), 2) and np.isfinite(s.codes).all()
    assert s.codes_step == s.step == t.step_count and s.samples_per_s > 0
    assert 0 < len(s.timeline) <= 40


def test_history_is_bounded(digits):
    t = make(digits, prior="gaussian", history_len=50)
    for _ in range(120):
        t.step()
    h = t.publish()
    assert len(h.history["recon"]) == 50 and h.history["step"][-1] == 120 and h.history["step"][0] == 71


def test_learning_rates_follow_the_schedule_and_live_changes_keep_it(digits):
    # 1438 training images / 100 = 14.38 steps per epoch; 10 epochs = 144 steps, the last 20 % (29) cooled.
    t = make(digits, prior="gaussian", epochs=10, lr_recon=1e-3, lr_disc=2e-4, lr_gen=2e-4)

    def lrs() -> list[float]:
        return [g["lr"] for o in (t.opt_recon, t.opt_disc, t.opt_gen) for g in o.param_groups]

    for _ in range(115):
        t.step()
    assert lrs() == pytest.approx([1e-3, 2e-4, 2e-4])
    t.step()  # step 116 of 144 starts the cool-down
    assert lrs() == pytest.approx([1e-4, 2e-5, 2e-5])
    t.update_settings(lr_disc=5e-4)
    t.step()
    assert lrs() == pytest.approx([1e-4, 5e-5, 2e-5])
    assert t.config.train.lr_disc == 5e-4  # the config keeps the base rate, never the cooled one


def test_no_cool_down_keeps_the_rates(digits):
    t = make(digits, prior="gaussian", epochs=1, cool_fraction=0.0)
    t.run(epochs=2)
    assert t.opt_recon.param_groups[0]["lr"] == t.config.train.lr_recon


def test_plain_autoencoder_trains_reconstruction_only(digits):
    t = make(digits, model="ae", prior="gaussian", input_dim=64)
    assert not hasattr(t.model, "discriminator")
    before = t.step()["recon"]
    for _ in range(60):
        losses = t.step()
    assert losses["recon"] < before and np.isnan(losses["d_loss"]) and np.isnan(losses["kl"])
    with pytest.raises(AAEError, match="aae only"):
        build_run_config(model="ae", prior="mixture", label_conditioned=True)


def test_held_out_images_are_never_trained_on(digits):
    t = make(digits, holdout=300)
    n = digits.x_train.shape[0]
    assert t.data.x_train.shape[0] == n - 300 and torch.equal(t.data.x_train, digits.x_train[: n - 300])
    rest, held = digits.hold_out(300)
    assert torch.equal(held, digits.x_train[n - 300 :]) and torch.equal(rest.y_train, digits.y_train[: n - 300])
    for bad, message in ((n, "holdout=.*leaves nothing to train on"), (n - 50, "batch_size=100: is larger")):
        with pytest.raises(AAEError, match=message):
            make(digits, holdout=bad)

"""The "Explained, slow motion" tab under AppTest: each objective term beside its live value, and slow motion
running the AAE's three phases one at a time over D(z). AppTest does not run the play toggle's timer: a rerun
with it on stands for one tick."""

import math

import numpy as np

from aae_core import stepping
from tests.apptest import chart_elements, jobs, texts

TAB = "Explained, slow motion"


def open_tab(app):
    app.session_state["tab"] = TAB
    app.run()
    assert not app.exception and not app.error
    return app


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_objectives_are_written_out_beside_their_live_values(app):
    open_tab(app)
    formulas = " | ".join(e.value for e in app.get("latex"))
    assert r"\min_G \max_D\; \mathbb{E}_{p(z)}[\log D(z)] + \mathbb{E}_{q(z)}[\log(1 - D(z))]" in formulas
    assert r"\mathrm{KL}\big(q(z \mid x)" in formulas and r"-\log p(x \mid z = q(x))" in formulas
    aae, vae = jobs(app)["AAE"].history(), jobs(app)["VAE"].history()

    def last(h, key):
        v = h[key][np.isfinite(h[key])]
        return float(v[-1])

    assert metric(app, "minimax value") == f"{-2 * last(aae, 'd_loss'):.3f}", "V = -2 x the discriminator's loss"
    assert metric(app, "G loss −E_q[log D(z)]") == f"{last(aae, 'g_loss'):.3f}"
    assert metric(app, "D accuracy") == f"{last(aae, 'd_acc'):.0%}"
    assert metric(app, "KL (nats/image)") == f"{last(vae, 'kl'):.3f}"
    recon = [m.value for m in app.metric if m.label == "reconstruction (nats/image)"]
    assert recon == [f"{last(aae, 'recon'):.1f}", f"{last(vae, 'recon'):.1f}"]


def test_next_phase_runs_reconstruction_discriminator_generator_in_turn(app):
    open_tab(app)
    assert "Press Next phase" in texts(app, "info")
    aae, vae = jobs(app)["AAE"], jobs(app)["VAE"]
    start, vae_start = aae.snapshot().step, vae.snapshot().step
    expected = [("recon", "Reconstruction:"), ("disc", "Discriminator:"), ("gen", "Generator:"), ("recon", "Recon")]
    for i, (phase, opening) in enumerate(expected, 1):
        button = app.button(key="slowmo_next")
        assert button.label == f"Next phase: {stepping.PHASE_NAMES[phase]}"
        button.click().run()
        assert not app.exception and not app.error
        assert aae.snapshot().step == start + i, "one phase is one step"
        assert texts(app, "info").startswith(opening)
        ran = aae.snapshot().history
        assert math.isfinite(ran[{"recon": "recon", "disc": "d_loss", "gen": "g_loss"}[phase]][-1])
        others = {"recon": ("d_loss", "g_loss"), "disc": ("recon", "g_loss"), "gen": ("recon", "d_loss")}[phase]
        assert all(math.isnan(ran[k][-1]) for k in others), "only that phase ran"
        if phase == "disc":
            assert f"now gets {ran['d_acc'][-1]:.0%} of that batch right" in texts(app, "info")
        if phase == "recon":
            assert f"the loss is {ran['recon'][-1]:.1f} nats per image" in texts(app, "info")
    assert vae.snapshot().step == vae_start, "the VAE waits while the AAE moves in slow motion"
    figure = chart_elements(app)["slowmo-scatter"][1]
    surface = figure["data"][0]
    assert surface["type"] == "contour" and surface["name"] == "D(z)"


def test_decision_surface_is_the_discriminators_probability(app):
    open_tab(app)
    app.button(key="slowmo_next").click().run()
    figure = chart_elements(app)["slowmo-scatter"][1]
    surface = figure["data"][0]
    _, model = jobs(app)["AAE"].frozen_model()
    lim = figure["layout"]["xaxis"]["range"][1]
    xs, d = stepping.decision_surface(model, lim, 60)
    assert d.shape == (60, 60) and 0 <= d.min() <= d.max() <= 1
    assert np.isclose(xs[0], -lim) and np.isclose(xs[-1], lim)
    assert surface["zmin"] == 0 and surface["zmax"] == 1 and surface["colorscale"] == "RdBu"
    assert any(t.get("name") == "prior samples" for t in figure["data"]), "the prior as samples: the shading is D(z)"


def test_play_toggle_advances_one_phase_per_tick(app):
    open_tab(app)
    aae = jobs(app)["AAE"]
    start = aae.snapshot().step
    app.toggle(key="slowmo_play").set_value(True).run()
    assert aae.snapshot().step == start + 1 and texts(app, "info").startswith("Reconstruction:")
    app.run()
    assert aae.snapshot().step == start + 2 and texts(app, "info").startswith("Discriminator:")
    app.toggle(key="slowmo_play").set_value(False).run()
    assert aae.snapshot().step == start + 2, "off: nothing moves by itself"

"""The explorer driven through streamlit.testing.v1.AppTest: first visit, transport controls, each prior (with the
reset confirmation), live settings, presets, save and load, the comparison tab's metrics and the latent pad.

AppTest does not run `run_every` fragments on a timer, and it cannot run the pad's JavaScript; the pad's release is
faked through session_state, as the pad's docstring describes. Every test pauses its jobs early to spare the CPU.
"""

import time
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aae_core.config import AAEError
from explorer import session
from tests.apptest import APP, chart_elements, charts, jobs, steps, texts


def test_first_visit_trains_an_aae_and_a_vae(app):
    assert "AAE: training from scratch" in app.first_run_info and "VAE: training from scratch" in app.first_run_info
    assert set(jobs(app)) == {"AAE", "VAE"}
    assert all(j.status().state == "paused" for j in jobs(app).values())
    assert app.button(key="train").label == "Train", "paused: the transport offers Train"
    assert len(steps(app)) == 2
    titles = [c["layout"]["title"]["text"] for c in charts(app) if "title" in c["layout"]]
    assert any(t.startswith("AAE: held-out codes") and "gaussian prior" in t for t in titles)


def test_step_buttons_train_exactly_one_minibatch(app):
    before = steps(app)
    app.button(key="step").click().run()
    assert steps(app) == [before[0] + 1, before[1] + 1]
    app.selectbox(key="phase").select("disc").run()
    app.button(key="step").click().run()
    assert steps(app) == [before[0] + 2, before[1] + 1], "a discriminator-only step moves the AAE alone"
    assert "only full steps apply" in texts(app, "toast")
    assert not app.exception


def test_train_then_pause(app):
    app.button(key="train").click().run()
    assert app.button(key="pause").label == "Pause"
    assert all(j.status().state == "running" for j in jobs(app).values())
    first = steps(app)
    time.sleep(1.0)
    app.button(key="pause").click().run()
    assert all(j.status().state == "paused" for j in jobs(app).values())
    assert all(b > a for a, b in zip(first, steps(app)))


@pytest.mark.parametrize("prior", ["mixture", "swissroll", "gaussian"])
def test_each_prior_asks_before_resetting(app, prior):
    if prior == "gaussian":
        app.selectbox(key="prior").select("mixture").run()
        app.button(key="apply").click().run()
    old = dict(jobs(app))
    app.selectbox(key="prior").select(prior).run()
    assert "prior" in texts(app, "warning") and "restarts training" in texts(app, "warning")
    assert jobs(app) == old, "nothing resets before the user confirms"
    app.button(key="apply").click().run()
    assert not app.exception
    new = jobs(app)
    assert all(new[n] is not old[n] and new[n].config.prior.name == prior for n in ("AAE", "VAE"))
    app.button(key="pause").click().run()
    titles = [c["layout"]["title"]["text"] for c in charts(app) if "title" in c["layout"]]
    assert sum(f"over the {prior} prior" in t for t in titles) == 2
    assert ("approximate" in texts(app, "caption")) == (prior == "swissroll"), "the roll's density is approximate"


def test_revert_keeps_the_current_run(app):
    old = dict(jobs(app))
    app.number_input(key="latent_dim").set_value(3).run()
    assert "latent dim" in texts(app, "warning")
    app.button(key="revert").click().run()
    assert app.number_input(key="latent_dim").value == 2 and not app.warning
    assert jobs(app) == old


def test_learning_rate_applies_live_without_reset(app):
    old = dict(jobs(app))
    app.select_slider(key="lr_disc").set_value(1e-3).run()
    assert not app.warning, "a learning rate never asks for a reset"
    assert jobs(app) == old
    app.button(key="step").click().run()
    assert jobs(app)["AAE"]._trainer.opt_disc.param_groups[0]["lr"] == 1e-3


def test_bad_settings_are_one_line_errors(app):
    app.checkbox(key="label_conditioned").check().run()
    assert "label_conditioned" in texts(app, "error") and not any("\n" in e.value for e in app.error)
    assert not app.exception


def test_preset_applies_and_resets(app):
    app.button(key="preset-Fig. 2b: AAE, mixture of 10 Gaussians").click().run()
    assert app.selectbox(key="prior").value == "mixture"
    assert {j.config.prior.name for j in jobs(app).values()} == {"mixture"}
    assert not app.warning


def test_save_then_load_a_checkpoint(app, tmp_path):
    app.button(key="step").click().run()
    saved_step, vae_step = steps(app)
    app.session_state["tab"] = "Checkpoints & export"
    app.run()
    app.text_input(key="ckpt_name").input("mine").run()
    app.button(key="save").click().run()
    assert "saved mine-aae.safetensors" in texts(app, "toast")
    table = app.dataframe[0].value
    assert dict(zip(table["name"], table["steps"])) == {"mine-aae": saved_step, "mine-vae": vae_step}
    app.button(key="reset").click().run()
    app.selectbox(key="ckpt_pick").select(("user", "mine-aae")).run()
    app.button(key="load").click().run()
    assert f"AAE: loaded mine-aae (step {saved_step:,})" in texts(app, "toast")
    assert f"VAE: loaded mine-vae (step {vae_step:,})" in texts(app, "toast"), "the matching counterpart is loaded too"
    loaded = jobs(app)
    assert loaded["AAE"].snapshot().step == saved_step and loaded["AAE"].status().state == "paused"
    assert (tmp_path / "user" / "mine-aae.safetensors").is_file(), "saves go to the user folder"


def test_comparison_tab_shows_the_metrics_beside_their_floors(app):
    app.session_state["tab"] = "AAE vs VAE"
    app.run()
    assert "Over-weighted modes" in texts(app, "markdown") and "holes" in texts(app, "markdown").lower()
    deadline = time.monotonic() + 60
    while not app.dataframe and time.monotonic() < deadline:  # metrics are computed in the background
        time.sleep(0.5)
        app.run()
    table = app.dataframe[0].value
    assert list(table.columns) == ["AAE", "VAE", "floor: two prior samples", "better", "which way"]
    assert len(table) == 6 and "MMD² (codes vs prior)" in table.index
    assert "× floor)" in table.loc["MMD² (codes vs prior)", "AAE"]
    assert 0.9 < float(table.loc["coverage of the prior (holes lower it)", "floor: two prior samples"]) < 1
    assert len(charts(app)) == 2 and not app.exception


def test_latent_pad_decodes_a_released_point(app):
    app.session_state["tab"] = "Latent pad"
    app.run()
    app.session_state["pad"] = {"pad": {"point": {"AAE": [0.5, -1.0], "VAE": [0.5, -1.0]}}}
    app.run()
    assert not app.exception
    assert "Released point, decoded on the server" in texts(app, "markdown")
    assert not [c for c in app.get("code") if c.value.startswith("{")], "the released point is words, not a JSON dump"
    assert "**AAE** at z = (0.500, -1.000)" in texts(app, "markdown")
    assert "**VAE** at z = (0.500, -1.000)" in texts(app, "markdown")


def test_timeline_and_decoded_tabs_render(app):
    for tab in ("Timeline", "Decoded"):
        app.session_state["tab"] = tab
        app.run()
        assert not app.exception and not app.error
    assert len(app.get("image")) == 6, "samples, manifold and reconstructions for each model"


def test_uploads_are_validated_by_the_core(tmp_path):
    def upload(name, blob):
        return SimpleNamespace(name=name, size=len(blob), getvalue=lambda: blob)

    with pytest.raises(AAEError, match="bad.npz: not an .npz file"):
        session.store_upload([upload("bad.npz", b"not a zip")])
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.random.default_rng(0).random((40, 8, 8)), y=np.arange(40) % 4)
    data = session.store_upload([upload("../../tiny.npz", path.read_bytes())])
    assert data.name == "upload:tiny.npz" and data.image_shape == (8, 8) and data.n_classes == 4


def test_settings_come_from_the_url_and_go_back_to_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"prior": "mixture", "lr_disc": "0.001", "dim": "banana", "k": "999"})
    at.run()
    try:
        assert at.selectbox(key="prior").value == "mixture" and at.select_slider(key="lr_disc").value == 1e-3
        assert "ignored dim=banana" in texts(at, "error") and "ignored k=999" in texts(at, "error")
        assert {j.config.prior.name for j in jobs(at).values()} == {"mixture"}
        # A preset changes the widgets in code; the URL follows, so a reload or a link restores it.
        at.button(key="preset-Swiss roll").click().run()
        assert at.query_params["prior"] == "swissroll"
        assert "lr_disc" not in at.query_params, "back at its default, so not in the URL"
    finally:
        session.registry().stop_all()


def test_live_charts_keep_their_identity_while_their_figures_change(app):
    """The browser updates a chart in place (Plotly.react) only if its element id survives new data; st.plotly_chart
    derives the id from the figure, which remounted every live chart each second."""
    before = chart_elements(app)
    assert set(before) == {"live-scatter-AAE", "live-loss-AAE", "live-scatter-VAE", "live-loss-VAE"}
    app.button(key="step").click().run()
    after = chart_elements(app)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert after["live-scatter-AAE"][1]["layout"]["title"] != before["live-scatter-AAE"][1]["layout"]["title"]
    (density,) = after["live-scatter-AAE"][1]["layout"]["images"]
    assert density["source"].startswith("data:image/png;base64,") and density["layer"] == "below"


def test_charts_fall_back_to_st_plotly_chart_without_static_serving(app, monkeypatch):
    from explorer import charts as chart_module

    monkeypatch.setattr(chart_module, "plotly_js_served", lambda: False)
    app.run()
    assert not chart_elements(app) and len(app.get("plotly_chart")) == 4 and not app.exception


def test_a_plain_autoencoder_trains_beside_and_joins_the_comparison(app):
    app.session_state["ae"] = True
    app.session_state["tab"] = "AAE vs VAE"
    app.run()
    app.button(key="apply").click().run()
    assert set(jobs(app)) == {"AAE", "VAE", "AE"} and jobs(app)["AE"].kind == "ae"
    deadline = time.monotonic() + 60
    while not app.dataframe and time.monotonic() < deadline:
        time.sleep(0.5)
        app.run()
    assert list(app.dataframe[0].value.columns) == [
        "AAE",
        "VAE",
        "AE",
        "floor: two prior samples",
        "better",
        "which way",
    ]
    assert len(charts(app)) == 3 and not app.exception

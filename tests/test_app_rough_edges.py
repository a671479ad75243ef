"""Issue 14 ("rough edges a new user hit"), in AppTest and as units: each test fails on the behaviour the issue
reported. The browser-only items (no outside requests, the modebar, the pad's looks) are in tests/browser/."""

import dataclasses
import json
import time

import numpy as np
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from aae_core.config import PriorConfig
from explorer import charts as chart_module
from explorer import plots
from explorer.views import common, compare
from explorer.views.live import budget_progress
from tests.apptest import APP, chart_elements, jobs, steps, texts


def rerun_until(at, cond, timeout: float = 60.0) -> bool:
    """Rerun the app until `cond(at)` holds (work in the background: metrics), at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while not cond(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    return cond(at)


# ---- 1. no one-click upload to Plotly Cloud ------------------------------------------------------


def test_charts_have_no_cloud_share_button_or_logo_link(app):
    (data,) = [el for el in app.get("bidi_component") if el.key == "live-scatter-AAE"]
    config = json.loads(data.proto.json)["config"]
    assert config["displaylogo"] is False and config["showSendToCloud"] is False
    assert "sendChartToCloud" in config["modeBarButtonsToRemove"]
    assert config == chart_module.CONFIG, "st.plotly_chart (the fallback) is given the same config"


# ---- 5. a replaced upload is a data change --------------------------------------------------------


def test_replacing_an_upload_says_the_dataset_changed(app, digits):
    app.session_state["_upload"] = dataclasses.replace(digits, name="upload:first.npz")
    app.selectbox(key="dataset").select("upload").run()
    app.button(key="apply").click().run()
    assert {j.config.dataset for j in jobs(app).values()} == {"upload:first.npz"}
    app.button(key="pause").click().run()
    app.session_state["_upload"] = dataclasses.replace(digits, name="upload:second.npz")
    app.run()
    warning = texts(app, "warning")
    assert "Changing dataset restarts training" in warning and "architecture" not in warning


# ---- 6. the metrics table arrives while paused ---------------------------------------------------


def test_compare_keeps_refreshing_until_the_metrics_arrive_while_paused(app, monkeypatch):
    periods = []
    real = streamlit.fragment

    def spy(func=None, *, run_every=None, **kw):
        if getattr(func, "__module__", "") == compare.__name__:
            periods.append(run_every)
        return real(func, run_every=run_every, **kw)

    monkeypatch.setattr(streamlit, "fragment", spy)
    assert all(j.status().state == "paused" for j in jobs(app).values())
    app.session_state["tab"] = "AAE vs VAE"
    app.run()
    assert "Computing metrics…" in texts(app, "caption")
    assert periods[-1] == common.LIVE_EVERY_S, "paused, but waiting for metrics: the view must keep refreshing"
    assert rerun_until(app, lambda at: bool(at.dataframe))
    app.run()
    assert periods[-1] is None, "once the metrics are in and nothing trains, the refresh stops"


# ---- 7 and issue 15 item 12: the cap ---------------------------------------------------------------


def test_at_the_cap_a_session_gets_both_models_or_neither(app):
    from explorer import session

    registry = session.registry()
    others = registry.lease().owner
    app.button(key="train").click().run()  # this session's two models train
    old_cap = registry.max_live
    registry.max_live = 3
    try:
        registry.start(others, "AAE", jobs(app)["AAE"].config, jobs(app)["AAE"].data)
        app.button(key="reset").click().run()  # its own two are replaced: allowed
        assert {j.status().state for j in jobs(app).values()} == {"running"}
        app.button(key="pause").click().run()
        registry.start(others, "VAE", jobs(app)["VAE"].config, jobs(app)["VAE"].data)
        app.button(key="train").click().run()  # two slots wanted, one free: neither resumes
        error = texts(app, "error")
        assert "3 models are already training on this server" in error
        assert {j.status().state for j in jobs(app).values()} == {"paused"}
        assert not app.warning, "no misleading 'restarts training' warning"
    finally:
        registry.max_live = old_cap
        registry.stop(others)


def test_paused_jobs_leave_their_slots_to_others(app):
    from explorer import session

    registry = session.registry()
    old_cap = registry.max_live
    registry.max_live = 2
    try:
        other = registry.lease().owner
        job = registry.start(other, "AAE", jobs(app)["AAE"].config, jobs(app)["AAE"].data)
        assert job.status().state == "running", "this session's paused pair holds no slot"
    finally:
        registry.max_live = old_cap


# ---- 8. transport --------------------------------------------------------------------------------


def test_step_after_stop_steps_from_the_last_weights(app):
    app.button(key="step").click().run()
    before = steps(app)
    app.button(key="stop").click().run()
    assert not any(j.alive for j in jobs(app).values())
    app.button(key="step").click().run()
    assert steps(app) == [before[0] + 1, before[1] + 1]
    assert all(j.alive and j.status().state == "paused" for j in jobs(app).values())
    assert "continuing from step" in texts(app, "toast")


def test_budget_caption_past_the_budget_and_the_pause_message():
    assert budget_progress(500, 2000, 2000) == (0.25, "pauses at step 2,000 (the epoch budget)")
    fraction, text = budget_progress(2003, 2000, 2000)
    assert fraction == 1.0 and "pauses at step 2,000" not in text
    assert text == "epoch budget reached (step 2,000), now at step 2,003; Train trains 2,000 steps more"


def test_budget_pause_message_matches_the_counters(digits):
    from aae_core.config import build_run_config
    from aae_core.registry import JobRegistry
    from tests.helpers import wait_until

    registry = JobRegistry(max_live=1, threads=1)
    try:
        job = registry.start(registry.lease().owner, "AAE", build_run_config(input_dim=64), digits, max_steps=15)
        assert wait_until(lambda: job.status().state == "paused", 30)
        snap = job.snapshot()
        assert job.status().message == (
            f"paused at the step budget (15 steps, {snap.epoch:.1f} epochs); press Train to continue"
        )
        assert snap.epoch == pytest.approx(15 * 100 / digits.x_train.shape[0])
    finally:
        registry.stop_all()


# ---- 10. AAE vs VAE --------------------------------------------------------------------------------


def test_each_comparison_scatter_has_its_own_scale(app):
    vae = jobs(app)["VAE"]
    wide = dataclasses.replace(vae.snapshot(), codes=vae.snapshot().codes * 40)
    vae.snapshot = lambda: wide  # the VAE's codes spread 40x wider than the AAE's
    app.session_state["tab"] = "AAE vs VAE"
    app.run()
    figures = {k: f for k, (_, f) in chart_elements(app).items() if k.startswith("cmp-")}
    ranges = {k: f["layout"]["xaxis"]["range"][1] for k, f in figures.items()}
    # A shared range would make them equal; the VAE's is at its cap (4x the prior's extent), the AAE's near the prior.
    assert ranges["cmp-scatter-VAE"] >= 2 * ranges["cmp-scatter-AAE"], ranges


def test_the_better_model_is_marked_per_row_by_each_metrics_direction():
    assert compare.better("knn_accuracy", {"AAE": 0.7, "VAE": 0.6}) == "AAE"
    assert compare.better("prior_mmd", {"AAE": 0.7, "VAE": 0.6}) == "VAE"
    assert compare.better("reconstruction_mse", {"AAE": 0.01, "VAE": 0.02}) == "AAE"
    assert compare.better("prior_coverage", {"AAE": 0.51, "VAE": 0.49}) == "AAE"
    assert compare.better("prior_swd", {"AAE": 0.123401, "VAE": 0.123404}) == "tie", "equal as shown"
    assert compare.better("prior_mmd", {"AAE": float("nan"), "VAE": 0.1}) == "–"
    assert compare.better("a_new_metric", {"AAE": 1.0, "VAE": 2.0}) == "–", "no direction known: no marker"
    assert compare.better("prior_density", {"AAE": 1.1, "VAE": 0.8, "AE": 1.3}) == "AAE", "closest to 1"


def test_the_table_marks_winners_and_the_caption_claims_no_ceiling(app):
    app.session_state["tab"] = "AAE vs VAE"
    app.run()
    assert rerun_until(app, lambda at: bool(at.dataframe))
    table = app.dataframe[0].value
    assert set(table["better"]) <= {"AAE", "VAE", "tie", "–"} and "lower" not in set(table["better"])
    assert table.loc["MMD² (codes vs prior)", "which way"] == "lower is better"
    assert "ceiling" not in texts(app, "caption")


# ---- 11, 12. one axis convention; no contours toggle in 8-D ----------------------------------------


def test_eight_dims_name_axes_z1_to_z8_and_offer_no_contours(app):
    app.number_input(key="latent_dim").set_value(8).run()
    app.button(key="apply").click().run()
    app.button(key="pause").click().run()
    assert not any(e.key == "overlay" for e in app.get("button_group")), "no contours toggle for an 8-D prior"
    assert "density contours exist only for a 2-D prior" in texts(app, "caption")
    app.session_state["proj"] = "two axes"
    app.run()
    assert app.number_input(key="ax_x").label == "x axis: z1…z8"
    app.number_input(key="ax_x").set_value(3).run()
    scatter = chart_elements(app)["live-scatter-AAE"][1]
    assert scatter["layout"]["xaxis"]["title"]["text"] == "z3" and "images" not in scatter["layout"]
    assert any(t["name"] == "prior samples" for t in scatter["data"])


# ---- 13. loss curves ----------------------------------------------------------------------------


def test_loss_points_are_thinned_by_step_so_a_loaded_history_meets_the_live_one_evenly():
    loaded = np.arange(0, 50_000, 250)  # a checkpoint's 200 points over 50K steps
    live = np.arange(50_000, 60_000)  # then every step
    steps_ = np.concatenate([loaded, live]).astype(float)
    kept = steps_[plots._thin(steps_)]
    assert len(kept) <= plots.MAX_CURVE_POINTS and kept[-1] == steps_[-1]
    gaps = np.diff(kept)
    assert gaps[kept[1:] > 50_000].mean() == pytest.approx(gaps[kept[1:] <= 50_000].mean(), rel=0.5), (
        "as many points per step on both sides of the join"
    )


def test_loss_curves_smooth_and_keep_few_ticks():
    n = 1000
    rng = np.random.default_rng(0)
    history = {"step": np.arange(n), "recon": 100 + rng.normal(0, 10, n), "kl": np.full(n, 2.0)}
    raw = plots.loss_curves(history, "vae")
    smooth = plots.loss_curves(history, "vae", smoothing=0.9)
    assert np.nanstd(np.asarray(smooth["data"][0]["y"])) < 0.5 * np.nanstd(np.asarray(raw["data"][0]["y"]))
    assert all(raw["layout"][f"yaxis{a}"]["nticks"] <= 4 for a in ("", "2"))
    assert plots.ema(np.array([1.0, np.nan, 3.0]), 0.5)[[0, 2]].tolist() == [1.0, pytest.approx(2 + 1 / 3)]


def test_live_tab_offers_loss_smoothing(app):
    app.button(key="step").click().run()
    app.button(key="step").click().run()
    raw = chart_elements(app)["live-loss-AAE"][1]["data"][0]["y"]
    (control,) = [e for e in app.get("button_group") if e.key == "smooth"]
    control.set_value(0.9).run()
    smoothed = chart_elements(app)["live-loss-AAE"][1]["data"][0]["y"]
    assert smoothed != raw


# ---- 15. layout ------------------------------------------------------------------------------------


def test_decoded_rows_line_up_across_models(app):
    app.session_state["tab"] = "Decoded"
    app.run()
    rows = [
        b
        for b in app.get("flex_container")
        if b.children
        and all(c.type == "column" for c in b.children.values())
        and any(c.get("image") for c in b.children.values())
    ]
    assert len(rows) == 3, "samples, manifold, reconstructions: one row of columns each"
    assert all(len(c.get("image")) == 1 for b in rows for c in b.children.values())


def test_swiss_roll_note_is_written_once_with_a_superscript(app):
    app.button(key="preset-Swiss roll").click().run()
    app.button(key="pause").click().run()
    notes = [c.value for c in app.caption if c.value.startswith("Contours:")]
    assert len(notes) == 1 and "N(0, 1.25² I)" in notes[0] and "^" not in notes[0]  # a quarter of the gap of 5


def test_the_rolls_density_is_shaded_smoothly_under_translucent_grid_lines():
    import base64
    import io

    from PIL import Image

    uri, _ = plots.prior_density(PriorConfig(name="swissroll", dim=2))
    alpha = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))))[..., 3]
    assert len(np.unique(alpha)) > 30, "smooth shading, not bands with an edge line every pixel or two"
    uri, _ = plots.prior_density(PriorConfig(name="mixture", dim=2))
    alpha = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))))[..., 3]
    assert len(np.unique(alpha)) <= 9, "an exact density keeps its contour bands"
    assert plots.GRID_COLOUR.startswith("rgba(0, 0, 0,"), "grid lines darken the density, never white it out"


def test_first_visit_says_what_it_did_without_toasts_over_the_buttons(app):
    assert app.first_run_toasts == ""
    assert "AAE: training from scratch · VAE: training from scratch" in app.first_run_info


# ---- 16. no session-state warning in the server log ----------------------------------------------


def test_no_default_value_warning_for_widgets_set_from_the_url(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from streamlit.elements.lib import policies

    from explorer import session

    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(tmp_path))
    # Streamlit checks this only under a real server, and logs it once per process: make both hold here.
    monkeypatch.setattr(policies, "runtime", SimpleNamespace(exists=lambda: True))
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    logged: list[str] = []
    monkeypatch.setattr(
        policies, "_LOGGER", SimpleNamespace(warning=lambda msg, *args, **kw: logged.append(msg % args))
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"batch": "64"})
    try:
        at.run()
        assert at.selectbox(key="batch_size").value == 64
        assert not logged, logged
    finally:
        session.registry().stop_all()

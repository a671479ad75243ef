"""Issue 12, parts 1 and 2 under AppTest: a fresh visit trains from step 0 even beside shipped demos ("Trained
demos" loads them), and the Draw tab turns a drawing into a prior both models train on, carried in the URL.

AppTest cannot run the draw pad's JavaScript; a release is faked through session_state, as explorer/draw_pad.py
describes. Every test pauses its jobs early to spare the CPU.
"""

import numpy as np
import torch
from streamlit.testing.v1 import AppTest

from aae_core.checkpoints import save_checkpoint
from aae_core.config import build_run_config
from aae_core.drawn_prior import Drawing, decode, encode
from aae_core.models import build_model
from aae_core.settings import DRAWN
from tests.apptest import APP, jobs, texts

RING = np.c_[8 * np.cos(np.linspace(0, 2 * np.pi, 40)), 8 * np.sin(np.linspace(0, 2 * np.pi, 40))].tolist()


def draw(at: AppTest, strokes: list, tags: list | None = None) -> None:
    at.session_state["tab"] = "Draw a prior"
    at.session_state["draw"] = {"drawing": {"strokes": strokes, "tags": tags or [None] * len(strokes)}}
    at.run()


def test_a_fresh_visit_trains_from_step_0_and_the_demos_are_one_click_away(tmp_path, monkeypatch, app_jobs_stop):
    cfg = build_run_config(model="aae")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "demo-aae", build_model(cfg.model), cfg, step=500)
    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert "AAE: training from scratch · VAE: training from scratch" in texts(at, "caption")
    at.button(key="pause").click().run()
    timelines = [j.snapshot().timeline for j in jobs(at).values()]
    assert all(t and t[0][0] == 0 for t in timelines), "the timeline starts at step 0"
    at.button(key="demos").click().run()
    assert "AAE: loaded demo-aae (step 500), paused; Train trains it further" in texts(at, "toast")
    assert jobs(at)["AAE"].step_count == 500 and jobs(at)["VAE"].snapshot().timeline[0][0] == 0
    assert not at.exception


def test_drawing_a_prior_and_training_on_it(app):
    draw(app, [RING, [[0, 0]]])
    assert not app.exception
    points = app.session_state["points"]
    assert decode(points).n_vertices == 41
    assert not app.button(key="draw_train").disabled
    app.button(key="draw_train").click().run()
    assert "AAE: training from scratch" in texts(app, "toast")
    found = {n: j.config.prior for n, j in jobs(app).items()}
    assert set(found) == {"AAE", "VAE"} and all(p.name == "points" and p.points == points for p in found.values())
    app.button(key="pause").click().run()
    assert app.selectbox(key="prior").value == "points" and app.number_input(key="spread").value == 0.5
    # The recipe's adversarial rates became the drawn-prior recipe's, in the sidebar and in the jobs alike.
    assert all(app.select_slider(key=k).value == v for k, v in DRAWN.items())
    assert all(j.config.train.lr_disc == DRAWN["lr_disc"] for j in jobs(app).values())
    assert app.query_params["prior"] == "points" and app.query_params["draw"] == points
    metrics = {m.label: float(m.value) for m in app.metric if "distance to the drawing" in m.label}
    assert set(metrics) == {"AAE: codes' mean distance to the drawing", "VAE: codes' mean distance to the drawing"}
    assert all(v > 0 for v in metrics.values())
    captions = texts(app, "caption")
    # A ring (mean distance across a stroke: 0.5 sqrt(2 / pi) = 0.40) and a point (0.5 sqrt(pi / 2) = 0.63) share it.
    assert "A prior sample's: 0.50 (" in captions, captions
    assert "The VAE's density is approximate: a kernel density estimate" in captions
    assert not app.warning, "the settings match the jobs: nothing asks to restart"


def test_adversarial_rates_the_user_chose_are_kept_when_training_on_a_drawing(app):
    app.select_slider(key="lr_disc").set_value(5e-4).run()
    draw(app, [RING])
    app.button(key="draw_train").click().run()
    app.button(key="pause").click().run()
    assert {(j.config.train.lr_disc, j.config.train.lr_gen) for j in jobs(app).values()} == {(5e-4, 2e-4)}
    assert not app.exception


def test_a_drawing_that_is_no_prior_yet_says_why_and_cannot_train(app):
    draw(app, [[[3, 4]]])
    assert app.session_state["points"] == ""
    assert app.button(key="draw_train").disabled
    assert "points: the drawing is a single point" in texts(app, "caption")
    app.selectbox(key="prior").select("points").run()
    assert "Draw it in the *Draw a prior* tab." in texts(app, "caption")
    assert not app.error and not app.warning, "no drawing yet: the running jobs stay, nothing is refused"


def test_tagged_strokes_train_a_label_conditioned_aae(app):
    strokes = [np.add(RING, [12 * np.cos(k), 12 * np.sin(k)]).tolist()[:10] for k in range(10)]
    draw(app, strokes, list(range(10)))
    app.checkbox(key="label_conditioned").check().run()
    app.button(key="draw_train").click().run()
    app.button(key="pause").click().run()
    aae = jobs(app)["AAE"]
    assert aae.config.model.n_label_classes == 10 and aae.prior.n_parts == 10
    assert not app.error


def test_a_link_with_a_drawing_restores_it_and_a_bad_one_is_ignored(tmp_path, monkeypatch, app_jobs_stop):
    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(tmp_path))
    good = encode(Drawing.of([[[0, 0], [5, 0], [5, 5]]]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"prior": "points", "draw": good, "spread": "0.25"})
    at.run()
    at.button(key="pause").click().run()
    assert jobs(at)["AAE"].config.prior.points == good and jobs(at)["AAE"].config.prior.spread == 0.25
    bad = AppTest.from_file(APP, default_timeout=120)
    bad.query_params.update({"prior": "points", "draw": "!!"})
    bad.run()
    assert "URL: ignored draw=!!" in texts(bad, "error")
    assert not bad.exception

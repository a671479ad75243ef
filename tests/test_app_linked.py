"""Linked views under AppTest: a hovered code shows its image and its reconstruction (the browser's hover report is
faked through session_state, as for the latent pad), and in label-conditioned mode each prior part takes its
class's colour."""

import base64

import numpy as np

from explorer.plots import PALETTE
from tests.apptest import chart_elements, jobs, texts


def code_traces(figure):
    return [t for t in figure["data"] if "customdata" in t]


def test_hovering_a_code_shows_its_image_and_reconstruction(app):
    figure = chart_elements(app)["live-scatter-AAE"][1]
    assert code_traces(figure), "codes carry their indices"
    assert "Hover a code on the scatter" in texts(app, "caption")
    images_before = len(app.get("image"))
    app.session_state["live-scatter-AAE"] = {"hover": 7}
    app.run()
    assert not app.exception
    label = jobs(app)["AAE"].eval_y[7]
    assert f"Held-out image #7, label {label}: original (top) and its reconstruction (bottom)" in texts(app, "caption")
    assert len(app.get("image")) == images_before + 1, "one picture: the image above its reconstruction"
    app.session_state["live-scatter-AAE"] = {"hover": 10**9}
    app.run()
    assert not app.exception and "Hover a code on the scatter" in texts(app, "caption"), "an index out of range"


def test_hovering_a_code_on_a_timeline_frame_shows_that_image(app):
    app.session_state["tab"] = "Timeline"
    app.run()
    assert code_traces(chart_elements(app)["tl-scatter-VAE"][1]), "a frame's codes carry their indices"
    app.session_state["tl-scatter-VAE"] = {"hover": 3}
    app.run()
    assert not app.exception
    label = jobs(app)["VAE"].eval_y[3]
    assert f"Held-out image #3, label {label}: original (top) and its reconstruction (bottom)" in texts(app, "caption")


def test_each_code_carries_its_held_out_index(app):
    figure = chart_elements(app)["live-scatter-AAE"][1]
    job = jobs(app)["AAE"]
    for trace in code_traces(figure):
        data = trace["customdata"]  # a list, or plotly's typed base64 array
        idx = (
            np.frombuffer(base64.b64decode(data["bdata"]), data["dtype"]) if isinstance(data, dict) else np.array(data)
        )
        assert len(idx) and idx.dtype.kind in "iu"
        assert len(set(job.eval_y[idx].tolist())) == 1, "one trace per class, each index a code of that class"
        assert trace["name"] == str(job.eval_y[idx][0])


def test_label_conditioned_prior_parts_take_their_class_colour(app):
    app.button(key="preset-Mixture, label-conditioned (Fig. 4)").click().run()
    app.button(key="pause").click().run()
    figure = chart_elements(app)["live-scatter-AAE"][1]
    parts = {t["name"]: t for t in figure["data"] if t["name"].startswith("prior part")}
    assert len(parts) == 10
    codes = {t["name"]: t for t in code_traces(figure)}
    for c in range(10):
        assert parts[f"prior part {c}"]["marker"]["color"] == PALETTE[c] == codes[str(c)]["marker"]["color"]
        assert parts[f"prior part {c}"]["legendgroup"] == codes[str(c)]["legendgroup"] == str(c)
    assert "images" not in figure["layout"], "parts as coloured samples, not one-colour contours"

"""The categorical models in the app: picked in the sidebar, trained beside the VAE, drawn in their own tab, and
left out (with a word) of the views whose decoder takes a code alone."""

import pytest

from tests.apptest import chart_elements, jobs, texts


def pick(app, model: str, **numbers) -> None:
    app.selectbox(key="model").select(model).run()
    for key, value in numbers.items():
        app.number_input(key=key).set_value(value).run()
    app.button(key="apply").click().run()
    app.button(key="pause").click().run()
    for _ in range(3):
        app.button(key="step").click().run()
    assert not app.exception, app.exception


def test_semisupervised_shows_its_live_error_beside_the_baseline(app):
    pick(app, "semisupervised", labels=200)
    running = jobs(app)
    assert set(running) == {"Semi-supervised AAE", "VAE"}
    assert running["Semi-supervised AAE"].config.train.n_labels == 200
    app.session_state["tab"] = "Classes & clusters"
    app.run()
    assert not app.exception and not app.error
    assert [m.label for m in app.metric if m.label == "held-out error"] == ["held-out error"]
    figure = chart_elements(app)["cat-error-Semi-supervised AAE"][1]
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["semi-supervised AAE", "logistic regression on the 200 labelled images alone"]
    assert 0.1 < figure["data"][1]["y"][0] < 0.4  # the baseline measured on the run's own labels
    assert "cat-codes-Semi-supervised AAE" in chart_elements(app)
    matrix = app.dataframe[0].value
    assert matrix.shape == (10, 10) and int(matrix.to_numpy().sum()) == 1000


def test_clusters_get_one_row_each_with_label_and_purity(app):
    pick(app, "cluster", clusters=5)
    assert jobs(app)["Clustering AAE"].config.model.n_categories == 5
    app.session_state["tab"] = "Classes & clusters"
    app.run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert list(table.columns) == ["cluster", "majority label", "purity", "training images"] and len(table) == 5
    assert int(table["training images"].sum()) == 4000
    assert {m.label for m in app.metric} >= {"cluster error (paper's rule)", "clusters used"}


@pytest.mark.parametrize("tab", ["Decoded", "Latent pad"])
def test_supervised_has_its_grid_and_the_decoder_views_say_where_it_is(app, tab):
    pick(app, "supervised")
    app.session_state["tab"] = "Classes & clusters"
    app.run()
    assert not app.exception and not app.error
    assert "Style × digit" in texts(app, "markdown") and len(app.get("image")) == 2
    app.slider(key="cat-style-z1").set_value(4.0).run()
    assert "Every digit in the style z = (4.00, 0.00)" in texts(app, "markdown")
    assert {m.label for m in app.metric} >= {"requested-label accuracy", "5-NN accuracy of the style z"}
    app.session_state["tab"] = tab
    app.run()
    assert not app.exception and not app.error
    assert "Supervised AAE: its decoder needs a class or cluster beside z" in texts(app, "caption")


def test_the_tab_asks_for_a_categorical_model(app):
    app.session_state["tab"] = "Classes & clusters"
    app.run()
    assert "Pick one of the paper's categorical models" in texts(app, "info")

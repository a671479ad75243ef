"""The app's settings table without Streamlit: the URL codec and which changes need a restart."""

from aae_core.config import build_run_config
from explorer.settings import Settings, changed_settings, query_of, settings_from_query


def test_the_url_round_trips_and_refuses_values_outside_a_rows_domain():
    s = Settings(prior="mixture", n_parts=7, lr_disc=3e-4, label_conditioned=True)
    assert query_of(s) == {"prior": "mixture", "k": "7", "lr_disc": "0.0003", "cond": "true"}
    found, ignored = settings_from_query(query_of(s) | {"dim": "banana", "std": "inf", "batch": "0"})
    assert found == {"prior": "mixture", "n_parts": 7, "lr_disc": 3e-4, "label_conditioned": True}
    assert sorted(ignored) == ["batch=0", "dim=banana", "std=inf"]


def test_only_settings_that_mean_something_ask_for_a_restart():
    base = dict(prior="mixture", input_dim=64)
    assert changed_settings(build_run_config(**base), build_run_config(**base, lr_disc=1e-3, epochs=5)) == []
    # the label fraction means nothing unconditioned, and sigma nothing for a mixture
    assert changed_settings(build_run_config(**base), build_run_config(**base, label_fraction=0.5, prior_std=2)) == []
    cond = dict(base, label_conditioned=True)
    assert changed_settings(build_run_config(**cond), build_run_config(**cond, label_fraction=0.5)) == [
        "label_fraction"
    ]
    assert changed_settings(build_run_config(**base), build_run_config(**base, n_parts=5, seed=1)) == [
        "n_parts",
        "seed",
    ]

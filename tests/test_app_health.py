"""Training health in the app (AppTest): each "failure on purpose" preset drives real training into its failure,
and the page names it in one line with a fix; the BatchNorm option has its checkbox. The step counts are where
each failure shows on mnist5k (digits for the collapse) with seed 0: see aae_core/health.py's measurements."""

import time

import pytest

from explorer.settings import FAILURES
from tests.apptest import jobs, texts


def train_until(app, model: str, steps: int, timeout: float = 240.0):
    """Let the preset's jobs train until `model` has taken `steps` steps, then pause them and redraw."""
    job = jobs(app)[model]
    deadline = time.monotonic() + timeout
    while job.step_count < steps and time.monotonic() < deadline:
        time.sleep(0.2)
    app.button(key="pause").click().run()
    assert job.snapshot().step >= steps, f"{model} reached only {job.snapshot().step} steps"
    return app


@pytest.mark.parametrize(
    "preset, model, steps, message",
    [
        ("Adversary too fast", "AAE", 450, "The discriminator is winning"),
        ("Prior scale mismatch", "AAE", 450, "Codes are drifting off the prior"),
        ("BatchNorm in the discriminator", "AAE", 1200, "Codes are drifting off the prior"),
        ("VAE posterior collapse (digits)", "VAE", 450, "Posterior collapse"),
    ],
)
def test_each_failure_preset_leads_to_its_health_message(app, preset, model, steps, message):
    assert message not in texts(app, "warning"), "the recipe's first steps are healthy"
    app.button(key=f"failure-{preset}").click().run()
    assert not app.exception
    failure = FAILURES[preset]
    assert f"watch for {failure.shows}; to fix it, {failure.fix}" in texts(app, "caption")
    train_until(app, model, steps)
    warnings = [w for w in texts(app, "warning").split(" | ") if message in w]
    assert len(warnings) == 1, texts(app, "warning")
    assert warnings[0].count(". ") == 1, "one line: what is seen, then what to try"


def test_the_recipe_stays_healthy_over_the_same_steps(app):
    app.button(key="train").click().run()
    train_until(app, "AAE", 450)
    assert not app.warning, texts(app, "warning")


def test_batchnorm_checkbox_sets_the_discriminator_and_asks_before_restarting(app):
    assert app.checkbox(key="disc_batchnorm").value is False
    app.checkbox(key="disc_batchnorm").check().run()
    assert "batchnorm in the discriminator" in texts(app, "warning") and "restarts training" in texts(app, "warning")
    app.button(key="apply").click().run()
    assert jobs(app)["AAE"].config.model.disc_batchnorm is True
    assert jobs(app)["VAE"].config.model.disc_batchnorm is False, "a VAE has no discriminator"
    assert app.query_params["dbn"] == ["true"] or app.query_params["dbn"] == "true"

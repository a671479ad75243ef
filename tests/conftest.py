"""Shared fixtures: small real datasets, deterministic torch settings, and the explorer's first visit under AppTest.

Streamlit and the app are imported inside their fixtures, so suites that never use them do not pay for the import.
"""

import threading

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


@pytest.fixture
def app_jobs_stop():
    """After the test: stop every job the app's registry holds, and check that their threads are gone."""
    from explorer import session

    yield
    session.registry().stop_all()
    assert not [t for t in threading.enumerate() if t.name.startswith("aae-job")], "the app's jobs all stopped"


@pytest.fixture
def app(tmp_path, monkeypatch, app_jobs_stop):
    """A first visit with an empty checkpoint folder, so the page starts training by itself; the jobs are paused."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import APP, texts

    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.first_run_info, at.first_run_toasts = texts(at, "caption"), texts(at, "toast")
    at.button(key="pause").click().run()
    return at

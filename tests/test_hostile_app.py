"""The red-team attacks on the app (issue 15, and items 3, 4, 9 of issue 14), kept as AppTest tests: crafted share
links, file names and checkpoint metadata render as plain text, bounded; a bad checkpoint costs its own row; loaded
settings keep their true values; saves stay apart from the shipped demos; uploads are budgeted and clearly refused."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from aae_core.checkpoints import save_checkpoint
from aae_core.config import build_run_config
from aae_core.models import build_model
from aae_core.uploads import UploadBudget
from explorer import actions, session
from tests.apptest import APP
from tests.helpers import npz_bytes, rewrite_meta

PAYLOAD = "[click me](http://evil.example/x) ![beacon](http://evil.example/b.png) :red[ALERT] <b>bold</b> **loud**"
# A markdown character not preceded by a backslash: what would let the payload become a link, image or colour.
UNESCAPED = re.compile(r"(?<!\\)[\[\]()<>!:*_`]")


@pytest.fixture
def folders(tmp_path, monkeypatch, app_jobs_stop):
    """Empty shipped-demo and user folders, so a first visit trains unless a test puts a checkpoint there."""
    demos, user = tmp_path / "demos", tmp_path / "user"
    demos.mkdir()
    monkeypatch.setenv("AAE_EXPLORER_CHECKPOINTS", str(demos))
    monkeypatch.setenv("AAE_EXPLORER_USER_CHECKPOINTS", str(user))
    return demos, user


def visit(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    at.first_errors = [str(e.value) for e in at.error]  # flash messages last one run; pausing reruns the page
    pause(at)
    return at


def pause(at: AppTest) -> None:
    """Pause the session's jobs, if they run, to spare the CPU."""
    if any(b.key == "pause" for b in at.button):
        at.button(key="pause").click().run()


def messages(at) -> list[str]:
    return [str(e.value) for kind in ("error", "toast", "warning", "caption") for e in getattr(at, kind)]


def tables(at: AppTest) -> list:
    """The checkpoint tables on the page, yours first (absent while you have no saves), then the shipped demos."""
    return [d.value for d in at.dataframe]


def plain(text: str) -> str:
    """The text as a person reads it: without the backslash escapes and the invisible autolink breakers."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")


def default_checkpoint(folder: Path, name: str, kind: str = "aae", step: int = 5, **train) -> Path:
    """A checkpoint with the app's first-visit settings (so "Trained demos" loads it), trained settings `train`."""
    cfg = build_run_config(model=kind, **train)
    torch.manual_seed(0)
    return save_checkpoint(folder / name, build_model(cfg.model), cfg, step=step)


# ---- item 3: markdown injection -----------------------------------------------------------------


def test_share_link_payload_is_plain_text_and_bounded(folders):
    at = visit({"prior": PAYLOAD, "dim": "x" * 100_000})
    errors = at.first_errors
    assert any("evil.example" in plain(e) for e in errors), errors
    for e in errors:
        assert not UNESCAPED.search(e), e
        assert len(e) < 800, "a 100 KB value is not echoed whole"
    assert plain(next(e for e in errors if "evil" in e)).startswith("URL: ignored prior=[click me](http://evil")


def test_uploaded_file_name_payload_is_plain_text(folders):
    at = visit()
    at.selectbox(key="dataset").select("upload").run()
    name = "[click me](javascript:alert(1)) ![beacon](beacon.png) :red[ALERT] <img src=x onerror=alert(1)> **loud**.npz"
    at.file_uploader[0].set_value((name, b"not a zip at all", "application/octet-stream")).run()
    (error,) = [str(e.value) for e in at.error]
    assert plain(error).startswith(name) and not UNESCAPED.search(error)
    assert "aae-upload-" not in error and "/tmp" not in error, "the server's temp path is never shown"


def test_checkpoint_dataset_name_payload_is_plain_text(folders):
    demos, _ = folders
    path = default_checkpoint(demos, "crafted")
    rewrite_meta(
        path, lambda m: (m.update(dataset=f"upload:{PAYLOAD}"), m["config"].update(dataset=f"upload:{PAYLOAD}"))
    )
    at = visit()
    at.session_state["tab"] = "Checkpoints & export"
    at.run()
    at.selectbox(key="ckpt_pick").select(("demo", "crafted")).run()
    at.button(key="load").click().run()
    (error,) = [str(e.value) for e in at.error]
    assert "upload that file again first" in plain(error) and not UNESCAPED.search(error)


# ---- item 4: crafted metadata costs one row, never the page ------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(step="12"),
        lambda m: m.update(step=10**30),
        lambda m: m.update(metrics=[1]),
        lambda m: m.update(prior="gaussian"),
        lambda m: m.update(history={"step": [1, 2], "recon": [1]}),
    ],
    ids=["step-str", "step-huge", "metrics-list", "prior-str", "history-ragged"],
)
def test_crafted_default_checkpoint_costs_its_own_row(folders, change):
    demos, _ = folders
    rewrite_meta(default_checkpoint(demos, "crafted", step=10**6), change)
    default_checkpoint(demos, "fine-vae", kind="vae", step=7)
    at = visit()
    assert set(session.registry().jobs(at.query_params["owner"])) == {"AAE", "VAE"}
    at.session_state["tab"] = "Checkpoints & export"
    at.run()
    assert not at.exception
    (shipped,) = tables(at)
    rows = dict(zip(shipped["name"], shipped["model"]))
    assert rows == {"crafted": "unreadable", "fine-vae": "VAE"}
    assert at.selectbox(key="ckpt_pick").options == ["fine-vae (shipped demo)"]


# ---- item 6: loaded settings keep their true values ---------------------------------------------


def test_loaded_checkpoint_keeps_values_the_widgets_did_not_offer(folders):
    demos, _ = folders
    default_checkpoint(demos, "odd", lr_disc=3e-4, disc_noise=0.3, batch_size=50, seed=7)
    at = visit()
    at.button(key="demos").click().run()
    assert at.select_slider(key="lr_disc").value == 3e-4 and at.select_slider(key="disc_noise").value == 0.3
    assert at.selectbox(key="batch_size").value == 50 and at.number_input(key="seed").value == 7
    assert not at.warning, "nothing was clamped, so nothing asks to restart"
    aae = session.registry().jobs(at.query_params["owner"])["AAE"]
    assert (aae.train_settings.lr_disc, aae.train_settings.disc_noise) == (3e-4, 0.3), "no clamped value pushed"
    assert at.query_params["lr_disc"] == "0.0003"
    again = visit(dict(at.query_params) | {"owner": ""})
    assert not again.first_errors and again.select_slider(key="lr_disc").value == 3e-4, "the share link restores it"


# ---- issue 14 item 9, issue 15 items 10 and 16: saves apart from the shipped demos ----------------


def test_saves_go_to_the_user_folder_and_never_replace_a_demo_or_each_other(folders):
    demos, user = folders
    default_checkpoint(demos, "demo-aae", step=5)
    at = visit()
    at.button(key="demos").click().run()
    at.session_state["tab"] = "Checkpoints & export"
    at.run()
    at.button(key="step").click().run()
    at.text_input(key="ckpt_name").input("demo").run()
    at.button(key="save").click().run()
    assert (user / "demo-aae.safetensors").is_file() and not (demos / "demo-vae.safetensors").exists()
    yours, shipped = tables(at)
    assert list(yours["name"]) == ["demo-aae", "demo-vae"] and list(shipped["name"]) == ["demo-aae"]
    before = (user / "demo-aae.safetensors").read_bytes()
    at.button(key="save").click().run()
    assert "already exists" in plain(" ".join(str(e.value) for e in at.error))
    assert (user / "demo-aae.safetensors").read_bytes() == before, "a second save of the name replaces nothing"
    at.checkbox(key="ckpt_replace").check().run()
    at.button(key="save").click().run()
    assert not at.error
    # "Trained demos" (and a preset) starts from the shipped demo, not from a user save of the same settings with
    # more steps. (AppTest gives every instance one session, so this asks the function the first visit calls.)
    saved = session.registry().jobs(at.query_params["owner"])["AAE"]
    assert saved.step_count == 6 and actions.matching_checkpoint(saved.config) == demos / "demo-aae.safetensors"
    columns = tables(at)[1].columns
    assert {"kNN acc", "MMD²", "coverage"} <= set(columns) and len(columns) <= 10, "metric columns fit the page"


def test_default_save_name_from_an_upload_is_valid(folders):
    at = visit()
    at.selectbox(key="dataset").select("upload").run()
    buf = io.BytesIO()
    np.savez(buf, x=np.random.default_rng(0).random((200, 8, 8)))
    at.file_uploader[0].set_value(("my data (1).npz", buf.getvalue(), "application/octet-stream")).run()
    at.button(key="apply").click().run()
    at.session_state["tab"] = "Checkpoints & export"
    at.run()
    name = at.text_input(key="ckpt_name").value
    assert name == "gaussian-upload-my-data-1-.npz"
    pause(at)
    at.button(key="save").click().run()
    assert not at.error and "saved gaussian-upload-my-data-1-.npz-aae.safetensors" in plain(" ".join(messages(at)))


# ---- issue 14 items 3 and 4, issue 15 items 1, 2, 14: uploads --------------------------------------


def test_upload_errors_then_a_good_file(folders):
    from sklearn.datasets import load_digits

    at = visit()
    at.selectbox(key="dataset").select("upload").run()
    assert not at.error, "no stale 'choose a file' error while the uploader is empty"
    at.file_uploader[0].set_value(("x.npz", np.random.default_rng(0).bytes(500), "application/octet-stream")).run()
    errors = [plain(str(e.value)) for e in at.error]
    assert errors == ["x.npz: not an .npz file (an .npz is a zip archive: save arrays with np.savez)"]
    assert at.file_uploader[0].value in (None, []), "the refused file left the uploader"
    at.file_uploader[0].set_value(("a.npy", b"\x93NUMPY" + bytes(100), "application/octet-stream")).run()
    assert "save it as an .npz with np.savez" in plain(" ".join(str(e.value) for e in at.error))
    d = load_digits()
    at.file_uploader[0].set_value(("digits.npz", npz_bytes(x=d.images, y=d.target), "application/octet-stream")).run()
    assert not at.error
    toast = plain(" ".join(str(t.value) for t in at.toast))
    assert "upload:digits.npz: 1438 training and 359 held-out images of 8×8, 10 classes" in toast
    assert "divided by their maximum 16" in toast
    assert float(at.session_state["_upload"].x_train.max()) == 1.0


def test_too_few_images_to_train_are_refused_at_upload(folders):
    at = visit()
    at.selectbox(key="dataset").select("upload").run()
    at.file_uploader[0].set_value(("few.npz", npz_bytes(x=np.random.default_rng(0).random((19, 8, 8))), "a/b")).run()
    assert "fewer than the smallest batch (16); upload at least 20" in plain(" ".join(str(e.value) for e in at.error))


def test_uploads_share_one_server_budget(folders, monkeypatch):
    """Each session kept its upload (~400 MB from < 1 MB) even after switching back to a built-in dataset."""
    budget = UploadBudget(200_000)
    monkeypatch.setattr(session, "upload_budget", lambda: budget)
    blob = npz_bytes(x=np.zeros((40, 28, 28), np.uint8))  # 40 x 784 float32 = 125 KB held
    first = visit()
    first.selectbox(key="dataset").select("upload").run()
    first.file_uploader[0].set_value(("a.npz", blob, "a/b")).run()
    assert not first.error and session.upload_budget().held() == 40 * 784 * 4
    second = visit()
    second.selectbox(key="dataset").select("upload").run()
    second.file_uploader[0].set_value(("b.npz", blob, "a/b")).run()
    assert "more than the limit" in plain(" ".join(str(e.value) for e in second.error))
    first.selectbox(key="dataset").select("mnist5k").run()  # no job trains on the upload: it is dropped
    import gc

    gc.collect()
    assert session.upload_budget().held() == 0
    second.file_uploader[0].set_value(("b.npz", blob, "a/b")).run()
    assert not second.error


# ---- item 9: latent dimension 1 ---------------------------------------------------------------------


def test_latent_dim_1_decodes_and_exports(folders):
    at = visit({"dim": "1"})
    at.session_state["tab"] = "Decoded"
    at.run()
    assert not at.exception and not at.error
    assert len(at.get("image")) == 6


def test_save_into_a_folder_that_cannot_exist_is_one_error(folders, monkeypatch):
    """Item 7: a bad save destination surfaced only as a traceback, after the work."""
    demos, _ = folders
    (demos / "afile").write_text("x")
    monkeypatch.setenv("AAE_EXPLORER_USER_CHECKPOINTS", str(demos / "afile" / "user"))
    at = visit()
    at.session_state["tab"] = "Checkpoints & export"
    at.run()
    at.button(key="save").click().run()
    assert not at.exception
    (error,) = [plain(str(e.value)) for e in at.error]
    assert "afile" in error and "is a file, not a folder" in error

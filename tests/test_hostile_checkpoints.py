"""Crafted checkpoint metadata (issue 15 items 4, 17, 19): every field the app or the CLI reads is checked on load,
a bad file is refused in one line and costs only its own row in a listing, and a huge header is refused unparsed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from aae_core import checkpoints
from aae_core.checkpoints import META_KEY, list_checkpoints, load_checkpoint, read_metadata, safe_name, save_checkpoint
from aae_core.config import AAEError, build_run_config
from aae_core.models import build_model
from tests.helpers import rewrite_meta


@pytest.fixture
def good(tmp_path) -> Path:
    config = build_run_config(model="aae", prior="mixture", input_dim=64)
    torch.manual_seed(0)
    return save_checkpoint(
        tmp_path / "good",
        build_model(config.model),
        config,
        step=3,
        metrics={"knn_accuracy": 0.5},
        history={"step": [1, 2], "recon": [0.5, None]},
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m.update(step="12"), "step='12'"),
        (lambda m: m.update(step=1.5), "step=1.5"),
        (lambda m: m.update(step=10**30), "step=1000000000000000000000000000000"),
        (lambda m: m.update(step=-1), "step=-1"),
        (lambda m: m.update(step=True), "step=True"),
        (lambda m: m.update(metrics=[1, 2]), "metrics="),
        (lambda m: m.update(metrics={"knn_accuracy": "high"}), "metrics="),
        (lambda m: m.update(metrics={f"m{i}": 1 for i in range(1000)}), "metrics="),
        (lambda m: m.update(prior="gaussian"), "prior='gaussian'"),
        (lambda m: m.update(prior={"name": "mixture"}), "prior="),
        (lambda m: m.update(history={"step": [1, 2], "recon": [1]}), "history="),
        (lambda m: m.update(history={"step": "abc"}), "history="),
        (lambda m: m.update(history={"recon": [1.0]}), "history="),
        (lambda m: m.update(history={"step": [[1]]}), "history="),
        (lambda m: m.update(dataset="digits"), "dataset='digits': disagrees"),
        (lambda m: (m.update(dataset="x" * 300), m["config"].update(dataset="x" * 300)), "1-200 printable characters"),
        (lambda m: m.update(seed="0"), "seed='0'"),
    ],
)
def test_crafted_fields_are_refused_on_load_and_cost_one_row(good, tmp_path, change, match):
    rewrite_meta(good, change)
    save_checkpoint(tmp_path / "other", *_fresh(), step=1)
    with pytest.raises(AAEError, match=match) as e:
        read_metadata(good)
    assert "\n" not in str(e.value) and len(str(e.value)) < 500, "quoted values are bounded"
    listed = dict(list_checkpoints(tmp_path))
    assert isinstance(listed[good], str) and isinstance(listed[tmp_path / "other.safetensors"], dict)


def _fresh():
    config = build_run_config(model="vae", prior="gaussian", input_dim=64)
    return build_model(config.model), config


def test_a_huge_header_is_refused_before_it_is_parsed(good, monkeypatch):
    """Item 19: 99 MB of metadata was parsed on every first visit; now its first 8 bytes are enough."""
    rewrite_meta(good, lambda m: m.update(padding="x" * (2 << 20)))
    parsed = []
    monkeypatch.setattr(checkpoints, "safe_open", lambda *a, **k: parsed.append(a) or pytest.fail("parsed"))
    with pytest.raises(AAEError, match="this tool writes at most 1048576 bytes of metadata"):
        read_metadata(good)
    assert not parsed


def test_listing_reads_each_file_once_per_version(good, monkeypatch):
    list_checkpoints(good.parent)
    reads = []
    real = checkpoints.read_metadata
    monkeypatch.setattr(checkpoints, "read_metadata", lambda p: reads.append(p) or real(p))
    for _ in range(3):
        assert isinstance(dict(list_checkpoints(good.parent))[good], dict)
    assert reads == []
    rewrite_meta(good, lambda m: m.update(step=4))
    os.utime(good, ns=(1, 1))
    assert dict(list_checkpoints(good.parent))[good]["step"] == 4 and reads == [good]


def test_deep_json_and_odd_files_get_their_own_message(tmp_path):
    """Item 17: too-deep JSON was 'not valid JSON'; a folder or FIFO was 'no such checkpoint'."""
    deep = tmp_path / "deep.safetensors"
    deep.write_bytes(save({"w": torch.zeros(2)}, metadata={META_KEY: "[" * 100_000 + "]" * 100_000}))
    with pytest.raises(AAEError, match="nested too deeply"):
        read_metadata(deep)
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(AAEError, match="a folder, not a checkpoint"):
        read_metadata(tmp_path / "dir")
    os.mkfifo(tmp_path / "fifo.safetensors")
    with pytest.raises(AAEError, match="not a regular file, not a checkpoint"):
        load_checkpoint(tmp_path / "fifo")


def test_nan_weights_are_called_nan_not_a_dtype_problem(good):
    with checkpoints.safe_open(good, framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors["decoder.0.bias"][0] = float("nan")
    good.write_bytes(save(tensors, metadata=meta))
    with pytest.raises(AAEError, match="decoder.0.bias holds NaN or inf values"):
        load_checkpoint(good)


@pytest.mark.parametrize(
    "text, name",
    [
        ("gaussian-upload:my data (1).npz", "gaussian-upload-my-data-1-.npz"),
        ("../../x", "x"),
        ("", "model"),
        ("ｅｖｉｌ", "model"),
    ],
)
def test_safe_name_makes_a_valid_checkpoint_name(text, name):
    """Item 16: the default save name derived from an upload was invalid."""
    assert safe_name(text) == name
    checkpoints.validate_name(safe_name(text))


def test_per_component_metric_lists_are_accepted_but_bounded(tmp_path):
    from aae_core.checkpoints import read_metadata, save_checkpoint
    from aae_core.config import build_run_config
    from aae_core.models import build_model

    config = build_run_config(model="aae", prior="mixture")
    model = build_model(config.model)
    good = save_checkpoint(tmp_path / "good", model, config, step=1, metrics={"component_shares": [0.1] * 10})
    assert read_metadata(good)["metrics"]["component_shares"] == [0.1] * 10
    bad = save_checkpoint(tmp_path / "bad", model, config, step=1, metrics={"component_shares": [0.1] * 100_000})
    with pytest.raises(AAEError, match="lists of at most"):
        read_metadata(bad)

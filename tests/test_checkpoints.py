"""Checkpoints: a round trip reproduces the model exactly; corrupt and foreign files are refused in one line."""

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from aae_core.checkpoints import (
    ADDED,
    FORMAT_VERSION,
    Checkpoint,
    list_checkpoints,
    load_checkpoint,
    path_for,
    read_metadata,
    save_checkpoint,
)
from aae_core.config import AAEError, build_run_config
from aae_core.models import build_model


@pytest.fixture
def saved(tmp_path):
    config = build_run_config(model="aae", prior="mixture", label_conditioned=True)
    torch.manual_seed(0)
    model = build_model(config.model)
    path = save_checkpoint(tmp_path / "demo", model, config, step=7, metrics={"prior_mmd": 0.5})
    return path, model, config


def test_round_trip_gives_identical_outputs(saved):
    path, model, config = saved
    ck = load_checkpoint(path)
    x = torch.rand(16, 784)
    z = torch.randn(16, 2)
    d_in = torch.randn(16, 2 + 11)
    assert torch.equal(ck.model.encode(x), model.eval().encode(x))
    assert torch.equal(ck.model.decode(z), model.decode(z))
    assert torch.equal(ck.model.discriminator(d_in), model.discriminator(d_in))
    assert ck.config == config and ck.meta["step"] == 7 and ck.meta["metrics"] == {"prior_mmd": 0.5}
    assert ck.config.prior.name == "mixture" and ck.meta["format_version"] == FORMAT_VERSION


def test_vae_round_trip_and_half_precision(tmp_path):
    config = build_run_config(model="vae", prior="gaussian")
    model = build_model(config.model)
    path = save_checkpoint(tmp_path / "vae", model, config, step=1, half=True)
    ck = load_checkpoint(path)
    z = torch.randn(8, 2)
    assert (ck.model.decode(z) - model.decode(z)).abs().max() < 2e-3
    assert ck.model.decoder[0].weight.dtype == torch.float32


def test_suffix_is_optional_and_no_temp_files_remain(saved, tmp_path):
    path, _, _ = saved
    assert load_checkpoint(tmp_path / "demo").path == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.safetensors"]


@pytest.mark.parametrize("keep", [0, 7, 100, 5000])
def test_truncated_file_is_refused(saved, keep):
    path, _, _ = saved
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(AAEError, match="demo.safetensors") as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value)


def test_random_bytes_and_pickles_are_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04\x95" + b"x" * 200)  # starts like a pickle
    with pytest.raises(AAEError, match="not a valid safetensors file"):
        load_checkpoint(junk)


def test_foreign_safetensors_is_refused(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other), metadata={"format": "pt"})
    with pytest.raises(AAEError, match="not an AAE Explorer checkpoint"):
        load_checkpoint(other)


def rewrite_meta(path, change):
    """Rewrite the JSON metadata inside a checkpoint's safetensors header."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["aae_explorer"])
    change(meta)
    header["__metadata__"]["aae_explorer"] = json.dumps(meta)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=99), "format_version 99"),
        (lambda m: m["config"]["prior"].update(name="banana"), "prior='banana'"),
        (lambda m: m["config"]["model"].update(hidden=[128, 128]), "shape"),
        (lambda m: m["config"]["model"].update(latent_dim=3), "latent_dim"),
        (lambda m: m.update(kind="vae"), "kind"),
        (lambda m: m.pop("config"), "config"),
    ],
)
def test_mismatched_metadata_is_refused(saved, change, message):
    path, _, _ = saved
    rewrite_meta(path, change)
    with pytest.raises(AAEError, match=message):
        load_checkpoint(path)


def test_list_shows_readable_ones_and_why_others_are_not(saved, tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"nope")
    listing = dict((p.name, m) for p, m in list_checkpoints(tmp_path))
    assert listing["demo.safetensors"]["step"] == 7
    assert isinstance(listing["broken.safetensors"], str) and "not a valid" in listing["broken.safetensors"]
    assert read_metadata(saved[0])["run_config"].dataset == "mnist5k"


@pytest.mark.parametrize("name", ["../evil", "/abs/path", "a/b", "..", ".hidden", "x" * 65, "", "a\x00b"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(AAEError, match="checkpoint name"):
        path_for(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_good_name_stays_inside_its_folder(tmp_path):
    assert path_for("aae-mixture_v1.2", tmp_path) == tmp_path / "aae-mixture_v1.2.safetensors"


def _older_file(saved, tmp_path, version: int, removed: dict) -> Checkpoint:
    """The saved checkpoint rewritten as a file of `version`, without the config fields in `removed`, loaded."""
    path, model, _ = saved
    meta = read_metadata(path)
    meta.pop("run_config")
    meta["format_version"] = version
    for section, keys in removed.items():
        for key in keys:
            del meta["config"][section][key]
    old = tmp_path / f"v{version}.safetensors"
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, old, metadata={"aae_explorer": json.dumps(meta)}
    )
    return load_checkpoint(old)


def test_version_1_files_load_with_the_constant_rates_they_were_trained_with(saved, tmp_path):
    _, model, config = saved
    ck = _older_file(
        saved, tmp_path, 1, {"train": ("epochs", "cool_fraction", "cool_factor"), "prior": ("roll_radius",)}
    )
    assert ck.config.train.cool_fraction == 0.0 and ck.config.train.lr_recon == config.train.lr_recon
    assert ck.config.prior.roll_radius == 3.0 and ck.meta["format_version"] == FORMAT_VERSION
    x = torch.rand(4, 784)
    assert torch.equal(ck.model.encode(x), model.eval().encode(x))


def test_files_without_the_fields_added_since_version_3_load_as_what_they_meant(saved, tmp_path):
    ck = _older_file(saved, tmp_path, 3, ADDED)
    assert ck.config.train.holdout == 0 and ck.meta["format_version"] == FORMAT_VERSION
    assert ck.config.model.disc_batchnorm is False and ck.config.prior.points == ""

"""Checkpoints are files people download and share: loading one must never run code, a bad one is refused
in one line, and saving is atomic even when the writer is killed or two writers race."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from aae_core.checkpoints import (
    META_KEY,
    list_checkpoints,
    load_checkpoint,
    path_for,
    read_metadata,
    save_checkpoint,
    validate_name,
)
from aae_core.config import AAEError, build_run_config
from aae_core.models import build_model

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = Path(tempfile.gettempdir()) / "aae-checkpoint-payload-ran"


class Payload:
    """Unpickling this creates SENTINEL: proof that a loader executed the file."""

    def __reduce__(self):
        return (os.system, (f"touch {SENTINEL}",))


@pytest.fixture
def config():
    return build_run_config(model="aae", prior="mixture", input_dim=64)


@pytest.fixture
def good(tmp_path, config) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "good", build_model(config.model), config, step=3)


def refused(path: Path, match: str | None = None) -> str:
    """Loading refuses with one AAEError line naming the file; listing the folder still works and, where the
    metadata itself is bad, shows the same reason."""
    with pytest.raises(AAEError, match=match) as e:
        load_checkpoint(path)
    message = str(e.value)
    assert "\n" not in message and path.name in message
    listed = dict(list_checkpoints(path.parent))[path]
    assert listed == message or isinstance(listed, dict)
    return message


def rewrite_header(path: Path, change) -> None:
    """Edit a checkpoint's safetensors header (the JSON before the tensor bytes) in place."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    change(header)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


def rewrite_meta(path: Path, change) -> None:
    def edit(header):
        meta = json.loads(header["__metadata__"][META_KEY])
        change(meta)
        header["__metadata__"][META_KEY] = json.dumps(meta)

    rewrite_header(path, edit)


# ---- files that would run code if unpickled --------------------------------------------------------


@pytest.mark.parametrize("make", ["pickle", "torch.save", "torch.save-state-dict"])
def test_code_execution_payloads_are_refused_and_never_run(tmp_path, make):
    SENTINEL.unlink(missing_ok=True)
    path = tmp_path / "evil.safetensors"
    if make == "pickle":
        path.write_bytes(pickle.dumps(Payload()))
    elif make == "torch.save":
        torch.save({"model": Payload()}, path)  # a real zip-format torch checkpoint
    else:
        torch.save({"encoder.0.weight": torch.zeros(2), "note": Payload()}, path)
    assert not SENTINEL.exists()
    refused(path, "not a valid safetensors file")
    list_checkpoints(tmp_path)
    assert not SENTINEL.exists()


def test_payload_smuggled_into_metadata_is_just_text(good):
    """Metadata is JSON: a pickle stored in it is an unknown string field and is never decoded."""
    SENTINEL.unlink(missing_ok=True)
    rewrite_meta(good, lambda m: m.update(extra=pickle.dumps(Payload()).hex()))
    assert load_checkpoint(good).meta["extra"].startswith("80")
    assert not SENTINEL.exists()


# ---- truncated and corrupted files ----------------------------------------------------------------


def test_truncated_at_every_structural_offset(good):
    raw = good.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    cuts = sorted(
        {0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, (8 + n + len(raw)) // 2, len(raw) - 4, len(raw) - 1}
    )
    for cut in cuts:
        good.write_bytes(raw[:cut])
        refused(good)
    good.write_bytes(raw)
    assert load_checkpoint(good).meta["step"] == 3


@pytest.mark.parametrize("header_len", [2**63, 2**40, 10**8 + 1])
def test_absurd_header_length(tmp_path, header_len):
    path = tmp_path / "hdr.safetensors"
    path.write_bytes(struct.pack("<Q", header_len) + b"{}" * 8)
    refused(path, "not a valid safetensors file")


def test_tensor_offsets_past_the_end(good):
    rewrite_header(good, lambda h: h["encoder.0.weight"].update(data_offsets=[0, 10**9]))
    refused(good)


@pytest.mark.parametrize(
    "meta",
    [
        "[" * 100_000 + "]" * 100_000,  # nested past Python's recursion limit: once a RecursionError
        "not json",
        "[1, 2]",
        "5",
        "NaN",
        "null",
        json.dumps({"format_version": 1, "config": 5}),
    ],
)
def test_metadata_that_is_not_a_metadata_object(tmp_path, meta):
    path = tmp_path / "odd.safetensors"
    path.write_bytes(save({"w": torch.zeros(2)}, metadata={META_KEY: meta}))
    refused(path)


# ---- valid weights, wrong metadata ----------------------------------------------------------------


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m["config"]["model"].update(hidden=[128, 128]), "shape"),
        (lambda m: m["config"]["model"].update(input_dim=784), "shape"),
        (lambda m: m["config"]["model"].update(disc_hidden=[256]), "tensors do not match"),
        (lambda m: m["config"]["prior"].update(name="laplace"), "prior='laplace'"),
        (lambda m: m["config"]["prior"].update(n_parts=0), "n_parts=0"),
        (lambda m: m.update(format_version=5), "format_version 5 is not supported"),
        (lambda m: m.update(format_version="1"), "format_version '1' is not supported"),
        (lambda m: m.pop("format_version"), "format_version None"),
        (lambda m: m.pop("config"), "no 'config'"),
        (lambda m: m["config"].pop("train"), "malformed"),
        (lambda m: m["config"]["train"].update(learning_rate=1), "malformed or unknown field"),
        (lambda m: m["config"]["model"].pop("kind"), r"config.model=\['kind'\]: fields missing"),
        (lambda m: m["config"]["train"].pop("lr_recon"), r"config.train=\['lr_recon'\]: fields missing"),
        (lambda m: m["config"]["prior"].update(dim=3), "differs from the prior's dim"),
        (lambda m: m.update(kind="vae"), "kind 'vae' disagrees"),
        (lambda m: m["config"]["model"].update(kind="vae"), "kind 'aae' disagrees|shape|tensors do not match"),
        # A crafted model size must be refused from the metadata, before a single weight is allocated.
        (lambda m: m["config"]["model"].update(hidden=[10**6, 10**6]), "more than the"),
        (lambda m: m["config"]["model"].update(hidden=[1] * 10**5), "hidden widths"),
        (lambda m: m["config"]["model"].update(latent_dim=10**9), "latent_dim"),
    ],
)
def test_mismatched_metadata(good, change, match):
    rewrite_meta(good, change)
    refused(good, match)


def retensor(path: Path, config, change) -> None:
    """Rewrite the tensors, keeping the checkpoint's metadata."""
    meta = read_metadata(path)
    meta.pop("run_config")
    tensors = {k: v.clone() for k, v in build_model(config.model).state_dict().items()}
    change(tensors)
    path.write_bytes(save(tensors, metadata={META_KEY: json.dumps(meta)}))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.pop("decoder.0.bias"), "missing \\['decoder.0.bias'\\]"),
        (lambda t: t.update(backdoor=torch.zeros(1)), "unexpected \\['backdoor'\\]"),
        (lambda t: t.update({"encoder.0.weight": t["encoder.0.weight"].T.contiguous()}), "shape"),
        (lambda t: t.update({"encoder.0.bias": t["encoder.0.bias"].double()}), "float32 or float16"),
        (lambda t: t.update({"encoder.0.bias": t["encoder.0.bias"].long()}), "float32 or float16"),
        (lambda t: t["decoder.0.weight"].__setitem__((0, 0), float("nan")), "holds NaN or inf values"),
        (lambda t: t["discriminator.0.bias"].__setitem__(0, float("inf")), "holds NaN or inf values"),
    ],
)
def test_mismatched_tensors(good, config, change, match):
    retensor(good, config, change)
    refused(good, match)


# ---- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "../../etc/passwd",
        "/etc/passwd",
        "/tmp/x",
        "a/../../b",
        "sub/dir",
        "..",
        ".",
        "",
        ".hidden",
        "~root",
        "x\n",
        "a\x00b",
        "C:\\x",
        "x" * 65,
        "-rf",
        "ｅｖｉｌ",
        "a b",
        5,
        None,
    ],
)
def test_names_with_path_tricks(tmp_path, name):
    with pytest.raises(AAEError, match="checkpoint name"):
        validate_name(name)
    with pytest.raises(AAEError, match="checkpoint name"):
        path_for(name, tmp_path)
    assert not any(tmp_path.rglob("*"))


def test_saving_over_a_symlink_replaces_the_link_not_its_target(tmp_path, config):
    target = tmp_path / "outside.txt"
    target.write_text("precious")
    folder = tmp_path / "ckpts"
    folder.mkdir()
    (folder / "link.safetensors").symlink_to(target)
    path = save_checkpoint(path_for("link", folder), build_model(config.model), config, step=1)
    assert target.read_text() == "precious"
    assert not path.is_symlink() and load_checkpoint(path).meta["step"] == 1


# ---- atomic saving -------------------------------------------------------------------------------

# Saves a paper-size model (22 MB) over and over; weights are all `i` and metadata step is `i`, so a
# reader can tell a whole checkpoint from a torn or mixed one. Prints each i once its save returned.
WRITER = textwrap.dedent("""
    import sys, torch
    from aae_core.checkpoints import save_checkpoint
    from aae_core.config import build_run_config
    from aae_core.models import build_model
    path, tag, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = build_run_config(size="paper", seed=tag)
    model = build_model(config.model)
    for i in range(1, rounds + 1):
        value = tag * 1000 + i
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(value)
        save_checkpoint(path, model, config, step=value, extra={"writer": tag})
        print(value, flush=True)
""")


def start_writer(path: Path, tag: int, rounds: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(tag), str(rounds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def assert_whole(path: Path) -> int:
    """The checkpoint at path is one writer's one save: every weight equals the value its metadata names."""
    ckpt = load_checkpoint(path)
    value = ckpt.meta["step"]
    assert ckpt.meta["writer"] == value // 1000 and ckpt.config.train.seed == value // 1000
    for k, v in ckpt.model.state_dict().items():
        assert bool((v == value).all()), f"{k} is not all {value}: a torn or mixed checkpoint"
    return value


def test_sigkill_mid_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "run.safetensors"
    caught_mid_write = 0
    for _ in range(4):
        writer = start_writer(path, tag=1, rounds=10_000)
        try:
            assert writer.stdout.readline().strip()  # at least one complete save exists
            deadline = time.monotonic() + 20
            while not list(tmp_path.glob(".run.safetensors.tmp-*")) and time.monotonic() < deadline:
                pass  # spin: kill the moment the next temp file appears
            writer.send_signal(signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(10)
        caught_mid_write += bool(list(tmp_path.glob(".run.safetensors.tmp-*")))
        assert_whole(path)
        assert [p for p, _ in list_checkpoints(tmp_path)] == [path]  # stray temp files are not checkpoints
    assert caught_mid_write >= 1, "never killed a save in flight: the test did not test anything"


def test_two_writers_race_one_whole_checkpoint_wins(tmp_path):
    """Two processes save the same name at once while this one keeps loading it: every load is whole."""
    path = tmp_path / "shared.safetensors"
    writers = [start_writer(path, tag=tag, rounds=15) for tag in (1, 2)]
    seen: set[int] = set()
    try:
        while any(w.poll() is None for w in writers):
            if path.exists():
                seen.add(assert_whole(path))
    finally:
        for w in writers:
            w.kill()
            w.wait(10)
    assert all(w.returncode == 0 for w in writers)
    final = assert_whole(path)
    assert final in (1015, 2015) and seen
    assert [p.name for p in tmp_path.iterdir()] == ["shared.safetensors"]


def test_two_threads_race_one_whole_checkpoint_wins(tmp_path):
    config_a, config_b = build_run_config(seed=1), build_run_config(seed=2)
    models = {}
    for tag, cfg in ((1, config_a), (2, config_b)):
        models[tag] = build_model(cfg.model)
        with torch.no_grad():
            for p in models[tag].parameters():
                p.fill_(tag * 1000 + 1)
    path = tmp_path / "shared.safetensors"
    barrier = threading.Barrier(2)

    def write(tag, cfg):
        barrier.wait()
        for _ in range(10):
            save_checkpoint(path, models[tag], cfg, step=tag * 1000 + 1, extra={"writer": tag})

    threads = [threading.Thread(target=write, args=(1, config_a)), threading.Thread(target=write, args=(2, config_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert assert_whole(path) in (1001, 2001)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.safetensors"]

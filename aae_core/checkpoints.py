"""Safe checkpoints: weights in safetensors, JSON metadata in the same file's header.

One file per checkpoint (`<name>.safetensors`) makes saving atomic with a single rename: a
reader sees the old file or the new one, never a half-written file or a weights/metadata mix
from two writers. The metadata is the JSON string under `aae_explorer` in the safetensors
header (`python -m aae_core eval PATH --json` prints it). Loading never unpickles anything
and checks every field and tensor shape before it builds a model.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .config import AAEError, RunConfig
from .models import AAE, VAE, build_model

FORMAT_VERSION = 2
# What version 2 added to the config, and what a version-1 file truthfully meant by leaving it out: constant
# learning rates (no cool-down) over a budget it did not record, and the swiss roll's outer radius of 3.
V1_DEFAULTS = {"train": {"epochs": 100.0, "cool_fraction": 0.0, "cool_factor": 1.0}, "prior": {"roll_radius": 3.0}}
META_KEY = "aae_explorer"
SUFFIX = ".safetensors"
MAX_CHECKPOINT_BYTES = 1 << 30
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    model: AAE | VAE
    config: RunConfig
    meta: dict
    path: Path


def validate_name(name: str) -> str:
    """A checkpoint name: letters, digits, '_', '-', '.', at most 64 characters, no path tricks."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise AAEError(f"checkpoint name {name!r}: use 1-64 letters, digits, '_', '-' or '.', starting with a "
                       f"letter or digit (no '/', no '..')")
    return name


def path_for(name: str, folder: Path = DEFAULT_DIR) -> Path:
    """Where checkpoint `name` lives inside `folder` (the name validated first)."""
    return Path(folder) / f"{validate_name(name)}{SUFFIX}"


def resolve(path: str | Path) -> Path:
    """Accept a path with or without the .safetensors suffix (`checkpoints/aae-mixture`)."""
    path = Path(path)
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


def save_checkpoint(path: str | Path, model: AAE | VAE, config: RunConfig, *, step: int,
                    metrics: dict | None = None, history: dict | None = None, extra: dict | None = None,
                    half: bool = False) -> Path:
    """Write weights + metadata atomically (temp file in the same folder, fsync, rename); returns the path.
    `half` stores float16 weights (half the size, for shipped demos); loading upcasts them to float32."""
    path = resolve(path)
    validate_name(path.name[: -len(SUFFIX)])
    meta = {"format_version": FORMAT_VERSION, "kind": config.model.kind, "config": config.to_dict(),
            "prior": config.prior.params(), "dataset": config.dataset, "seed": config.train.seed, "step": step,
            "metrics": metrics or {}, "history": history or {}, **(extra or {})}
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().cpu().to(dtype).contiguous() for k, v in model.state_dict().items()}
    blob = save(tensors, metadata={META_KEY: json.dumps(meta, allow_nan=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes owner-only files; a checkpoint is readable like any file
        os.replace(tmp, path)   # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def short_history(history: dict, points: int = 200) -> dict:
    """At most `points` evenly spaced entries of each loss curve, with NaN as null, for metadata."""
    n = len(history.get("step", []))
    idx = sorted({round(i * (n - 1) / max(points - 1, 1)) for i in range(min(n, points))})
    return {k: [None if not math.isfinite(float(v[i])) else round(float(v[i]), 5) for i in idx] for k, v in history.items()}


@contextmanager
def _open(path: Path) -> Iterator:
    """The checkpoint file, opened once: its metadata and tensors then come from the same file even if another
    writer replaces it meanwhile (opening it twice could pair one writer's metadata with the other's weights)."""
    if not path.is_file():
        raise AAEError(f"{path}: no such checkpoint")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise AAEError(f"{path}: {size} bytes is larger than any checkpoint this tool writes")
    try:
        f = safe_open(path, framework="pt")
    except (SafetensorError, OSError, ValueError) as e:
        raise AAEError(f"{path}: not a valid safetensors file ({str(e).splitlines()[0][:120]})") from None
    with f:
        yield f


def read_metadata(path: str | Path) -> dict:
    """The metadata of a checkpoint, validated, without loading its weights."""
    path = resolve(path)
    with _open(path) as f:
        return _metadata(path, f)


def _metadata(path: Path, f) -> dict:
    header = f.metadata() or {}
    if META_KEY not in header:
        raise AAEError(f"{path}: a safetensors file, but not an AAE Explorer checkpoint (no '{META_KEY}' metadata)")
    try:
        meta = json.loads(header[META_KEY])
    except (json.JSONDecodeError, RecursionError):   # RecursionError: a crafted, absurdly nested document
        raise AAEError(f"{path}: metadata is not valid JSON") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version not in (1, FORMAT_VERSION):
        raise AAEError(f"{path}: format_version {version!r} is not supported (this AAE Explorer reads 1 and {FORMAT_VERSION})")
    if version == 1:
        meta = _upgrade_v1(meta)
    try:
        config = RunConfig.from_dict(meta["config"])
    except KeyError:
        raise AAEError(f"{path}: metadata has no 'config'") from None
    except AAEError as e:
        raise AAEError(f"{path}: {e}") from None
    if meta.get("kind") != config.model.kind:
        raise AAEError(f"{path}: metadata kind {meta.get('kind')!r} disagrees with its config ({config.model.kind!r})")
    meta["run_config"] = config
    return meta


def _upgrade_v1(meta: dict) -> dict:
    """A version-1 metadata dict in version 2's form: the fields v2 added get the values v1 implied."""
    config = meta.get("config")
    if not isinstance(config, dict):
        return meta
    config = dict(config)
    for section, added in V1_DEFAULTS.items():
        if isinstance(config.get(section), dict):
            config[section] = {**added, **config[section]}
    return {**meta, "config": config, "format_version": FORMAT_VERSION}


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load and validate a checkpoint: every tensor must exist with the shape the config implies."""
    path = resolve(path)
    with _open(path) as f:
        meta = _metadata(path, f)
        config: RunConfig = meta.pop("run_config")
        model = build_model(config.model)
        expected = model.state_dict()
        try:
            names = set(f.keys())
            if names != set(expected):
                missing, unknown = sorted(set(expected) - names), sorted(names - set(expected))
                raise AAEError(f"{path}: tensors do not match the config (missing {missing[:3]}, unexpected {unknown[:3]})")
            state = {}
            for k, want in expected.items():
                got = f.get_slice(k).get_shape()
                if tuple(got) != tuple(want.shape):
                    raise AAEError(f"{path}: tensor {k} has shape {tuple(got)}, the config implies {tuple(want.shape)}")
                state[k] = f.get_tensor(k)
        except (SafetensorError, OSError, ValueError) as e:
            if isinstance(e, AAEError):
                raise
            raise AAEError(f"{path}: cannot read tensors ({str(e).splitlines()[0][:120]})") from None
    for k, v in state.items():
        if v.dtype not in (torch.float32, torch.float16) or not torch.isfinite(v).all():
            raise AAEError(f"{path}: tensor {k} must hold finite float32 or float16 values (found {v.dtype})")
        state[k] = v.float()
    model.load_state_dict(state)
    return Checkpoint(model.to(device).eval(), config, meta, path)


def list_checkpoints(folder: str | Path = DEFAULT_DIR) -> list[tuple[Path, dict | str]]:
    """Every `*.safetensors` in folder with its metadata, or the one-line reason it cannot be read."""
    out: list[tuple[Path, dict | str]] = []
    for p in sorted(Path(folder).glob(f"*{SUFFIX}")):
        try:
            meta = read_metadata(p)
            meta.pop("run_config")
            out.append((p, meta))
        except AAEError as e:
            out.append((p, str(e)))
    return out

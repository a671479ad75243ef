"""Safe checkpoints: weights in safetensors, JSON metadata in the same file's header.

One file per checkpoint (`<name>.safetensors`) makes saving atomic with a single rename: a
reader sees the old file or the new one, never a half-written file or a weights/metadata mix
from two writers. The metadata is the JSON string under `aae_explorer` in the safetensors
header (`python -m aae_core eval PATH --json` prints it). Loading never unpickles anything
and checks every field and tensor shape before it builds a model.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .config import AAEError, RunConfig
from .files import write_atomic
from .models import AutoEncoderBase, build_model
from .settings import MAX_HISTORY, MAX_PARTS, default
from .untrusted import shorten

FORMAT_VERSION = 4
# What version 2 added to the config, and what a version-1 file truthfully meant by leaving it out: constant
# learning rates (no cool-down) over a budget it did not record, and the swiss roll's outer radius of 3.
V1_DEFAULTS = {"train": {"epochs": 100.0, "cool_fraction": 0.0, "cool_factor": 1.0}, "prior": {"roll_radius": 3.0}}
# Version 3 keeps each fact once, in the config: earlier versions also stored these copies of it (and the prior's
# parts as n_components or n_segments). A copy present in a file must still agree with the config.
COPIES = ("kind", "dataset", "seed", "prior")
# Fields added since version 3 began (version 4 marks the first, holdout), and what a file written before them
# meant by leaving them out: no drawn prior, no BatchNorm in the discriminator, a model without categories
# (aae_core.categorical_training) trained without a labelled subset, no training images held out.
ADDED: dict[str, dict[str, Any]] = {
    "prior": {"points": "", "spread": default("spread")},
    "model": {"disc_batchnorm": False, "n_categories": 0},
    "train": {"holdout": 0, "n_labels": None},
}
META_KEY = "aae_explorer"
SUFFIX = ".safetensors"
MAX_CHECKPOINT_BYTES = 1 << 30
MAX_METADATA_BYTES = 1 << 20  # ours are ~20 KB (200-point loss curves); a crafted one must not cost a parse
MAX_HEADER_BYTES = MAX_METADATA_BYTES + (64 << 10)  # the metadata plus the tensor index
MAX_STEP = 10**12
MAX_DATASET_NAME = 200
MAX_METRICS = 64
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    model: AutoEncoderBase  # an AAE, VAE or PlainAE
    config: RunConfig
    meta: dict
    path: Path


def validate_name(name: str) -> str:
    """A checkpoint name: letters, digits, '_', '-', '.', at most 64 characters, no path tricks."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise AAEError(
            f"checkpoint name {name!r}: use 1-64 letters, digits, '_', '-' or '.', starting with a "
            f"letter or digit (no '/', no '..')"
        )
    return name


def path_for(name: str, folder: Path = DEFAULT_DIR) -> Path:
    """Where checkpoint `name` lives inside `folder` (the name validated first)."""
    return Path(folder) / f"{validate_name(name)}{SUFFIX}"


def resolve(path: str | Path) -> Path:
    """Accept a path with or without the .safetensors suffix (`checkpoints/aae-mixture`)."""
    path = Path(path)
    if not path.name:
        raise AAEError(f"checkpoint path {shorten(str(path))}: empty path, or no file name")
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


def _to_read(path: str | Path) -> Path:
    """The file to read: `resolve(path)`, or `path` itself when only it exists (a file that is no checkpoint is
    then called that, not "….npz.safetensors: no such checkpoint")."""
    path, resolved = Path(path), resolve(path)
    return path if path.exists() and not resolved.exists() else resolved


def safe_name(text: str, fallback: str = "model") -> str:
    """A valid checkpoint name made from any text (an uploaded file's name, say): other characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).replace("..", ".").strip("-._")[:50]
    return name if name and NAME_RE.fullmatch(name) else fallback


def save_checkpoint(
    path: str | Path,
    model: AutoEncoderBase,
    config: RunConfig,
    *,
    step: int,
    metrics: dict | None = None,
    history: dict | None = None,
    extra: dict | None = None,
    half: bool = False,
) -> Path:
    """Write weights + metadata atomically (temp file in the same folder, fsync, rename); returns the path.
    `half` stores float16 weights (half the size, for shipped demos); loading upcasts them to float32."""
    path = resolve(path)
    validate_name(path.name[: -len(SUFFIX)])
    meta = {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "step": step,
        "metrics": metrics or {},
        "history": history or {},
        **(extra or {}),
    }
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().cpu().to(dtype).contiguous() for k, v in model.state_dict().items()}
    blob = save(tensors, metadata={META_KEY: json.dumps(meta, allow_nan=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, blob)


@contextmanager
def _open(path: Path) -> Iterator:
    """The checkpoint file, opened once: its metadata and tensors then come from the same file even if another
    writer replaces it meanwhile (opening it twice could pair one writer's metadata with the other's weights)."""
    if not path.exists():
        raise AAEError(f"{path}: no such checkpoint")
    if not path.is_file():
        raise AAEError(f"{path}: {'a folder' if path.is_dir() else 'not a regular file'}, not a checkpoint")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise AAEError(f"{path}: {size} bytes is larger than any checkpoint this tool writes")
    with open(path, "rb") as raw:
        head = raw.read(8)
    header_len = int.from_bytes(head, "little")
    if len(head) < 8 or header_len > size - 8:
        raise AAEError(f"{path}: not a valid safetensors file (its header length points past the end)")
    if header_len > MAX_HEADER_BYTES:
        raise AAEError(
            f"{path}: a header of {header_len} bytes; this tool writes at most {MAX_METADATA_BYTES} bytes of metadata"
        )
    try:
        f = safe_open(path, framework="pt")
    except (SafetensorError, OSError, ValueError) as e:
        raise AAEError(f"{path}: not a valid safetensors file ({str(e).splitlines()[0][:120]})") from None
    with f:
        yield f


def read_metadata(path: str | Path) -> dict:
    """The metadata of a checkpoint, validated, without loading its weights."""
    path = _to_read(path)
    with _open(path) as f:
        return _metadata(path, f)


def _metadata(path: Path, f) -> dict:
    header = f.metadata() or {}
    if META_KEY not in header:
        raise AAEError(f"{path}: a safetensors file, but not an AAE Explorer checkpoint (no '{META_KEY}' metadata)")
    if len(header[META_KEY]) > MAX_METADATA_BYTES:
        raise AAEError(f"{path}: {len(header[META_KEY])} bytes of metadata, more than the {MAX_METADATA_BYTES} limit")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError:
        raise AAEError(f"{path}: metadata is not valid JSON") from None
    except RecursionError:  # a crafted, absurdly nested document
        raise AAEError(f"{path}: metadata is nested too deeply") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version not in (1, 2, 3, FORMAT_VERSION) or isinstance(version, bool):
        raise AAEError(
            f"{path}: format_version {version!r} is not supported (this AAE Explorer reads 1 to {FORMAT_VERSION})"
        )
    if version == 1:
        meta = _upgrade_v1(meta)
    if version in (1, 2):
        meta = _upgrade_v2(meta)
    meta = _fill_added(meta)
    try:
        config = RunConfig.from_dict(meta["config"])
    except KeyError:
        raise AAEError(f"{path}: metadata has no 'config'") from None
    except AAEError as e:
        raise AAEError(f"{path}: {e}") from None
    if "kind" in meta and meta["kind"] != config.model.kind:
        raise AAEError(
            f"{path}: metadata kind {shorten(meta.get('kind'))} disagrees with its config ({config.model.kind!r})"
        )
    try:
        _check_fields(meta, config)
    except AAEError as e:
        raise AAEError(f"{path}: {e}") from None
    for key in COPIES:  # checked; from here on the config is the one place to read them
        meta.pop(key, None)
    meta["run_config"] = config
    return meta


def _upgrade_v1(meta: dict) -> dict:
    """A version-1 metadata dict in version 2's form: the fields v2 added get the values v1 implied."""
    config = meta.get("config")
    if not isinstance(config, dict):
        return meta
    out = {**meta, "config": _with_defaults(config, V1_DEFAULTS), "format_version": 2}
    prior = meta.get("prior")
    if isinstance(prior, dict) and prior.get("name") == "swissroll":
        out["prior"] = {**prior, "roll_radius": V1_DEFAULTS["prior"]["roll_radius"]}
    return out


def _upgrade_v2(meta: dict) -> dict:
    """A version-2 metadata dict in version 3's form: the prior's parts, n_components for a mixture and
    n_segments for a swiss roll, become n_parts (in the config and in the old copy of the prior's parameters)."""

    def parts(prior: Any) -> Any:
        if not isinstance(prior, dict) or "n_parts" in prior:
            return prior
        prior = dict(prior)
        components, segments = prior.pop("n_components", None), prior.pop("n_segments", None)
        n = segments if prior.get("name") == "swissroll" else components
        return prior if n is None else prior | {"n_parts": n}

    config = meta.get("config")
    if isinstance(config, dict):
        config = {**config, "prior": parts(config.get("prior"))} if "prior" in config else config
    out = {**meta, "config": config, "format_version": 3}
    if "prior" in meta:
        out["prior"] = parts(meta["prior"])
    out.pop("prior_meta", None)  # derived from the config: make_prior(config.prior).metadata()
    return out


def _fill_added(meta: dict) -> dict:
    """The fields of ADDED that a file lacks, with the value it meant by leaving them out: the metadata of the
    current version."""
    config = meta.get("config")
    if not isinstance(config, dict):
        return meta
    return {**meta, "config": _with_defaults(config, ADDED), "format_version": FORMAT_VERSION}


def _with_defaults(config: dict, defaults: dict[str, dict[str, Any]]) -> dict:
    """The config with each section's missing fields set from `defaults` (a value the file has is kept)."""
    return {k: {**defaults[k], **v} if k in defaults and isinstance(v, dict) else v for k, v in config.items()}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(v: Any) -> bool:
    """A short list of numbers: a metric per mixture component or per class."""
    return isinstance(v, list) and len(v) <= MAX_PARTS and all(_number(x) for x in v)


def _check_fields(meta: dict, config: RunConfig) -> None:
    """The fields the app and the CLI read besides the config, checked by type, range and size: a crafted file
    is refused here, in one line, instead of breaking a page for everyone who lists it."""
    step = meta.get("step")
    if not (isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= MAX_STEP):
        raise AAEError(f"step={shorten(step)}: must be an integer between 0 and {MAX_STEP}")
    if not (
        isinstance(config.dataset, str) and 0 < len(config.dataset) <= MAX_DATASET_NAME and config.dataset.isprintable()
    ):
        raise AAEError(f"dataset={shorten(config.dataset)}: must be 1-{MAX_DATASET_NAME} printable characters")
    for key, fact in (("dataset", config.dataset), ("seed", config.train.seed), ("prior", config.prior.params())):
        if key in meta and meta[key] != fact:
            raise AAEError(f"{key}={shorten(meta[key])}: disagrees with its config ({shorten(fact)})")
    metrics = meta.get("metrics", {})
    if not (
        isinstance(metrics, dict)
        and len(metrics) <= MAX_METRICS
        and all(
            isinstance(k, str) and len(k) <= 64 and (v is None or _number(v) or _numbers(v)) for k, v in metrics.items()
        )
    ):
        raise AAEError(
            f"metrics={shorten(metrics)}: must map at most {MAX_METRICS} names to numbers, null or "
            f"lists of at most {MAX_PARTS} numbers (per-component shares)"
        )
    history = meta.get("history", {})
    lengths = {len(v) for v in history.values() if isinstance(v, list)} if isinstance(history, dict) else set()
    if not (
        isinstance(history, dict)
        and all(isinstance(k, str) and isinstance(v, list) for k, v in history.items())
        and len(lengths) <= 1
        and max(lengths, default=0) <= MAX_HISTORY
        and all(x is None or _number(x) for v in history.values() for x in v)
        and (not history or "step" in history)
    ):
        raise AAEError(
            f"history={shorten(history)}: must map names to equally long lists (at most {MAX_HISTORY}) "
            f"of numbers or null, with 'step' among them"
        )


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load and validate a checkpoint: every tensor must exist with the shape the config implies."""
    path = _to_read(path)
    with _open(path) as f:
        meta = _metadata(path, f)
        config: RunConfig = meta.pop("run_config")
        model = build_model(config.model)
        expected = model.state_dict()
        try:
            names = set(f.keys())
            if names != set(expected):
                missing, unknown = sorted(set(expected) - names), sorted(names - set(expected))
                raise AAEError(
                    f"{path}: tensors do not match the config (missing {missing[:3]}, unexpected {unknown[:3]})"
                )
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
        if v.dtype not in (torch.float32, torch.float16):
            raise AAEError(f"{path}: tensor {k} must hold float32 or float16 values (found {v.dtype})")
        if not torch.isfinite(v).all():
            raise AAEError(f"{path}: tensor {k} holds NaN or inf values")
        state[k] = v.float()
    model.load_state_dict(state)
    return Checkpoint(model.to(device).eval(), config, meta, path)


_listed: dict[Path, tuple[tuple[int, int], dict | str]] = {}
_listed_lock = threading.Lock()


def list_checkpoints(folder: str | Path = DEFAULT_DIR) -> list[tuple[Path, dict | str]]:
    """Every `*.safetensors` in folder with its metadata, or the one-line reason it cannot be read. Each file is
    read once per version (its modification time and size): listing on every page visit costs a `stat` a file."""
    out: list[tuple[Path, dict | str]] = []
    for p in sorted(Path(folder).glob(f"*{SUFFIX}")):
        try:
            st = p.stat()
            version = (st.st_mtime_ns, st.st_size)
        except OSError as e:
            out.append((p, f"{p}: cannot read ({e.strerror})"))
            continue
        with _listed_lock:
            cached = _listed.get(p)
        if cached is None or cached[0] != version:
            meta: dict | str
            try:
                meta = read_metadata(p)
                meta.pop("run_config")
            except AAEError as e:
                meta = str(e)
            cached = (version, meta)
            with _listed_lock:
                _listed[p] = cached
        out.append((p, copy.deepcopy(cached[1])))
    return out

"""Small helpers several test modules share: `from tests.helpers import ...` (fixtures live in conftest.py)."""

import io
import json
import time
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.torch import save

from aae_core.checkpoints import META_KEY


def wait_until(cond, timeout: float = 10.0) -> bool:
    """Poll `cond` until it holds or `timeout` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def npz_bytes(**arrays) -> bytes:
    """An .npz file's bytes, as an upload carries them."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def rewrite_meta(path: Path, change) -> None:
    """Write the checkpoint again with its metadata changed by `change(meta)` (same tensors)."""
    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()[META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(meta)
    path.write_bytes(save(tensors, metadata={META_KEY: json.dumps(meta)}))

"""Datasets that arrive as uploaded bytes (the app's file uploader), checked and bounded before they are kept.

A server holds every session's upload in memory, so two bounds apply: one upload's size and values
(`MAX_UPLOAD_MB`, `UPLOAD_MAX_VALUES`), and all uploads together (`UploadBudget`). The bytes are parsed
by `aae_core.data.load_dataset`, the same checks as a file given to the CLI; errors name the uploaded
file, never the private temporary folder it passed through.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .data import Dataset, load_dataset
from .errors import AAEError
from .settings import BY_NAME
from .untrusted import shorten

MAX_UPLOAD_MB = 200  # MB a browser may send at once (also server.maxUploadSize)
UPLOAD_MAX_VALUES = 60_000_000  # values one upload may unpack to: Fashion-MNIST's 70K images are 55M
UPLOAD_BUDGET_MB = 1024  # float32 bytes of uploads all sessions together may hold
BYTES_PER_VALUE = 4  # a dataset is held as float32
# The smallest batch the app offers: fewer training images than this cannot fill one.
MIN_TRAIN = min(BY_NAME["batch_size"].options)


class UploadBudget:
    """Bytes of uploaded datasets alive in the server (in sessions or in their jobs): a new upload must fit in what
    is left, so no number of sessions, each with a small file that unpacks large, can exhaust the server's memory.
    A dataset's bytes count until it is garbage, whoever held it last."""

    def __init__(self, limit_bytes: int):
        self.limit = limit_bytes
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())

    def values_left(self) -> int:
        """How many values the next upload may unpack to."""
        return max(0, min(UPLOAD_MAX_VALUES, (self.limit - self.held()) // BYTES_PER_VALUE))

    def hold(self, data: Dataset) -> None:
        """Count `data` until its images are garbage, or refuse it if the budget was spent meanwhile."""
        nbytes = data.x_train.nbytes + data.x_test.nbytes
        with self._lock:
            held = sum(self._held.values())
            if held + nbytes > self.limit:
                raise AAEError(
                    f"upload: the server holds {held / 2**20:.0f} MiB of uploads; {nbytes / 2**20:.0f} MiB "
                    f"more would pass its {self.limit / 2**20:.0f} MiB budget; try again later"
                )
            self._held[id(data.x_train)] = nbytes
        weakref.finalize(data.x_train, self._release, id(data.x_train))  # the tensor every copy of `data` shares

    def _release(self, key: int) -> None:
        with self._lock:
            self._held.pop(key, None)


def upload_name(name: str) -> str:
    """The uploaded file's own name (never a folder), refused if unusable, bounded in length."""
    name = Path(name).name  # never let an uploaded name choose the folder
    if not name or name.startswith(".") or len(name) > 120 or not name.isprintable():
        raise AAEError(f"upload: file name {shorten(name)} is not usable (1-120 printable characters, not hidden)")
    return name


def load_upload(files: Sequence[tuple[str, bytes]], seed: int, budget: UploadBudget) -> Dataset:
    """A dataset from uploaded (name, bytes) pairs: one .npz, or IDX files (images and labels), named
    `upload:<file>` and counted against `budget`. The bytes go to a private temporary folder that is deleted
    as soon as the arrays are in memory."""
    total = sum(len(blob) for _, blob in files)
    if total > MAX_UPLOAD_MB * 2**20:
        raise AAEError(f"upload: {total / 2**20:.0f} MiB is more than the {MAX_UPLOAD_MB} MiB limit")
    names = [upload_name(name) for name, _ in files]
    npz = [n for n in names if n.endswith(".npz")]
    if npz and len(files) > 1:
        raise AAEError("upload: give one .npz file, or IDX files (images and labels), not both")
    if budget.values_left() == 0:
        raise AAEError(
            f"upload: other sessions' uploads fill the server's {budget.limit / 2**20:.0f} MiB budget for "
            f"uploads; try again later"
        )
    with tempfile.TemporaryDirectory(prefix="aae-upload-") as tmp:
        for name, (_, blob) in zip(names, files):
            (Path(tmp) / name).write_bytes(blob)
        source = Path(tmp) / (npz[0] if npz else "")
        try:
            data = load_dataset(source, seed=seed, max_values=budget.values_left())
        except AAEError as e:
            raise AAEError(str(e).replace(f"{tmp}/", "").replace(tmp, "upload")) from None
    n_train = data.x_train.shape[0]
    if n_train < MIN_TRAIN:
        raise AAEError(
            f"{names[0]}: {n_train + data.x_test.shape[0]} images leave {n_train} for training after the "
            f"held-out 20 %, fewer than the smallest batch ({MIN_TRAIN}); upload at least 20"
        )
    data = replace(data, name=f"upload:{npz[0] if npz else names[0]}")
    budget.hold(data)
    return data

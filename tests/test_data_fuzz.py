"""User datasets are hostile input: random, truncated or malformed files must end in one AAEError
(never another exception, a crash or a hang), and nothing in them is ever unpickled."""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aae_core import data
from aae_core.config import AAEError
from aae_core.data import IDX_DTYPES, load_dataset, parse_idx
from tests.helpers import npz_bytes

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
SENTINEL = Path(tempfile.gettempdir()) / "aae-fuzz-pickle-ran"


class Payload:
    """Unpickling this would create SENTINEL: proof that a loader executed user data."""

    def __reduce__(self):
        return (Path.touch, (SENTINEL,))


def idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(IDX_DTYPES[code]).tobytes()


def check_dataset(d) -> None:
    """What a loader that did not refuse must hand to the trainer."""
    assert d.x_train.dtype.is_floating_point and d.x_train.shape[0] >= 1 and d.x_test.shape[0] >= 1
    assert bool(((d.x_train >= 0) & (d.x_train <= 1)).all())


def load_or_refuse(path: Path) -> None:
    try:
        check_dataset(load_dataset(path))
    except AAEError as e:
        assert "\n" not in str(e) and str(e)


def save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


# ---- IDX -----------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=512))
def test_parse_idx_random_bytes(blob):
    try:
        a = parse_idx(blob, "fuzz")
    except AAEError:
        return
    assert a.size * a.itemsize == len(blob) - 4 - 4 * a.ndim


@FUZZ
@given(
    code=st.sampled_from([*IDX_DTYPES, 0x00, 0x0A, 0xFF]),
    ndim=st.integers(0, 5),
    dims=st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1)), min_size=5, max_size=5),
    body=st.binary(max_size=2048),
    cut=st.integers(0, 24),
)
def test_parse_idx_malformed_headers(code, ndim, dims, body, cut):
    """Plausible headers: every type code, too many dimensions, dims that overflow int64 when multiplied."""
    header = bytes([0, 0, code, ndim]) + struct.pack(">5I", *dims)[: 4 * ndim]
    blob = (header + body)[: max(0, len(header) - cut)] if cut else header + body
    try:
        a = parse_idx(blob, "fuzz")
    except AAEError:
        return
    assert a.shape == tuple(dims[:ndim])


def test_parse_idx_dims_that_wrap_int64_are_refused():
    # 2^31 * 2^31 * 4 = 2^64: wraps to 0 in int64, which once made an empty body look right.
    blob = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 4)
    with pytest.raises(AAEError, match="exceed the limit"):
        parse_idx(blob, "wrap")


@settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(images=st.binary(max_size=1024), labels=st.binary(max_size=64), gz=st.booleans())
def test_idx_folder_random_files(images, labels, gz):
    with tempfile.TemporaryDirectory() as tmp:
        suffix = ".gz" if gz else ""
        (Path(tmp) / f"train-images-idx3-ubyte{suffix}").write_bytes(images)
        (Path(tmp) / f"train-labels-idx1-ubyte{suffix}").write_bytes(labels)
        load_or_refuse(Path(tmp))


@settings(max_examples=60, deadline=3000)
@given(cut=st.integers(1, 2000), flip=st.integers(0, 2000))
def test_idx_folder_corrupted_gzip(cut, flip):
    """A real gzipped IDX file, truncated or with one byte flipped (a corrupt deflate stream raised zlib.error)."""
    images = (np.arange(20 * 6 * 6) % 7 * 30).astype(np.uint8).reshape(20, 6, 6)  # compressible: a dense deflate stream
    blob = bytearray(gzip.compress(idx_bytes(images)))
    with tempfile.TemporaryDirectory() as tmp:
        broken = blob[: len(blob) - cut % len(blob)] if cut % 2 else blob
        broken[flip % len(broken)] ^= 0xA5
        (Path(tmp) / "train-images-idx3-ubyte.gz").write_bytes(bytes(broken))
        load_or_refuse(Path(tmp))


def test_idx_folder_checks_labels_and_shapes(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 6, 6), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(x))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(19) % 10))
    with pytest.raises(AAEError, match=r"y has shape \(19,\)"):
        load_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(20) % 10))
    d = load_dataset(tmp_path)
    assert d.image_shape == (6, 6) and d.n_classes == 10
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(x[:, :5, :5]))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(20) % 10))
    with pytest.raises(AAEError, match="different image sizes"):
        load_dataset(tmp_path)


# ---- .npz ----------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
def test_npz_random_bytes(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.npz"
        path.write_bytes(blob)
        load_or_refuse(path)


def _valid_npz_bytes() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, x=rng.integers(0, 256, (30, 4, 4), dtype=np.uint8), y=np.arange(30) % 3)
    return buf.getvalue()


VALID_NPZ = _valid_npz_bytes()


@FUZZ
@given(
    cut=st.integers(0, len(VALID_NPZ)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID_NPZ) - 1), st.integers(1, 255)), max_size=4),
)
def test_npz_truncated_or_corrupted(cut, flips):
    blob = bytearray(VALID_NPZ[:cut] if cut else VALID_NPZ)
    for at, mask in flips:
        if at < len(blob):
            blob[at] ^= mask
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.npz"
        path.write_bytes(bytes(blob))
        load_or_refuse(path)


@pytest.mark.parametrize("member", ["x", "y"])
def test_npz_object_array_is_refused_without_unpickling(tmp_path, member):
    SENTINEL.unlink(missing_ok=True)
    payload = np.array([Payload(), Payload()], dtype=object)
    arrays = {"x": np.zeros((20, 4)), "y": np.zeros(20, dtype=np.int64), member: payload}
    path = save_npz(tmp_path / "evil.npz", **arrays)
    with pytest.raises(AAEError, match="Python objects|not a readable"):
        load_dataset(path)
    assert not SENTINEL.exists()


def test_pickle_renamed_to_npz_is_not_executed(tmp_path):
    import pickle

    SENTINEL.unlink(missing_ok=True)
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(AAEError, match="not an .npz file .an .npz is a zip archive"):
        load_dataset(path)
    assert not SENTINEL.exists()


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.full((20, 16), np.nan)}, "NaN or inf"),
        ({"x": np.full((20, 16), np.inf)}, "NaN or inf"),
        ({"x": np.full((20, 16), 1e300)}, "NaN or inf"),  # finite in float64, inf once cast to float32
        ({"x": np.full((20, 16), -1.0)}, "expected \\[0, 1\\] or \\[0, 255\\]"),
        ({"x": np.full((20, 16), 300)}, "expected \\[0, 1\\] or \\[0, 255\\]"),
        ({"x": np.zeros((20, 16), dtype=np.complex64)}, "expected numbers"),
        ({"x": np.array([["a"] * 16] * 20)}, "expected numbers"),
        ({"x": np.zeros(20)}, "expected \\(N, H, W\\) or \\(N, D\\)"),
        ({"x": np.zeros((20, 2, 2, 2))}, "expected \\(N, H, W\\) or \\(N, D\\)"),
        ({"x": np.zeros((9, 16))}, "at least 10"),
        ({"x": np.zeros((20, 0))}, "at least 10"),
        ({"images": np.zeros((20, 16))}, "no array named 'x'"),
        ({"x": np.zeros((20, 16)), "y": np.zeros(19, dtype=np.int64)}, "y has shape"),
        ({"x": np.zeros((20, 16)), "y": np.full(20, -1)}, "class labels"),
        ({"x": np.zeros((20, 16)), "y": np.full(20, 1000)}, "class labels"),
        ({"x": np.zeros((20, 16)), "y": np.full(20, 0.5)}, "integer class labels"),
        ({"x": np.zeros((20, 16)), "y": np.full(20, np.nan)}, "integer class labels"),
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_npz_content_checks(tmp_path, arrays, message):
    with pytest.raises(AAEError, match=message):
        load_dataset(save_npz(tmp_path / "user.npz", **arrays))


def test_npz_declared_shape_is_refused_before_reading(tmp_path):
    """A header that claims 10^12 values is refused from the header alone: no giant allocation."""
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", _npy_header((10**6, 10**6)))
    with pytest.raises(AAEError, match="more than"):
        load_dataset(path)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_file_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_FILE_BYTES", 10_000)
    path = save_npz(tmp_path / "big.npz", x=np.zeros((20, 100)))
    with pytest.raises(AAEError, match="larger than"):
        load_dataset(path)
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    # ~2 KB on disk, 2 MB gunzipped: the limit applies to the content as well as the file.
    (bomb / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((2000, 32, 32), np.uint8))))
    with pytest.raises(AAEError, match="content is larger"):
        load_dataset(bomb)


def test_valid_npz_loads_and_scales(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (40, 5, 5)).astype(np.uint8)
    d = load_dataset(save_npz(tmp_path / "ok.npz", x=x, y=np.arange(40) % 4))
    check_dataset(d)
    assert d.image_shape == (5, 5) and d.n_classes == 4 and d.x_train.shape[0] + d.x_test.shape[0] == 40
    assert float(d.x_train.max()) == pytest.approx(x.max() / 255)


# ---- the app's upload path -------------------------------------------------------------------------


class Upload:
    """What st.file_uploader hands the app: a name the browser chose, a size, and the bytes."""

    def __init__(self, name: str, blob: bytes):
        self.name, self.size, self._blob = name, len(blob), blob

    def getvalue(self) -> bytes:
        return self._blob


@pytest.fixture
def store_upload():
    pytest.importorskip("streamlit")
    from explorer import session

    return session.store_upload


def test_upload_object_array_is_refused_without_unpickling(store_upload):
    SENTINEL.unlink(missing_ok=True)
    evil = npz_bytes(x=np.zeros((20, 4)), y=np.array([Payload()] * 20, dtype=object))
    with pytest.raises(AAEError, match="Python objects|not a readable"):
        store_upload([Upload("data.npz", evil)])
    assert not SENTINEL.exists()


def test_upload_names_cannot_choose_a_folder(store_upload, tmp_path):
    blob = npz_bytes(x=np.random.default_rng(0).random((20, 16)))
    escape = tmp_path / "escaped.npz"
    d = store_upload([Upload(f"../../../../{escape}", blob)])
    assert d.name == "upload:escaped.npz" and d.x_train.shape[1] == 16 and not escape.exists()
    for bad in ("", ".npz", "..", "sub/.hidden.npz"):
        with pytest.raises(AAEError, match="file name"):
            store_upload([Upload(bad, blob)])


def test_upload_size_limit_and_mixed_files(store_upload, monkeypatch):
    from aae_core import uploads

    blob = npz_bytes(x=np.zeros((20, 16)))
    with pytest.raises(AAEError, match="one .npz file, or IDX files"):
        store_upload([Upload("a.npz", blob), Upload("train-images-idx3-ubyte", b"\0")])
    monkeypatch.setattr(uploads, "MAX_UPLOAD_MB", 0)
    with pytest.raises(AAEError, match="MiB limit"):
        store_upload([Upload("a.npz", blob)])


def test_upload_of_random_idx_bytes_is_refused(store_upload):
    with pytest.raises(AAEError):
        store_upload([Upload("train-images-idx3-ubyte", b"\x00\x00\x08\x03" + b"\xff" * 40)])

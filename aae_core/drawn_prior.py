"""A prior drawn by hand: strokes (and clicked points) in the latent plane, known only through its samples.

An AAE needs nothing but samples of p(z), so any drawing will do; a VAE needs log p(z), which a drawing
does not have. This prior samples a stroke (each stroke or point holds the same share, like the mixture's
petals), a place on it uniformly by length, and adds N(0, spread^2 I). The VAE gets the best density one
can build from samples: a Gaussian kernel density estimate on KDE_SAMPLES of them (Scott's bandwidth),
which is approximate and wider than the drawing, and says so.

A drawing travels as one short text (`encode`/`decode`): it is the `points` setting, so it is stored in
checkpoints' configs and in share links like any other value. Coordinates are multiples of QUANTUM, each
written as the zigzag varint of its difference from the previous vertex in a URL-safe base-64 alphabet;
strokes are separated by "." and a stroke tagged with class k starts with "~" and k's digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import AAEError
from .settings import MAX_PARTS, MAX_SCALE
from .untrusted import shorten

QUANTUM = 0.01  # latent units per integer of the encoding: far below a canvas pixel (~0.07) or any spread
MAX_POINTS = 10_000  # vertices of a drawing or rows of a points file
MAX_CHARS = 120_000  # the longest encoding MAX_POINTS scattered points can need (~12 characters each)
MAX_FILE_BYTES = 8 << 20
URL_CHARS = 1_500  # a share link's drawing: the rest of a 2 KB URL holds the other settings
KDE_SAMPLES = 1_000
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_TAGS = "0123456789abcdefghijklmnopqrstuvwxyz"  # class tags a drawing can carry (0-9 are the digits)


@dataclass(frozen=True)
class Drawing:
    """Strokes as (m, 2) float64 arrays of vertices (m == 1: a clicked point) and each stroke's class tag."""

    strokes: tuple[np.ndarray, ...]
    tags: tuple[int | None, ...]

    @property
    def n_vertices(self) -> int:
        return sum(len(s) for s in self.strokes)

    def check(self) -> Drawing:
        """The drawing itself, or AAEError naming what is wrong (empty, one point, too many, NaN, too far out)."""
        n = self.n_vertices
        if n == 0:
            raise AAEError("points: the drawing is empty; draw a stroke or click at least two points")
        if n > MAX_POINTS:
            raise AAEError(f"points: {n:,} points, more than the {MAX_POINTS:,} a drawn prior may have")
        xy = np.concatenate(self.strokes)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise AAEError(f"points: need (x, y) pairs, got shape {xy.shape}")
        if not np.isfinite(xy).all():
            raise AAEError("points: the drawing holds NaN or infinite coordinates")
        if np.abs(xy).max() > MAX_SCALE:
            raise AAEError(f"points: coordinates must lie within ±{MAX_SCALE:g} (found {np.abs(xy).max():.3g})")
        if any(t is not None and not (isinstance(t, int) and 0 <= t < len(_TAGS)) for t in self.tags):
            raise AAEError(f"points: class tags must be integers 0 to {len(_TAGS) - 1}, got {shorten(self.tags)}")
        if len(np.unique(np.round(xy / QUANTUM), axis=0)) < 2:
            raise AAEError("points: the drawing is a single point; a prior needs at least two distinct points")
        return self

    @staticmethod
    def of(strokes: list, tags: list | None = None) -> Drawing:
        """A checked drawing from lists of [x, y] vertices (what the canvas sends) and optional tags."""
        arrays = tuple(np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s))
        tags = list(tags) if tags is not None else [None] * len(strokes)
        if len(tags) != len(strokes):
            raise AAEError(f"points: {len(tags)} class tags for {len(strokes)} strokes")
        kept = tuple(t for s, t in zip(strokes, tags) if len(s))
        return Drawing(arrays, kept).check()


# ---------------------------------------------------------------- the text encoding


def _varint(n: int) -> str:
    u = 2 * n if n >= 0 else -2 * n - 1  # zigzag: small magnitudes, either sign, give small codes
    out = []
    while True:
        low, u = u & 31, u >> 5
        out.append(_ALPHABET[low | (32 if u else 0)])
        if not u:
            return "".join(out)


def encode(drawing: Drawing) -> str:
    """The drawing as compact URL-safe text (vertices rounded to QUANTUM)."""
    parts, last = [], (0, 0)
    for stroke, tag in zip(drawing.strokes, drawing.tags):
        text = "" if tag is None else "~" + _TAGS[tag]
        for x, y in np.round(stroke / QUANTUM).astype(np.int64).tolist():
            text += _varint(x - last[0]) + _varint(y - last[1])
            last = (x, y)
        parts.append(text)
    return ".".join(parts)


def decode(text: str) -> Drawing:
    """The drawing a text encodes, checked; AAEError naming the problem for anything else."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        raise AAEError(f"points: a drawing's text must be a string of at most {MAX_CHARS:,} characters")
    strokes: list[np.ndarray] = []
    tags: list[int | None] = []
    last = [0, 0]
    for part in text.split(".") if text else []:
        tag = None
        if part.startswith("~"):
            if len(part) < 2 or part[1] not in _TAGS:
                raise AAEError(f"points: stroke {len(strokes) + 1} has a bad class tag {shorten(part[:2])}")
            tag, part = _TAGS.index(part[1]), part[2:]
        values, u, shift = [], 0, 0
        for c in part:
            v = _VALUE.get(c)
            if v is None or shift > 30:
                raise AAEError(f"points: stroke {len(strokes) + 1} holds a bad character or number {shorten(c)}")
            u, shift = u | (v & 31) << shift, shift + 5
            if not v & 32:
                values.append(u >> 1 if not u & 1 else -(u + 1 >> 1))
                u, shift = 0, 0
        if shift or len(values) % 2 or not values:
            raise AAEError(f"points: stroke {len(strokes) + 1} ends in the middle of a point")
        xy = np.cumsum(np.array(values, dtype=np.int64).reshape(-1, 2), 0) + last
        last = xy[-1].tolist()
        strokes.append(xy * QUANTUM)
        tags.append(tag)
        if sum(len(s) for s in strokes) > MAX_POINTS:
            break  # check() names the count
    return Drawing(tuple(strokes), tuple(tags)).check()


def _douglas_peucker(xy: np.ndarray, tol: float) -> np.ndarray:
    """The vertices of a polyline that keep it within `tol` of the original (Ramer-Douglas-Peucker)."""
    if len(xy) < 3:
        return xy
    a, b = xy[0], xy[-1]
    ab = b - a
    rel = xy[1:-1] - a
    if ab @ ab > 0:
        d = np.abs(rel[:, 0] * ab[1] - rel[:, 1] * ab[0]) / math.sqrt(ab @ ab)
    else:
        d = np.linalg.norm(rel, axis=1)
    i = int(d.argmax()) + 1
    if d[i - 1] <= tol:
        return xy[[0, -1]]
    return np.concatenate([_douglas_peucker(xy[: i + 1], tol)[:-1], _douglas_peucker(xy[i:], tol)])


def encode_short(drawing: Drawing, max_chars: int = URL_CHARS) -> str:
    """An encoding of at most max_chars: the strokes simplified (Douglas-Peucker, a doubling tolerance), then,
    for a cloud of single points, every other point dropped, until it fits."""
    text, tol = encode(drawing), QUANTUM
    while len(text) > max_chars:
        simpler = tuple(_douglas_peucker(s, tol) for s in drawing.strokes)
        if sum(map(len, simpler)) == sum(map(len, drawing.strokes)) and tol > 1.0:
            keep = slice(None, None, 2)
            drawing = Drawing(drawing.strokes[keep], drawing.tags[keep])
        else:
            drawing = Drawing(simpler, drawing.tags)
        text, tol = encode(drawing), tol * 2
    return text


def read_points_file(path: str | Path) -> str:
    """A points file as a drawing's text: a .csv of two columns x, y (a header row optional), or an .npz with an
    array `z` of shape (N, 2). Every row is one point of the prior."""
    path = Path(path)
    if not path.is_file():
        raise AAEError(f"--prior-file {shorten(str(path))}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AAEError(f"--prior-file {shorten(str(path))}: larger than {MAX_FILE_BYTES >> 20} MB")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                if "z" not in f:
                    raise AAEError(f"{shorten(path.name)}: no array 'z' (found {shorten(sorted(f.files))})")
                z = f["z"]
        except (OSError, ValueError) as e:
            raise AAEError(f"{shorten(path.name)}: not a readable .npz ({shorten(str(e))})") from None
        if z.dtype.kind not in "iuf":
            raise AAEError(f"{shorten(path.name)}: 'z' holds {z.dtype}, not numbers")
    elif path.suffix == ".csv":
        z = _read_csv(path)
    else:
        raise AAEError(f"--prior-file {shorten(path.name)}: must be a .csv (x, y) or an .npz with 'z'")
    if z.ndim != 2 or z.shape[1] != 2:
        raise AAEError(f"{shorten(path.name)}: need N points of shape (N, 2), got shape {z.shape}")
    if len(z) > MAX_POINTS:
        raise AAEError(f"{shorten(path.name)}: {len(z):,} points, more than the {MAX_POINTS:,} a prior may have")
    try:
        return encode(Drawing.of([[p] for p in z.astype(np.float64)]))
    except AAEError as e:
        raise AAEError(f"{shorten(path.name)}: {e}") from None


def _read_csv(path: Path) -> np.ndarray:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    rows = []
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if i == 0:
                continue  # a header row
            raise AAEError(f"{shorten(path.name)}: line {i + 1} is not two numbers: {shorten(line)}") from None
        if len(cells) != 2:
            raise AAEError(f"{shorten(path.name)}: line {i + 1} has {len(cells)} columns, not 2 (x, y)")
        if len(rows) > MAX_POINTS:
            raise AAEError(f"{shorten(path.name)}: more than the {MAX_POINTS:,} points a prior may have")
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


# ---------------------------------------------------------------- the prior's geometry


class Strokes:
    """A drawing as segments, for sampling by length and for distances. A point is a segment of length 0."""

    def __init__(self, drawing: Drawing):
        starts, vecs, key_lo, key_hi = [], [], [], []
        for i, s in enumerate(drawing.strokes):
            seg = np.stack([s[:-1], s[1:]], 1) if len(s) > 1 else s[None, [0, 0]]
            length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)
            if length.sum() == 0:  # all its vertices coincide: a point
                seg, length = seg[:1], np.ones(1)
            cum = np.cumsum(length) / length.sum()
            starts.append(seg[:, 0])
            vecs.append(seg[:, 1] - seg[:, 0])
            key_lo.append(i + np.concatenate([[0.0], cum[:-1]]))  # stroke i spans [i, i + 1) by length
            key_hi.append(i + cum)
        self.start = torch.as_tensor(np.concatenate(starts))
        self.vec = torch.as_tensor(np.concatenate(vecs))
        self.key_start = torch.as_tensor(np.concatenate(key_lo))
        self.key_end = torch.as_tensor(np.concatenate(key_hi))
        self.n_strokes = len(drawing.strokes)

    def at(self, where: torch.Tensor) -> torch.Tensor:
        """Points at positions `where` in [0, n_strokes): stroke floor(where), at its fraction by length."""
        seg = torch.searchsorted(self.key_end, where, right=True).clamp(max=len(self.key_end) - 1)
        lo, hi = self.key_start[seg], self.key_end[seg]
        frac = ((where - lo) / (hi - lo).clamp(min=1e-12)).clamp(0, 1)
        return self.start[seg] + frac[:, None] * self.vec[seg]

    def distance(self, z: torch.Tensor) -> torch.Tensor:
        """Each row's distance to the nearest point of the drawing."""
        z = z.double()[:, None, :]  # (n, 1, 2)
        v = self.vec[None]
        t = (((z - self.start[None]) * v).sum(-1) / (v * v).sum(-1).clamp(min=1e-12)).clamp(0, 1)
        nearest = self.start[None] + t[..., None] * v
        return (z - nearest).norm(dim=-1).min(1).values


def tag_parts(drawing: Drawing) -> int:
    """How many label parts a drawing has: K when every stroke is tagged and the tags are exactly 0..K-1, else 0."""
    tags = drawing.tags
    if not tags or any(t is None for t in tags):
        return 0
    k = max(t for t in tags if t is not None) + 1
    return k if k <= MAX_PARTS and set(tags) == set(range(k)) else 0

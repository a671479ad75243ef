"""Loss histories in their two forms: arrays while training (a Trainer's `snapshot().history`), and the bounded,
JSON-safe lists a checkpoint's metadata keeps (NaN as null). `short_history` writes the second, `as_arrays` reads
it back, so the two directions of the encoding live side by side; `joined` puts an earlier history before a new one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def short_history(history: Mapping[str, np.ndarray], points: int = 200) -> dict[str, list[float | None]]:
    """At most `points` evenly spaced entries of each loss curve, with NaN as null, for metadata."""
    n = len(history.get("step", []))
    idx = sorted({round(i * (n - 1) / max(points - 1, 1)) for i in range(min(n, points))})
    return {
        k: [None if not math.isfinite(float(v[i])) else round(float(v[i]), 5) for i in idx] for k, v in history.items()
    }


def as_arrays(
    history: Mapping[str, Sequence[float | None] | np.ndarray], like: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """A history as arrays with the keys and dtypes of `like`: stored lists (None for NaN, as checkpoints keep
    them) or an earlier job's arrays. A key it lacks becomes NaN; an empty history gives {}."""
    n = len(history.get("step", []))
    if not n:
        return {}
    return {
        k: np.array([np.nan if x is None else x for x in history.get(k, [None] * n)], dtype=np.float64).astype(v.dtype)
        for k, v in like.items()
    }


def joined(earlier: Mapping[str, np.ndarray], now: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`now`'s curves after `earlier`'s (a loaded checkpoint's, an earlier job's); `now` itself if there are none."""
    if not earlier:
        return now
    return {k: np.concatenate([earlier[k], v]) for k, v in now.items()}

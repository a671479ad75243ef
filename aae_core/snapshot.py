"""What a trainer publishes to other threads: an immutable Snapshot, and the bounded buffers behind it.

The trainer republishes a new Snapshot every so often (aae_core.training); readers (the app, the jobs) only
ever see a finished one, so they never block training. The loss history and the code timeline it carries
have a fixed size, so a run of any length holds bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HISTORY_KEYS = ("recon", "d_loss", "g_loss", "d_acc", "kl")


@dataclass(frozen=True)
class Snapshot:
    """What a reader sees: counters, bounded loss histories, and the latest held-out codes."""

    version: int = 0
    step: int = 0
    epoch: float = 0.0
    samples_per_s: float = 0.0
    history: dict[str, np.ndarray] = field(default_factory=dict)  # key -> values, "step" -> step numbers
    codes: np.ndarray | None = None  # (n_eval, latent_dim) codes of the fixed held-out images
    codes_step: int = 0
    timeline: tuple[tuple[int, np.ndarray], ...] = ()  # (step, codes) at intervals, bounded
    error: str | None = None
    # Categorical models (aae_core.categorical_training): each held-out code's predicted class or cluster, and
    # the semi-supervised held-out error as (step, error) points over the run.
    predicted: np.ndarray | None = None
    error_curve: tuple[tuple[int, float], ...] = ()


class LossHistory:
    """The last `size` steps' losses (HISTORY_KEYS) in ring buffers: appending is O(1) and memory never grows."""

    def __init__(self, size: int):
        self.values = np.full((len(HISTORY_KEYS) + 1, size), np.nan, dtype=np.float64)  # last row: step
        self.count = 0

    def append(self, step: int, losses: list[float]) -> None:
        i = self.count % self.values.shape[1]
        self.values[:-1, i] = losses
        self.values[-1, i] = step
        self.count += 1

    def export(self) -> dict[str, np.ndarray]:
        """Each loss's values oldest first, and "step": the step of each."""
        size = self.values.shape[1]
        order = np.arange(self.count - min(self.count, size), self.count) % size
        out = {k: self.values[j, order].copy() for j, k in enumerate(HISTORY_KEYS)}
        out["step"] = self.values[-1, order].astype(np.int64)
        return out


class CodeTimeline:
    """Held-out codes at intervals over the whole run, in at most `size` frames: every `every`-th offer is kept;
    when full, every other kept frame is dropped and the interval doubles."""

    def __init__(self, size: int):
        self.size = size
        self.frames: list[tuple[int, np.ndarray]] = []
        self.every = 1
        self.offers = 0

    def offer(self, step: int, codes: np.ndarray) -> None:
        self.offers += 1
        if (self.offers - 1) % self.every:
            return
        if self.frames and self.frames[-1][0] == step:
            return
        f16 = np.finfo(np.float16).max  # float16 halves the memory; clip, or codes beyond 65504 would become inf
        self.frames.append((step, np.clip(codes, -f16, f16).astype(np.float16)))
        if len(self.frames) > self.size:
            self.frames = self.frames[::2]
            self.every *= 2

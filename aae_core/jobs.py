"""Background training jobs: each model trains on its own worker thread, and is read and steered from any other.

No Streamlit here. Starting, capping and reaping jobs is `aae_core.registry`'s work; this module is one job.

Threading model
  * One worker thread per `Job` owns its Trainer. Every step, and every read of the weights that must be
    consistent (a frozen copy for decoding, saving, metrics), runs on that thread, between two steps.
  * Readers call `job.snapshot()` (the Trainer's immutable, lock-free Snapshot) and `job.status()` (a small
    record behind a lock). Neither ever waits for training.
  * Control calls (pause, resume, step, frozen_model, save) are queued for the worker and waited on with a
    timeout, so each returns within a bound even while the worker is busy; `stop` joins with a timeout.
  * Metrics are computed on a thread of their own, from a frozen copy, at most every METRICS_EVERY_S.
"""

from __future__ import annotations

import copy
import queue
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from .checkpoints import DEFAULT_DIR, path_for, save_checkpoint, validate_name
from .config import AAEError, RunConfig, TrainConfig
from .data import Dataset
from .history import as_arrays, joined, short_history
from .metrics import evaluate
from .models import AutoEncoderBase
from .priors import Prior
from .training import Snapshot, Trainer, TrainingDiverged

CALL_TIMEOUT_S = 10.0  # longest a control call waits for the worker
JOIN_TIMEOUT_S = 5.0  # longest stop() waits for the worker thread to end
IDLE_POLL_S = 1.0  # a paused worker also wakes this often (stop() wakes it at once)
METRICS_EVERY_S = 5.0  # metrics are refreshed at most this often per job


class JobError(AAEError):
    """A job cannot do what was asked (stopped, busy, or the server's job limit is reached)."""


class JobState(str, Enum):
    """What a job's worker is doing. A str, so a state also compares equal to its value (`"running"`)."""

    RUNNING = "running"
    PAUSED = "paused"
    DIVERGED = "diverged"  # a step went non-finite: no more training, the last good weights stay to save
    FAILED = "failed"  # a step raised (a bug, out of memory): likewise
    STOPPED = "stopped"  # the worker has ended


@dataclass(frozen=True)
class JobStatus:
    """What a job is doing, the one-line message a person should see (divergence, budget reached...), and `cause`:
    DIVERGED or FAILED once either ended its training, kept (with its message) when the job is then stopped."""

    state: JobState
    message: str | None = None
    cause: JobState | None = None


@dataclass(frozen=True)
class JobSpec:
    """What `JobRegistry.start_group` needs to start one job (the arguments of `JobRegistry.start`)."""

    config: RunConfig
    data: Dataset
    model: AutoEncoderBase | None = None
    start_step: int = 0
    paused: bool = False
    max_steps: int | None = None
    history: dict | None = None


class Job:
    """One model training on its own worker thread; created by `JobRegistry.start`."""

    def __init__(
        self,
        trainer: Trainer,
        *,
        name: str,
        owner: str,
        threads: int = 1,
        paused: bool = False,
        max_steps: int | None = None,
        call_timeout_s: float = CALL_TIMEOUT_S,
        history: dict | None = None,
        claim: Callable[[list[Job]], None] | None = None,
    ):
        self._trainer = trainer
        self.name = name
        self.owner = owner
        self.id = secrets.token_hex(4)
        self.kind = trainer.config.model.kind
        self.budget = None if max_steps is None else max_steps - trainer.step_count
        self.max_steps = max_steps
        self.call_timeout_s = call_timeout_s
        self._threads = threads
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._running = not paused  # written only on the worker (and before it starts)
        # Counts against the registry's cap: set when a slot is claimed, cleared whenever the worker stops training.
        self.holds_slot = not paused
        self._claim = claim
        self._status_lock = threading.Lock()
        self._status = JobStatus(JobState.PAUSED if paused else JobState.RUNNING)
        self._train_settings = trainer.config.train
        self._earlier = as_arrays(history or {}, trainer.snapshot().history)
        self._frozen: tuple[int, AutoEncoderBase] | None = None
        self._metrics: tuple[int, dict] | None = None
        self._metrics_started = -float("inf")
        self._metrics_lock = threading.Lock()
        self._metrics_thread: threading.Thread | None = None
        self._thread = threading.Thread(target=self._work, name=f"aae-job-{owner[:8]}-{name}", daemon=True)
        self._thread.start()

    # ---- reading, from any thread ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The latest published training state (never blocks)."""
        return self._trainer.snapshot()

    def history(self) -> dict[str, np.ndarray]:
        """Loss curves: those a loaded checkpoint (or an earlier job) brought along, then this job's own."""
        return joined(self._earlier, self.snapshot().history)

    def status(self) -> JobStatus:
        with self._status_lock:
            return self._status

    @property
    def config(self) -> RunConfig:
        """The run configuration; its training settings include changes not yet applied (see `train_settings`)."""
        return self._trainer.config

    @property
    def train_settings(self) -> TrainConfig:
        """The training settings as last requested (live changes apply at the worker's next step)."""
        return self._train_settings

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def step_count(self) -> int:
        """Steps trained so far (ahead of `snapshot().step` until the next publish)."""
        return self._trainer.step_count

    @property
    def data(self) -> Dataset:
        """The dataset it trains on (on the training device)."""
        return self._trainer.data

    @property
    def prior(self) -> Prior:
        """The prior its codes are matched to (the VAE's KL term uses it too)."""
        return self._trainer.prior

    @property
    def eval_x(self) -> torch.Tensor:
        """The held-out images whose codes `snapshot().codes` holds, in that order."""
        return self._trainer.eval_x

    @property
    def eval_y(self) -> np.ndarray | None:
        """The labels of those held-out images, or None for unlabelled data."""
        return self._trainer.eval_y

    def continuation(self, *, paused: bool, budget: int) -> JobSpec:
        """A spec that starts this ended job again from its last weights and step, for `budget` steps more, its loss
        curves carried along (same config, fresh optimizers); JobError while its worker is still alive."""
        if self.alive:
            raise JobError(f"job {self.name!r} has not stopped; stop it before continuing it from its weights")
        t = self._trainer  # its worker has ended, so no other thread trains this model
        step, history = t.step_count, self.history()
        return JobSpec(
            t.config, t.data, model=t.model, start_step=step, paused=paused, max_steps=step + budget, history=history
        )

    # ---- control, from any thread ---------------------------------------------------------------

    def pause(self, message: str | None = None) -> Snapshot:
        """Stop stepping after the current step (`message`: why, for the status line); returns the snapshot it
        paused at."""
        return self._call(lambda: self._do_pause(message))

    def resume(self) -> JobStatus:
        """Continue training (past the step budget, if it was reached: the budget starts again). In a registry it
        first claims a training slot: JobLimitReached when the server's are all taken."""
        if self._claim is not None:
            self._claim([self])
        try:
            return self._call(self._do_resume)
        except JobError:
            if self.status().state != JobState.RUNNING:  # it never resumed: give the slot back
                self.holds_slot = False
            raise

    def step(self, phase: str = "full") -> Snapshot:
        """Pause, then train exactly one minibatch: 'full', or for an AAE 'recon', 'disc' (discriminator only)
        or 'gen' (encoder as generator only), as GAN Lab's single step. Returns the new snapshot."""
        return self._call(lambda: self._do_step(phase))

    def update_settings(self, **changes) -> TrainConfig:
        """Change learning rates or discriminator noise while training (no restart)."""
        with self._status_lock:
            self._trainer.update_settings(**changes)  # validates, queues for the worker's next step
            self._train_settings = self._train_settings.with_updates(**changes)
            return self._train_settings

    def set_max_steps(self, max_steps: int | None) -> None:
        """Move the step at which the job pauses itself (None: never)."""
        self.budget = None if max_steps is None else max(1, max_steps - self._trainer.step_count)
        self.max_steps = max_steps

    def frozen_model(self) -> tuple[int, AutoEncoderBase]:
        """(step, a copy of the model at that step) that no thread trains: safe to decode with, or to save."""
        step, frozen = self._frozen or (-1, None)
        if frozen is not None and step == self._trainer.weights_step:
            return step, frozen
        return self._call(self._do_freeze) if self.alive else self._do_freeze()

    def save(self, name: str, folder: str | Path = DEFAULT_DIR, with_metrics: bool = True) -> Path:
        """Save the current weights (the last good ones after a divergence) as `<folder>/<name>.safetensors`,
        with metrics and a short loss history in its metadata. The name is validated first."""
        path = path_for(validate_name(name), Path(folder))
        step, model = self.frozen_model()
        metrics = evaluate(model, self.prior, self.data, seed=self.config.train.seed) if with_metrics else None
        return save_checkpoint(
            path, model, self.config, step=step, metrics=metrics, history=short_history(self.history())
        )

    def metrics(self, max_age_s: float = METRICS_EVERY_S) -> tuple[int, dict] | None:
        """(step, metrics.evaluate result) from a background computation on a frozen copy, or None before the
        first one finishes. Starts a refresh when the last is older than `max_age_s` and training moved on."""
        with self._metrics_lock:
            busy = self._metrics_thread is not None and self._metrics_thread.is_alive()
            stale = self._metrics is None or self._metrics[0] != self._trainer.step_count
            if not busy and stale and time.monotonic() - self._metrics_started >= max_age_s:
                self._metrics_started = time.monotonic()
                self._metrics_thread = threading.Thread(
                    target=self._compute_metrics, daemon=True, name=f"aae-metrics-{self.owner[:8]}-{self.name}"
                )
                self._metrics_thread.start()
            return self._metrics

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop the worker and wait up to `timeout` s for it to end; True if it has ended."""
        self._stop.set()
        self._commands.put(None)  # wake a paused worker at once
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def join_background(self, timeout: float) -> None:
        """Wait (bounded) for a metrics computation in flight; used when tearing everything down."""
        t = self._metrics_thread
        if t is not None:
            t.join(timeout)

    # ---- the worker -----------------------------------------------------------------------------

    def _call(self, fn: Callable):
        """Run fn on the worker thread and return its result, waiting at most call_timeout_s."""
        if not self.alive or self._stop.is_set():
            raise JobError(f"job {self.name!r} is stopped; start or load a model first")
        future: Future = Future()
        self._commands.put((fn, future))
        if self._stop.is_set():  # stopped meanwhile: the worker may have drained its queue already, never to answer
            future.cancel()
        try:
            return future.result(self.call_timeout_s)
        except FutureTimeout:
            future.cancel()  # if the worker has not picked it up yet, it never runs
            raise JobError(f"job {self.name!r} did not answer within {self.call_timeout_s:g} s; try again") from None
        except CancelledError:
            raise JobError(f"job {self.name!r} stopped before it could do that") from None

    def _set_status(self, state: JobState, message: str | None = None, cause: JobState | None = None) -> None:
        trouble = state in (JobState.DIVERGED, JobState.FAILED)  # entering either makes it the cause
        with self._status_lock:
            self._status = JobStatus(state, message, state if trouble else cause)

    def _work(self) -> None:
        torch.set_num_threads(self._threads)  # per thread: the cap applies to this worker's ops
        try:
            while not self._stop.is_set():
                try:
                    item = self._commands.get(timeout=IDLE_POLL_S) if not self._running else self._commands.get_nowait()
                except queue.Empty:
                    item = None
                if item is not None:
                    self._run_command(*item)
                elif self._running and not self._stop.is_set():
                    self._train_one()
        finally:
            self.holds_slot = False
            self._drain()
            last = self.status()  # a divergence or failure stays told: why this job stopped training
            self._set_status(JobState.STOPPED, last.message if last.cause else None, last.cause)

    def _run_command(self, fn: Callable, future: Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to the caller, who raises it there
            future.set_exception(e)

    def _drain(self) -> None:
        """Cancel whatever is still queued, so no caller waits for a worker that is gone."""
        while True:
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].cancel()

    def _train_one(self) -> None:
        t = self._trainer
        try:
            t.step()
        except TrainingDiverged as e:
            self._running = self.holds_slot = False
            self._set_status(JobState.DIVERGED, str(e))
            return
        except Exception as e:  # a bug or out-of-memory: keep the worker (and the last weights) alive to save
            t.publish(force_codes=False)
            self._running = self.holds_slot = False
            first_line = str(e).splitlines()[0] if str(e) else ""
            message = f"training failed at step {t.step_count}: {type(e).__name__}: {first_line}"
            self._set_status(JobState.FAILED, message)
            return
        if self.max_steps is not None and t.step_count >= self.max_steps:
            note = "paused at the step budget ({:,} steps, {:.1f} epochs); press Train to continue"
            self._do_pause(message=lambda snap: note.format(snap.step, snap.epoch))

    def _do_pause(self, message: str | Callable[[Snapshot], str] | None = None) -> Snapshot:
        """Pause on the worker; `message` may be a function of the snapshot it publishes (so its figures are
        those the page shows)."""
        self._running = self.holds_slot = False
        snapshot = self._trainer.publish(force_codes=True)  # before the status: "paused" means published
        if snapshot.error and self.status().state != JobState.FAILED:  # the publish found non-finite weights or codes
            self._set_status(JobState.DIVERGED, snapshot.error)
        elif self.status().state in (JobState.RUNNING, JobState.PAUSED):
            self._set_status(JobState.PAUSED, message(snapshot) if callable(message) else message)
        return snapshot

    def _do_resume(self) -> JobStatus:
        if self.status().cause:
            self.holds_slot = False
            return self.status()
        if self.max_steps is not None and self.budget and self._trainer.step_count >= self.max_steps:
            self.max_steps = self._trainer.step_count + self.budget
        self._running = self.holds_slot = True
        self._set_status(JobState.RUNNING)
        return self.status()

    def _do_step(self, phase: str) -> Snapshot:
        self._do_pause()
        status = self.status()
        if status.cause:
            raise JobError(status.message)
        try:
            self._trainer.step(phase)
        except TrainingDiverged as e:
            self._set_status(JobState.DIVERGED, str(e))
            raise JobError(str(e)) from None
        snapshot = self._trainer.publish(force_codes=True)
        if snapshot.error:  # this step's update left non-finite weights or codes: it diverged too
            self._set_status(JobState.DIVERGED, snapshot.error)
            raise JobError(snapshot.error)
        return snapshot

    def _do_freeze(self) -> tuple[int, AutoEncoderBase]:
        model = copy.deepcopy(self._trainer.model).eval().requires_grad_(False)
        self._frozen = (self._trainer.weights_step, model)
        return self._frozen

    def _compute_metrics(self) -> None:
        torch.set_num_threads(1)  # off the hot path: never take more than one core from training
        try:
            step, model = self.frozen_model()
            result = evaluate(model, self.prior, self.data, seed=self.config.train.seed)
        except AAEError:
            return  # stopped or busy: the next call retries
        with self._metrics_lock:
            self._metrics = (step, result)

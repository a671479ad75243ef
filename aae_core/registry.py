"""The server's training jobs: a registry owns them by owner token, caps how many train at once, and reaps them.

No Streamlit here: the app keeps one `JobRegistry` in `st.cache_resource`; tests and benchmarks use it directly.
A job itself (its worker thread, snapshots, control calls) is `aae_core.jobs.Job`.

Lifetimes
  Jobs belong to an owner token (the app uses one per browser session, kept in the page URL so a reload
  re-attaches). `lease(token)` claims a token for one live session; `Lease.release()` (the session ended)
  starts a grace period, after which the owner's jobs are stopped unless a new lease re-attached them.
  A token already held by another live session is never shared: that caller gets a fresh token.
  The number of jobs *training* (holding a CPU slot) across all owners is capped; paused, diverged and
  stopped jobs hold no slot. At the cap, running jobs of sessions that have closed (in their grace period)
  are paused to free their slots; if that is not enough, `start` or `resume` raises `JobLimitReached` at
  once instead of queueing. `start_group` and `resume` claim the slots of several jobs together: all or none.

Threading model
  One lock guards the books (jobs by owner, leased tokens, release timers, reserved slots). It is never held
  while building a Trainer or waiting on a job (stop, pause), so no registry call waits for training under it.
  Each release's grace period runs on a timer thread of its own.
"""

from __future__ import annotations

import os
import re
import secrets
import threading

from .config import AAEError, RunConfig
from .data import Dataset
from .jobs import CALL_TIMEOUT_S, JOIN_TIMEOUT_S, Job, JobError, JobSpec, JobState, JobStatus
from .models import AutoEncoderBase
from .training import Trainer

DEFAULT_MAX_LIVE = 4
DEFAULT_GRACE_S = 120.0
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


class JobLimitReached(JobError):
    """Starting another job would exceed the server-wide cap on live jobs."""


def default_threads() -> int:
    """Torch threads per job: keep a core for the web server and split the rest between the usual two jobs
    (one on a 2-core box), at most 4 because these small MLPs gain little beyond that."""
    return max(1, min(4, ((os.cpu_count() or 1) - 1) // 2))


class Lease:
    """One live session's claim on an owner token; `release()` when the session ends (idempotent)."""

    def __init__(self, registry: JobRegistry, owner: str):
        self.registry = registry
        self.owner = owner
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.registry._release(self.owner)


class JobRegistry:
    """All jobs of a server process, grouped by owner token, with a cap on live jobs and a release grace period."""

    def __init__(
        self,
        max_live: int = DEFAULT_MAX_LIVE,
        grace_s: float = DEFAULT_GRACE_S,
        threads: int | None = None,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ):
        if max_live < 1:
            raise AAEError(f"max_live={max_live}: must be at least 1")
        self.max_live = max_live
        self.grace_s = grace_s
        self.threads = threads or default_threads()
        self.call_timeout_s = call_timeout_s
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Job]] = {}
        self._held: dict[str, int] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._starting = 0  # slots reserved by start() calls still building their Trainer

    # ---- owners -----------------------------------------------------------------------------------

    def lease(self, token: str | None = None) -> Lease:
        """Claim `token` for one live session (cancelling its pending release), or a fresh token when
        it is missing, malformed, or held by another live session."""
        with self._lock:
            if not (isinstance(token, str) and TOKEN_RE.fullmatch(token)) or self._held.get(token, 0):
                token = secrets.token_urlsafe(12)
            self._held[token] = 1
            timer = self._timers.pop(token, None)
        if timer is not None:
            timer.cancel()
        return Lease(self, token)

    def _release(self, owner: str) -> None:
        with self._lock:
            self._held.pop(owner, None)
            if not self._jobs.get(owner):
                self._jobs.pop(owner, None)
                return
            timer = threading.Timer(self.grace_s, self._expire, (owner,))
            timer.daemon = True
            timer.name = f"aae-release-{owner[:8]}"
            self._timers[owner] = timer
        timer.start()

    def _expire(self, owner: str) -> None:
        """The grace period ended: stop the owner's jobs unless the owner was leased again."""
        with self._lock:
            if self._held.get(owner) or self._timers.get(owner) is not threading.current_thread():
                return
            self._timers.pop(owner)
            jobs = self._jobs.pop(owner, {})
        for job in jobs.values():
            job.stop()

    # ---- jobs -------------------------------------------------------------------------------------

    def start(
        self,
        owner: str,
        name: str,
        config: RunConfig,
        data: Dataset,
        *,
        model: AutoEncoderBase | None = None,
        start_step: int = 0,
        paused: bool = False,
        max_steps: int | None = None,
        history: dict | None = None,
    ) -> Job:
        """Build a Trainer and start it as the owner's job `name`, replacing (stopping) one of that name.
        `history`: loss curves to show before this job's own (a checkpoint's, as stored in its metadata).
        Raises JobLimitReached at the cap, or AAEError for a bad config, before any thread starts."""
        spec = JobSpec(
            config, data, model=model, start_step=start_step, paused=paused, max_steps=max_steps, history=history
        )
        return self.start_group(owner, {name: spec})[name]

    def start_group(self, owner: str, specs: dict[str, JobSpec]) -> dict[str, Job]:
        """Start several of the owner's jobs together (an AAE and the VAE beside it): the training slots of all
        are claimed at once, so at the cap none starts (JobLimitReached), and a bad config starts none."""
        need = sum(not spec.paused for spec in specs.values())
        for attempt in range(2):
            with self._lock:
                # Jobs being replaced give their slots back, so a reset is allowed at the cap.
                mine = self._jobs.get(owner, {})
                old = {name: mine[name] for name in specs if name in mine}
                if self._training(leaving=old.values()) + need <= self.max_live:
                    for name in old:  # out of the books first, so concurrent starts cannot both count them
                        del mine[name]
                    self._starting += need
                    break
            if attempt or not self._reclaim():
                raise JobLimitReached(self._cap_message())
        try:
            trainers = {
                name: Trainer(spec.config, spec.data, publish_every_s=0.5, model=spec.model, start_step=spec.start_step)
                for name, spec in specs.items()
            }
        except BaseException:
            with self._lock:
                self._starting -= need
                for name, job in list(old.items()):
                    if name not in self._jobs.get(owner, {}):
                        self._jobs.setdefault(owner, {})[name] = job  # a bad config leaves the running jobs alone
                        del old[name]
            for job in old.values():
                job.stop()
            raise
        for job in old.values():
            job.stop()
        jobs = {
            name: Job(
                trainers[name],
                name=name,
                owner=owner,
                threads=self.threads,
                paused=spec.paused,
                max_steps=spec.max_steps,
                call_timeout_s=self.call_timeout_s,
                history=spec.history,
                claim=self._claim,
            )
            for name, spec in specs.items()
        }
        with self._lock:
            self._starting -= need
            mine = self._jobs.setdefault(owner, {})
            displaced = [mine[name] for name in jobs if name in mine]
            mine.update(jobs)
        for job in displaced:  # a concurrent start of the same name finished first: last one wins
            job.stop()
        return jobs

    def resume(self, owner: str) -> dict[str, JobStatus]:
        """Resume all the owner's paused jobs, claiming their training slots together: all or none."""
        jobs = [job for job in self.jobs(owner).values() if job.alive and job.status().state == JobState.PAUSED]
        self._claim(jobs)
        return {job.name: job.resume() for job in jobs}

    def _training(self, leaving=()) -> int:
        """Jobs holding a training slot, plus slots reserved by starts still building (call under the lock)."""
        return self._starting + sum(
            j.alive and j.holds_slot and all(j is not k for k in leaving)
            for jobs in self._jobs.values()
            for j in jobs.values()
        )

    def _cap_message(self) -> str:
        return (
            f"{self.max_live} models are already training on this server (the limit, across all sessions); "
            f"pause or stop one of yours, or try again in a minute"
        )

    def _claim(self, jobs: list[Job]) -> None:
        """Give these jobs training slots, all or none; JobLimitReached when the free ones are too few."""
        for attempt in range(2):
            with self._lock:
                need = [job for job in jobs if not job.holds_slot]
                if self._training() + len(need) <= self.max_live:
                    for job in need:
                        job.holds_slot = True
                    return
            if attempt or not self._reclaim():
                raise JobLimitReached(self._cap_message())

    def _reclaim(self) -> bool:
        """Pause the training jobs of sessions that have closed (their grace period runs): nobody watches them, and
        a reload within the grace period finds them paused, weights intact. Returns whether any was paused."""
        with self._lock:
            idle = [
                job
                for owner in self._timers
                for job in self._jobs.get(owner, {}).values()
                if job.alive and job.holds_slot
            ]
        for job in idle:
            try:
                job.pause("paused while its page was closed, to give another session a training slot")
            except JobError:
                pass  # stopped meanwhile: its slot is free anyway
        return bool(idle)

    def jobs(self, owner: str) -> dict[str, Job]:
        """The owner's jobs by name (live or stopped; stopped ones keep their last state for viewing and saving)."""
        with self._lock:
            return dict(self._jobs.get(owner, {}))

    def stop(self, owner: str, name: str | None = None) -> None:
        """Stop one of the owner's jobs, or all of them; they stay listed (stopped) until replaced or removed."""
        for job_name, job in self.jobs(owner).items():
            if name is None or job_name == name:
                job.stop()

    def remove(self, owner: str, name: str) -> None:
        """Stop and forget one of the owner's jobs."""
        with self._lock:
            job = self._jobs.get(owner, {}).pop(name, None)
        if job is not None:
            job.stop()

    def live_count(self) -> int:
        """Jobs whose worker thread is alive (training, paused or diverged)."""
        with self._lock:
            return sum(j.alive for jobs in self._jobs.values() for j in jobs.values())

    def training_count(self) -> int:
        """Jobs holding a training slot: what the cap counts."""
        with self._lock:
            return self._training()

    def stop_all(self, timeout: float = JOIN_TIMEOUT_S) -> None:
        """Stop every job and cancel every pending release (server shutdown, tests)."""
        with self._lock:
            jobs = [j for owner_jobs in self._jobs.values() for j in owner_jobs.values()]
            timers = list(self._timers.values())
            self._jobs.clear()
            self._timers.clear()
            self._held.clear()
        for timer in timers:
            timer.cancel()
        for job in jobs:
            job.stop(timeout)
        for job in jobs:
            job.join_background(timeout)

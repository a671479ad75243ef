"""Responsiveness: how long a page rerun takes while the server's cap of jobs trains.

Sessions are simulated with streamlit's AppTest in this one process, as `streamlit run` runs every session's
script in the process that holds the jobs: each first visit starts an AAE and a VAE until the cap is reached,
one more session is turned away at the cap, then the sessions rerun in turn, cycling through the tabs, while
every job trains. A rerun's time is the script's run (widgets, figures, images); the browser's drawing and the
websocket are not in it. Jobs that reach their step budget are resumed, so the cap trains throughout.

    flock /tmp/aae-cpu.lock python -m bench.responsiveness --reruns 60 --out bench/results/responsiveness.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")
TABS = ("Live training", "Decoded", "AAE vs VAE", "Latent pad", "Timeline", "Checkpoints & export")


# AppTest runs every instance as one session ("test session id"), so session-scoped caches, the app's owner
# lease among them, would be shared by all simulated sessions. The server gives each browser tab its own session
# id; so does this bench: ScriptRunner is started with the id of the session whose turn it is.
_turn = {"session_id": None}
_script_runner_init = ScriptRunner.__init__


def _init_as_current_session(self, *args, session_id: str, **kwargs) -> None:
    _script_runner_init(self, *args, session_id=_turn["session_id"] or session_id, **kwargs)


ScriptRunner.__init__ = _init_as_current_session


def run_as(at: AppTest) -> float:
    """Rerun `at` as its own session; seconds the script took."""
    _turn["session_id"] = f"bench-session-{id(at)}"
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception}")
    return elapsed


def visit() -> tuple[AppTest, float]:
    at = AppTest.from_file(APP, default_timeout=120)
    return at, run_as(at)


def keep_training(jobs: list) -> int:
    """Resume jobs paused at their step budget; the number of jobs training."""
    for job in jobs:
        if job.status().state == "paused":
            job.resume()
    return sum(job.status().state == "running" for job in jobs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reruns", type=int, default=60)
    p.add_argument("--warmup-s", type=float, default=5.0, help="let the jobs get going before timing")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    os.environ["AAE_EXPLORER_CHECKPOINTS"] = tempfile.mkdtemp(prefix="aae-resp-")  # nothing to load: train
    from explorer import session  # after the environment is set: the app reads it

    sessions, first_visits = [], []
    while True:
        at, elapsed = visit()
        first_visits.append(round(elapsed, 3))
        sessions.append(at)
        if session.registry().training_count() >= session.registry().max_live:
            break
    turned_away, refused_s = visit()
    refusal = [str(e.value) for e in turned_away.error] + [str(t.value) for t in turned_away.toast]
    registry = session.registry()
    jobs = [job for at in sessions for job in registry.jobs(at.query_params["owner"]).values()]
    time.sleep(args.warmup_s)

    timings, running = [], []
    try:
        for i in range(args.reruns):
            running.append(keep_training(jobs))
            at = sessions[i % len(sessions)]
            at.session_state["tab"] = TABS[(i // len(sessions)) % len(TABS)]
            timings.append((at.session_state["tab"], run_as(at)))
    finally:
        steps = [job.snapshot().step for job in jobs]
        registry.stop_all()

    seconds = np.array([t for _, t in timings])
    by_tab = {
        tab: round(float(np.median([t for name, t in timings if name == tab])), 3)
        for tab in TABS
        if any(name == tab for name, _ in timings)
    }
    result = {
        "command": f"python -m bench.responsiveness --reruns {args.reruns}",
        "cap": registry.max_live,
        "sessions": len(sessions),
        "cpu_count": os.cpu_count(),
        "jobs_training_during_reruns": {"min": min(running), "max": max(running)},
        "first_visit_s": first_visits,
        "turned_away_at_cap": {"seconds": round(refused_s, 3), "messages": refusal},
        "rerun_s": {
            "median": round(float(np.median(seconds)), 3),
            "p90": round(float(np.percentile(seconds, 90)), 3),
            "max": round(float(seconds.max()), 3),
            "under_1s": f"{int((seconds < 1).sum())}/{len(seconds)}",
        },
        "rerun_median_s_by_tab": by_tab,
        "steps_trained_per_job": steps,
    }
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

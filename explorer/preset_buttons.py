"""The sidebar's presets: the paper's figures, the shipped demos, and failures on purpose, one button each.

Each button is a widget callback (run before the script, so the page it leads to shows its effect): it sets the
settings' widget values, keeping the dataset and seed the user chose, and starts the jobs.
"""

from __future__ import annotations

import streamlit as st

from . import actions, session
from .messages import guarded
from .session import Session
from .settings import FAILURES, PRESETS, as_dict


def _preset(sess: Session, name: str) -> list[str]:
    keep = {f: st.session_state[f] for f in ("dataset", "seed") if f in st.session_state}
    st.session_state.update(as_dict(PRESETS[name]) | keep)
    return [f"preset {name!r}"] + actions.start_jobs(sess, session.current(), prefer_checkpoints=True)


def _failure(sess: Session, name: str) -> list[str]:
    """A preset that breaks training on purpose, from scratch (no demo shows a failure): it says what to watch
    for and what fixes it."""
    failure = FAILURES[name]
    keep = {"seed": st.session_state["seed"]} if "seed" in st.session_state else {}
    st.session_state.update(as_dict(failure.settings) | keep)
    return [f"{name}: watch for {failure.shows}; to fix it, {failure.fix}"] + actions.start_jobs(
        sess, session.current()
    )


def _demos(sess: Session) -> list[str]:
    """The shipped models trained with the current settings (a fresh visit trains from scratch instead)."""
    return actions.start_jobs(sess, session.current(), prefer_checkpoints=True)


def draw(sess: Session) -> None:
    """The presets' buttons, at the top of the sidebar."""
    st.subheader("Presets")
    for name in PRESETS:
        st.button(name, key=f"preset-{name}", on_click=guarded, args=(_preset, sess, name), width="stretch")
    st.button(
        "Trained demos",
        key="demos",
        icon=":material/inventory_2:",
        on_click=guarded,
        args=(_demos, sess),
        width="stretch",
        help="Load the shipped models trained with these settings (a fresh visit trains from scratch instead)",
    )
    with st.expander("Failures on purpose", icon=":material/heart_broken:"):
        st.caption("Each breaks training in a known way, so you can see what it looks like and what fixes it.")
        for name in FAILURES:
            st.button(
                name, key=f"failure-{name}", on_click=guarded, args=(_failure, sess, name),
                kwargs={"level": "note"}, width="stretch",
            )  # fmt: skip

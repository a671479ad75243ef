"""Flash messages: what an action has to say, kept as one line and shown at the top of the page on that run.

Actions run as widget callbacks, before the script draws the page; a message they leave here is shown when
the page is drawn, and a user-facing error becomes one line instead of a traceback.
"""

from __future__ import annotations

import streamlit as st

from aae_core.config import AAEError
from aae_core.untrusted import markdown_literal


def flash(level: str, text: str) -> None:
    """Keep a one-line message for this run: an error stays on the page, a "note" is a caption under the transport
    bar (what the page did by itself, e.g. on the first visit: no toast over the buttons), anything else a toast."""
    st.session_state.setdefault("_flash", []).append((level, text))


def show_flash() -> None:
    """Show this run's flash messages (the notes as one caption line)."""
    messages = st.session_state.pop("_flash", [])
    notes = [text for level, text in messages if level == "note"]
    if notes:
        st.caption(markdown_literal(" · ".join(notes)))
    for level, text in messages:
        if level == "error":
            st.error(markdown_literal(text))
        elif level != "note":
            st.toast(
                markdown_literal(text), icon=":material/check_circle:" if level == "success" else ":material/info:"
            )


def guarded(action, *args, level: str = "info", **kwargs) -> None:
    """Run an action; its lines become flash messages of `level`, and a user-facing error one flash line instead of
    a traceback."""
    try:
        for line in action(*args, **kwargs) or ():
            flash(level, line)
    except AAEError as e:
        flash("error", str(e))

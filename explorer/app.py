"""AAE Explorer: watch an adversarial autoencoder (and a VAE beside it) shape its latent space, live.

Run with `aae-explorer` (explorer/launch.py: the project's Streamlit settings from any folder). The page is a
thin view: models train in background jobs (aae_core.jobs) that outlive reruns and reloads; the tabs read
their snapshots and call aae_core.
Environment: AAE_EXPLORER_MAX_JOBS, AAE_EXPLORER_GRACE_S, AAE_EXPLORER_CHECKPOINTS (see explorer/session.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run explorer/app.py` from a checkout

from explorer import charts, launch  # noqa: E402

# The icon is a file served by this server: a material-icon or emoji page icon is fetched from a font/emoji host.
st.set_page_config(
    page_title="AAE Explorer", page_icon=str(Path(__file__).resolve().parent / "icon.svg"), layout="wide"
)
if (refusal := launch.unasked_public_address()) is not None:
    st.error(refusal)  # nothing of the app (data, uploads, training) is served on an address nobody chose
    st.stop()
# Before the heavy imports below (torch, the models): the browser fetches and parses plotly.js while they load
# and the first jobs start, so the first chart does not wait for it (~1 s sooner on a cold server).
charts.preload_plotly()

import torch  # noqa: E402

from aae_core.config import AAEError  # noqa: E402
from aae_core.untrusted import MAX_QUOTED, markdown_literal, one_line  # noqa: E402
from explorer import actions, controls, messages, session  # noqa: E402
from explorer.views import (  # noqa: E402
    categorical,
    checkpoints,
    compare,
    decoded,
    draw,
    explain,
    live,
    pad,
    timeline,
)

TABS = {
    "Live training": live,
    "Explained, slow motion": explain,
    "Decoded": decoded,
    "Classes & clusters": categorical,
    "AAE vs VAE": compare,
    "Latent pad": pad,
    "Timeline": timeline,
    "Draw a prior": draw,
    "Checkpoints & export": checkpoints,
}

# The script thread renders figures; training threads set their own count (aae_core.registry.default_threads).
# One thread here keeps the page's work from competing with training for every core.
torch.set_num_threads(1)

sess = session.session()
for pair in session.load_url_settings():
    messages.flash("error", f"URL: ignored {one_line(pair, MAX_QUOTED)} (not a value this setting takes)")
session.apply_pending_settings()
settings = controls.sidebar(sess)
controls.apply_live(sess, settings)
session.sync_url(settings)

if not st.session_state.get("_started"):
    # First visit: train from initialisation at once, so codes flow onto the prior from step 0 (the shipped
    # demos are one click away: "Trained demos", or a preset).
    st.session_state["_started"] = True
    if not sess.jobs():
        messages.guarded(actions.start_jobs, sess, settings, level="note")

st.markdown(
    "### :material/scatter_plot: AAE Explorer  \n"
    "<small>Adversarial autoencoders (Makhzani et al., 2015) push the codes of an autoencoder onto a prior "
    "p(z) with a discriminator; a VAE does it with a KL term. Watch both fill the prior.</small>",
    unsafe_allow_html=True,
)
controls.transport(sess)
messages.show_flash()
controls.confirm_reset(sess, settings)

for tab, view in zip(st.tabs(list(TABS), key="tab", bind="query-params"), TABS.values()):
    if tab.open:
        with tab:
            try:
                view.show(sess)
            except AAEError as e:
                st.error(markdown_literal(str(e)))

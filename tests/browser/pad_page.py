"""A page for the latent pad's browser test and benchmark: random AAE and VAE models, codes refreshed every second.

Query parameters: `size=explorer|paper` picks the decoder widths (2-256-256-784 or 2-1000-1000-784);
`live=1` nudges the weights and bumps their version on every refresh, as a training run would;
`fallback=1` gives the VAE a decoder the browser cannot run (a Tanh in it), so the server decodes it.
"""

import numpy as np
import streamlit as st
import torch

from aae_core.config import ModelConfig, PriorConfig
from aae_core.models import build_model
from aae_core.priors import make_prior
from aae_core.settings import SIZE_PRESETS
from explorer.latent_pad import latent_pad

N_CODES, N_TRAIN = 1000, 500


@st.cache_resource
def setup(size: str, fallback: bool) -> dict:
    """Models, labelled codes and a small 'training set' for one size preset (shared by all sessions)."""
    torch.manual_seed(0)
    models = {
        kind.upper(): build_model(ModelConfig(kind=kind, hidden=SIZE_PRESETS[size], disc_hidden=(8,)))
        for kind in ("aae", "vae")
    }
    with torch.no_grad():
        # Untrained decoders paint flat grey noise. Smooth blobs (each last-layer column a blurry 28 x 28
        # field) and larger weights make images that visibly and smoothly change with z.
        for model in models.values():
            last = model.decoder[-1]
            fields = torch.nn.functional.interpolate(
                torch.randn(last.in_features, 1, 5, 5), size=(28, 28), mode="bicubic", align_corners=True
            )
            last.weight.copy_(fields.reshape(last.in_features, 784).T / last.in_features**0.5 * 6)
            for p in model.decoder[:-1].parameters():
                p.mul_(1.5)
    if fallback:
        models["VAE"].decoder[1] = torch.nn.Tanh()
    prior = make_prior(PriorConfig(name="mixture", dim=2))
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(10, (N_CODES,), generator=gen)
    codes = {name: prior.sample(N_CODES, labels, gen).numpy() * (1.0 if name == "AAE" else 0.7) for name in models}
    train_z = prior.sample(N_TRAIN, generator=gen)
    with torch.no_grad():
        train_images = models["AAE"].decode(train_z).numpy()
    return {
        "models": models,
        "codes": codes,
        "labels": labels.numpy(),
        "prior": prior.sample(1000, generator=gen).numpy(),
        "train_codes": {name: train_z.numpy() for name in models},
        "train_images": train_images,
    }


st.set_page_config(page_title="latent pad test page", layout="wide")
size = st.query_params.get("size", "explorer")
live = st.query_params.get("live") == "1"
world = setup(size, st.query_params.get("fallback") == "1")


@st.fragment(run_every=1)
def live_view() -> None:
    refresh = st.session_state["refresh"] = st.session_state.get("refresh", 0) + 1
    rng = np.random.default_rng(refresh)
    if live:
        with torch.no_grad():
            for model in world["models"].values():
                model.decoder[-1].bias.add_(0.01 * torch.randn(model.decoder[-1].bias.shape))
    codes = {name: c + rng.normal(scale=0.01, size=c.shape) for name, c in world["codes"].items()}
    with st.container(key="refresh"):
        st.caption(f"refresh {refresh}")
    latent_pad(
        world["models"],
        codes,
        world["labels"],
        world["prior"],
        (28, 28),
        f"{size}:{refresh if live else 0}",
        key="pad",
        class_names=[f"digit {d}" for d in range(10)],
        train_codes=world["train_codes"],
        train_images=world["train_images"],
    )


live_view()

"""AAE Explorer's science package: priors, AAE/VAE models, a step-wise trainer, data, metrics, checkpoints.

It never imports Streamlit; the app in `explorer/` is a thin view over it.
"""

__version__ = "0.1.0"

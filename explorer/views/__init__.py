"""The app's tabs: each module draws one, reading job state and calling aae_core (never training itself)."""

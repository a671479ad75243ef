"""Tests that drive a real chromium (marker `browser`), and their harness."""

"""Reading the explorer's page under streamlit.testing.v1.AppTest, for the AppTest suites (fixtures in conftest.py)."""

import json
import re
from pathlib import Path

from explorer import session

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")


def jobs(at):
    return session.registry().jobs(at.query_params["owner"])


def steps(at) -> list[int]:
    return [int(m.value.replace(",", "")) for m in at.metric if m.label == "step"]


def chart_elements(at) -> dict[str, tuple[str, dict]]:
    """The app's charts by widget key: (element id, figure)."""
    found = {
        el.key: (el.proto.id, json.loads(el.proto.json))
        for el in at.get("bidi_component")
        if el.proto.component_name == "aae_explorer.chart"
    }
    assert found.pop("plotly-preload", (None, {"figure": None}))[1]["figure"] is None, "the preload draws nothing"
    return {key: (id_, json.loads(data["figure"])) for key, (id_, data) in found.items()}


def charts(at) -> list[dict]:
    """The figures the app's charts (explorer.charts) were given."""
    return [figure for _, figure in chart_elements(at).values()]


def texts(at, kind: str) -> str:
    """The elements' text as a person reads it (the app backslash-escapes markdown in messages)."""
    return " | ".join(re.sub(r"\\(.)", r"\1", str(e.value)).replace("\u2060", "") for e in getattr(at, kind))

"""Issue 15 in a real chromium: a crafted share link's markdown renders as plain text (no link, image, colour or
bold, and nothing fetched from its host), and `streamlit run` started outside the repository, listening on all
interfaces because nobody chose an address, serves only its refusal."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from tests.browser.harness import ROOT, serve_streamlit

ARTIFACTS = ROOT / "artifacts"
# Two URL values (each is cut to 80 characters in the message): links, an image beacon, colour and bold; raw HTML
# and the bare URLs, domains and addresses GFM turns into links by itself.
PAYLOADS = {
    "prior": "[x](http://evil.example/x) ![b](http://evil.example/b.png) :red[A] **B**",
    "size": "<img src=http://evil.example/i.png> www.evil.example x@evil.example",
}
LINKY = "a, img, strong, em, span[style*='color'], [class*='red']"

pytestmark = pytest.mark.browser


def test_share_link_markdown_renders_as_text(streamlit_app, page):
    url = streamlit_app("explorer/app.py", env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{url}/?epochs=1&" + "&".join(f"{k}={quote(v)}" for k, v in PAYLOADS.items()))
    # Flash messages last one page run (the page reruns when the one-epoch jobs pause), so read both boxes at once.
    boxes = page.wait_for_function(
        f"""() => {{
        const boxes = [...document.querySelectorAll('[data-testid=stAlertContentError]')]
            .filter(b => b.innerText.includes('URL: ignored'));
        return boxes.length >= 2 ? boxes.map(b => [b.innerText, b.querySelectorAll({LINKY!r}).length, b.innerHTML])
                                 : null;
    }}""",
        timeout=60_000,
    ).json_value()
    assert len(boxes) == 2
    for name, payload in PAYLOADS.items():
        ((text, links, html),) = [b for b in boxes if f"ignored {name}=" in b[0]]
        assert links == 0, html
        assert f"ignored {name}={payload}" in text.replace("\u2060", "")
    assert not [r for r in requests if "evil" in (urlparse(r).hostname or "")], (
        "nothing fetched from the payload's host"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hostile_share_link_page.png"))
    page.locator(".st-key-stop button").first.click()


def test_streamlit_run_from_another_folder_refuses_to_serve(page):
    if os.environ.get("STREAMLIT_SERVER_ADDRESS"):
        pytest.skip("STREAMLIT_SERVER_ADDRESS is set: the address is chosen, so the app rightly serves")
    elsewhere = Path(tempfile.mkdtemp())
    with serve_streamlit(
        ROOT / "explorer" / "app.py", cwd=elsewhere, address=None, env={"AAE_EXPLORER_CHECKPOINTS": tempfile.mkdtemp()}
    ) as url:
        page.goto(url)
        box = page.locator('[data-testid="stAlertContentError"]')
        box.wait_for(timeout=60_000)
        assert "listens on all network interfaces" in box.inner_text() and "aae-explorer" in box.inner_text()
        assert page.locator('[data-testid="stSidebar"], .st-key-train, [data-testid="stTab"]').count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "refusal_all_interfaces.png"))

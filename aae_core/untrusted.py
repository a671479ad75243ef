"""Values from outside (URLs, file names, file contents, checkpoint metadata) made safe to echo and to write to.

One place for the rules: a value quoted in a message is one line and bounded (`shorten`); a message shown by the
app, which renders markdown, has every markdown character escaped (`markdown_literal`), so a crafted link or file
name cannot put links, images or colours on the page; and an output path is checked before any work is done
(`check_output_file`, `check_output_dir`), so a bad destination costs a one-line error, not a finished run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import AAEError

MAX_QUOTED = 80  # characters of an outside value quoted inside a message
MAX_MESSAGE = 600  # characters of a whole message shown on the page
# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones markdown, GFM and
# Streamlit's extensions (":red[...]" directives, "$" math) give a meaning.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=\"'^%@/])")
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?=@)")


def one_line(text: str, limit: int) -> str:
    """`text` with its whitespace runs (newlines included) folded to single spaces, cut to `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(value: Any, limit: int = MAX_QUOTED) -> str:
    """`repr(value)` on one line and at most `limit` characters: how a message quotes a value it did not choose."""
    return one_line(repr(value), limit)


def markdown_literal(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message for st.error, st.toast or st.caption: one line, bounded, shown exactly as written. Streamlit's
    markdown also links bare URLs and e-mail addresses in text after escapes are resolved (GFM autolink literals),
    so an invisible word joiner splits "http:", "www." and "@"."""
    return _MARKDOWN.sub(r"\\\1", _AUTOLINK.sub("\u2060", one_line(text, limit)))


def check_output_file(path: str | Path, what: str = "--out") -> Path:
    """Refuse, before any work, a file destination that cannot be written: empty, a folder, under a file, or in a
    folder this process cannot create or write."""
    if not str(path).strip():
        raise AAEError(f"{what}: empty path")
    path = Path(path)
    if path.is_dir():
        raise AAEError(f"{what} {shorten(str(path))}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise AAEError(f"{what} {shorten(str(path))}: exists and is not a regular file")
    check_output_dir(path.parent, what)
    return path


def check_output_dir(folder: str | Path, what: str = "--out") -> Path:
    """Refuse, before any work, a folder that is a file, lies under a file, or cannot be created or written."""
    if not str(folder).strip():
        raise AAEError(f"{what}: empty path")
    folder = Path(folder)
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise AAEError(f"{what} {shorten(str(folder))}: {shorten(str(existing))} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AAEError(f"{what} {shorten(str(folder))}: {shorten(str(existing))} is not writable")
    return folder

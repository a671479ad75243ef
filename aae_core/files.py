"""Writing a file so that readers see the old one or the new one, never half of it.

Checkpoints, the report's figures, the sweep's tables and the app's copy of plotly.js are all read while
they may be rewritten (by another process, or after a kill mid-write). The one way this project writes them:
a temp file in the same folder, fsync, then a rename over the target, which POSIX makes atomic.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path. The file gets the permissions open() would give
    it (0o666 less the umask); a failed write leaves the old file and no temp file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    # O_EXCL: never write through a file (or a planted symlink) already there. Mode 0o666, not mkstemp's 0o600:
    # the kernel applies the umask, so no chmod, and no os.umask() call (reading it that way sets it, racing
    # with other threads that create files meanwhile).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them the file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

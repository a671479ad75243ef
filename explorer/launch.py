"""`aae-explorer`: start the app with the project's Streamlit settings from any folder.

Streamlit reads `.streamlit/config.toml` from the folder it is started in, so `streamlit run explorer/app.py` started
anywhere but the repository root would listen on every interface, show tracebacks to visitors, and lose the upload
limit, static serving and toolbar settings. The launcher passes that file's settings as command-line options, then
whatever options the user adds (`aae-explorer --server.port 8600`), which win. The app itself refuses to serve when
Streamlit would listen on all interfaces without anyone having asked for it (`unasked_public_address`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "explorer" / "app.py"
CONFIG = ROOT / ".streamlit" / "config.toml"
ALL_INTERFACES = ("", "0.0.0.0", "::")


def project_options(config: Path = CONFIG) -> list[str]:
    """The project's Streamlit settings as `--section.option=value` command-line options."""
    with open(config, "rb") as f:
        sections = tomllib.load(f)

    def text(v):
        return str(v).lower() if isinstance(v, bool) else str(v)

    return [
        f"--{section}.{name}={text(value)}" for section, options in sections.items() for name, value in options.items()
    ]


def command(argv: list[str]) -> list[str]:
    """The `streamlit run` arguments: the app, the project's settings, then the user's options."""
    return ["run", str(APP), *project_options(), *argv]


def unasked_public_address() -> str | None:
    """Why the app must not serve, when Streamlit listens on all interfaces because nobody set server.address
    (started outside the repository without the launcher); None when the address is loopback or was chosen."""
    from streamlit import config
    from streamlit.config_option import ConfigOption

    address = config.get_option("server.address") or ""
    if address in ALL_INTERFACES and config.get_where_defined("server.address") == ConfigOption.DEFAULT_DEFINITION:
        return (
            "This server listens on all network interfaces because it was started without the project's "
            "settings. Start it with `aae-explorer` (localhost only), or pass `--server.address 0.0.0.0` "
            "to share it on purpose."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """`aae-explorer [streamlit run options]`."""
    from streamlit.web import cli

    args = command(sys.argv[1:] if argv is None else argv)
    try:
        cli.main.main(args=args, prog_name="streamlit", standalone_mode=False)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Grid files of `aae-sweep`: a `[fixed]` table of settings and a `[sweep]` table of axes, read into runs;
optionally `[[cells]]`, tables of settings that go together (a model and its own flags), each crossed with the axes.

Every key is an `aae-train` flag with underscores (`lr_disc` for `--lr-disc`), read off the train parser, so a
flag added there is a grid setting at once; `parse_run` turns one run's settings into parsed `aae-train` flags
exactly as the command line would. No Ray here: checking a grid needs only this module.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .config import AAEError
from .runs import train_parser

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser as the tomli package (the [cluster] extra installs it)
    import tomli as tomllib

SET_BY_SWEEP = ("help", "out", "quiet")  # aae-train flags a grid may not set: the sweep decides them per run


@dataclass(frozen=True)
class Run:
    """One point of the grid: its settings (fixed and swept, named as in the grid) and a stable id."""

    id: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class Grid:
    """A parsed grid file: fixed settings, the cells, the axes in file order, and their product as runs."""

    path: Path
    fixed: dict[str, Any]
    axes: dict[str, list]
    runs: list[Run]
    cells: tuple[dict[str, Any], ...] = ({},)

    @property
    def varied(self) -> list[str]:
        """The settings that differ between runs: the cells' (in file order), then the axes."""
        return [*dict.fromkeys(k for cell in self.cells for k in cell), *self.axes]

    def describe(self, run: Run) -> str:
        """The run by its swept settings, for messages."""
        return ", ".join(f"{k}={run.settings[k]!r}" for k in self.varied) or "the only run"


def run_id(settings: dict[str, Any]) -> str:
    """A short name that only these exact settings get, so a re-run finds the same run's files."""
    return "run-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def _raise(message: str) -> NoReturn:
    """argparse's error hook: a grid's bad value becomes one line, not a usage text and an exit."""
    raise AAEError(message)


def _parser() -> argparse.ArgumentParser:
    """aae-train's parser, raising AAEError where it would print usage and exit."""
    parser = train_parser()
    # mypy refuses assigning to a method; train_parser builds the parser, so overriding it in a subclass is no option.
    parser.error = _raise  # type: ignore[method-assign]
    return parser


def grid_settings(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Setting name -> aae-train flag, for every flag but those the sweep sets itself."""
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest not in SET_BY_SWEEP}


def _flag_argv(parser: argparse.ArgumentParser, action: argparse.Action, name: str, value: Any) -> list[str]:
    """The command-line words that give flag `action` this TOML value."""
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:  # a switch (store_true, store_false, --x/--no-x): find the option that sets `value`
        if not isinstance(value, bool):
            raise AAEError(f"{name}={value!r}: must be true or false")
        if value == action.default:
            return []
        for option in action.option_strings:
            probe = argparse.Namespace()
            action(parser, probe, [], option)
            if getattr(probe, action.dest) == value:
                return [option]
        raise AAEError(f"{name}={value!r}: {flag} cannot be set to this")
    if isinstance(value, list):
        if action.nargs in (None, "?"):
            raise AAEError(f"{name}={value!r}: takes one value, not a list")
        return [flag, *map(str, value)]
    if isinstance(value, dict) or not isinstance(value, (str, int, float)):
        raise AAEError(f"{name}={value!r}: must be a number, a string or true/false")
    return [flag, str(value)]


def parse_run(settings: dict[str, Any], out: Path) -> argparse.Namespace:
    """The parsed aae-train flags of one run that saves its checkpoint to `out`."""
    parser = _parser()
    actions = grid_settings(parser)
    argv: list[str] = []
    for name, value in settings.items():
        argv += _flag_argv(parser, actions[name], name, value)
    return parser.parse_args([*argv, "--out", str(out), "--quiet"])


def load_grid(path: str | Path) -> Grid:
    """Read a grid file, refusing unknown settings, settings given twice and empty or malformed axes by name."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise AAEError(f"{path}: cannot read the grid file ({e.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AAEError(f"{path}: not a valid TOML file ({e})") from None
    unknown = sorted(set(doc) - {"fixed", "sweep", "cells"})
    if unknown:
        raise AAEError(f"{path}: unknown table {unknown[0]!r}: a grid has only [fixed], [sweep] and [[cells]]")
    fixed, axes, cells = doc.get("fixed", {}), doc.get("sweep", {}), doc.get("cells", [{}])
    for table, content in (("fixed", fixed), ("sweep", axes)):
        if not isinstance(content, dict):
            raise AAEError(f"{path}: {table} must be a table ([{table}])")
    if not (isinstance(cells, list) and cells and all(isinstance(c, dict) for c in cells)):
        raise AAEError(f"{path}: cells must be an array of tables ([[cells]])")
    if any(set(c) != set(cells[0]) for c in cells):  # one set of columns, so results group cell by cell
        raise AAEError(f"{path}: cells: every [[cells]] table must name the same settings ({', '.join(cells[0])})")
    known = grid_settings(train_parser())
    for table, content in (("fixed", fixed), ("sweep", axes), ("cells", cells[0])):
        for name in content:
            if name in SET_BY_SWEEP:
                raise AAEError(f"{path}: {table}.{name}: set by aae-sweep itself (each run saves under --out)")
            if name not in known:
                raise AAEError(f"{path}: {table}.{name}: not an aae-train setting ({', '.join(sorted(known))})")
    for name in axes:
        values = axes[name]
        if name in fixed:
            raise AAEError(f"{path}: {name}: set in both [fixed] and [sweep]")
        if name in cells[0]:
            raise AAEError(f"{path}: {name}: set in both [[cells]] and [sweep]")
        if not isinstance(values, list):
            raise AAEError(f"{path}: sweep.{name}: must be a list of values, e.g. {name} = [{values!r}]")
        if not values:
            raise AAEError(f"{path}: sweep.{name}: empty axis (give at least one value)")
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            raise AAEError(f"{path}: sweep.{name}: lists {repeated[0]!r} twice")
    if set(cells[0]) & set(fixed):
        raise AAEError(f"{path}: {sorted(set(cells[0]) & set(fixed))[0]}: set in both [fixed] and [[cells]]")
    runs = []
    for cell in cells:
        for point in itertools.product(*axes.values()):
            settings = {**fixed, **cell, **dict(zip(axes, point))}
            runs.append(Run(run_id(settings), settings))
    return Grid(path, fixed, axes, runs, tuple(cells))

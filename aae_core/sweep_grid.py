"""Grid files of `aae-sweep`: a `[fixed]` table of settings and a `[sweep]` table of axes, read into runs.

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
    """A parsed grid file: the top-level fixed settings, the settings that vary from run to run (the axes, and
    what a group fixes otherwise) in file order, and the runs."""

    path: Path
    fixed: dict[str, Any]
    axes: list[str]
    runs: list[Run]

    def describe(self, run: Run) -> str:
        """The run by its swept settings, for messages."""
        return ", ".join(f"{k}={run.settings[k]!r}" for k in self.axes if k in run.settings) or "the only run"


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


def _table(path: Path, where: str, content: Any) -> dict[str, Any]:
    """A grid table, its every key an aae-train setting the sweep does not set itself."""
    if not isinstance(content, dict):
        raise AAEError(f"{path}: {where} must be a table ([{where}])")
    known = grid_settings(train_parser())
    for name in content:
        if name in SET_BY_SWEEP:
            raise AAEError(f"{path}: {where}.{name}: set by aae-sweep itself (each run saves under --out)")
        if name not in known:
            raise AAEError(f"{path}: {where}.{name}: not an aae-train setting ({', '.join(sorted(known))})")
    return content


def _check_axes(path: Path, where: str, axes: dict[str, Any], fixed: dict[str, Any]) -> None:
    """Every axis a non-empty list of distinct values, of a setting not also fixed."""
    for name, values in axes.items():
        if name in fixed:
            raise AAEError(f"{path}: {name}: set in both [fixed] and [sweep]" + (f" ({where})" if where else ""))
        if not isinstance(values, list):
            raise AAEError(f"{path}: {where or 'sweep'}.{name}: must be a list of values, e.g. {name} = [{values!r}]")
        if not values:
            raise AAEError(f"{path}: {where or 'sweep'}.{name}: empty axis (give at least one value)")
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            raise AAEError(f"{path}: {where or 'sweep'}.{name}: lists {repeated[0]!r} twice")


def load_grid(path: str | Path) -> Grid:
    """Read a grid file, refusing unknown settings, settings given twice and empty or malformed axes by name.

    A file may also hold `[[group]]` tables, each with its own `fixed` and `sweep` tables: then the runs are the
    union of the groups' grids, each group's settings added to the top-level ones (a group's `fixed` may replace
    a top-level fixed value). One file then describes a heterogeneous experiment, such as the report's."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise AAEError(f"{path}: cannot read the grid file ({e.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AAEError(f"{path}: not a valid TOML file ({e})") from None
    unknown = sorted(set(doc) - {"fixed", "sweep", "group"})
    if unknown:
        raise AAEError(f"{path}: unknown table {unknown[0]!r}: a grid has only [fixed], [sweep] and [[group]]")
    fixed, axes = _table(path, "fixed", doc.get("fixed", {})), _table(path, "sweep", doc.get("sweep", {}))
    _check_axes(path, "", axes, fixed)
    groups = doc.get("group", [{}])
    if not isinstance(groups, list) or not groups:
        raise AAEError(f"{path}: group must be a non-empty array of tables ([[group]])")
    runs, names = [], dict.fromkeys(axes)
    for i, group in enumerate(groups, 1):
        where = f"group {i}"
        if not isinstance(group, dict) or set(group) - {"name", "fixed", "sweep"}:
            raise AAEError(f"{path}: {where}: a group has only name, fixed and sweep")
        own_fixed = _table(path, f"{where}.fixed", group.get("fixed", {}))
        own_axes = _table(path, f"{where}.sweep", group.get("sweep", {}))
        for name in own_axes:
            if name in axes:
                raise AAEError(f"{path}: {where}.sweep.{name}: already swept at the top level")
        merged_fixed = {k: v for k, v in fixed.items() if k not in own_axes} | own_fixed
        _check_axes(path, f"{where}.sweep", own_axes, merged_fixed)
        group_axes = {**axes, **own_axes}
        names |= dict.fromkeys([*own_axes, *(k for k in own_fixed if fixed.get(k) != own_fixed[k])])
        for point in itertools.product(*group_axes.values()):
            settings = {**merged_fixed, **dict(zip(group_axes, point))}
            runs.append(Run(run_id(settings), settings))
    seen = [r.id for r in runs]
    twice = next((r for r, rid in zip(runs, seen) if seen.count(rid) > 1), None)
    if twice is not None:
        same = ", ".join(f"{k}={v!r}" for k, v in twice.settings.items())
        raise AAEError(f"{path}: two groups give the same run ({same})")
    return Grid(path, fixed, list(names), runs)

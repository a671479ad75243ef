"""aae-sweep's results: each finished run's row, and the tables of them (results.json, results.csv, summary.csv).

A run's row is its settings (named as in the grid) then the keys of `aae-eval --json`, or, for a run aae-train
ended with an error, that message under `error`. A cell is all runs equal in every setting but `seed`; its
summary is the mean and sd of each metric. Reading them back (`load_results`) needs no Ray.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import AAEError
from .files import write_atomic
from .runs import CHECKPOINT_FIELDS
from .sweep_grid import Grid

ERROR_FIELD = "error"  # a run's row: aae-train's error message instead of metrics


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a reader (or a re-run after a kill) never sees half a file."""
    write_atomic(path, json.dumps(obj, indent=1).encode())


def summarize(rows: list[dict], settings: list[str], metrics: list[str]) -> list[dict]:
    """One entry per cell (runs equal in every setting but `seed`): those settings, `runs` (how many) and `seeds`,
    `errors` (runs that ended with an error), then per metric its mean, sample sd (None below two values) and n,
    the runs that have a value (None is skipped)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(json.dumps({k: row[k] for k in settings if k != "seed"}, sort_keys=True), []).append(row)
    cells = []
    for group in groups.values():
        cell = {k: group[0][k] for k in settings if k != "seed"}
        cell |= {
            "runs": len(group),
            "seeds": [row["seed"] for row in group if "seed" in row],
            "errors": sum(ERROR_FIELD in row for row in group),
        }
        for m in metrics:
            v = [row[m] for row in group if isinstance(row.get(m), (int, float))]
            cell[m] = {
                "mean": statistics.fmean(v) if v else None,
                "sd": statistics.stdev(v) if len(v) > 1 else None,
                "n": len(v),
            }
        cells.append(cell)
    return cells


@dataclass(frozen=True)
class SweepResults:
    """A sweep's table. `runs`: one dict per finished run, its settings (named as in the grid) then the keys of
    `aae-eval --json` (or `error`: aae-train's message); `cells`: one dict per cell, its settings (all but
    `seed`), `runs`, `seeds`, `errors`, and for each metric {"mean", "sd", "n"}; `axes`: the swept settings;
    `metrics`: the metric names; `missing`: how many of the grid's runs are not finished."""

    axes: list[str]
    metrics: list[str]
    runs: list[dict]
    cells: list[dict]
    missing: int

    def cell(self, **settings: Any) -> dict:
        """The one cell whose settings include these, e.g. `cell(lr_disc=1e-4, prior_std=5.0)`."""
        found = [c for c in self.cells if all(k in c and c[k] == v for k, v in settings.items())]
        if len(found) != 1:
            raise AAEError(f"sweep results: {len(found)} cells match {settings} (need exactly one)")
        return found[0]


def load_results(folder: str | Path) -> SweepResults:
    """Read `DIR/results.json` as written by aae-sweep: the runs and the per-cell mean ± sd (the report's input)."""
    path = Path(folder) / "results.json"
    try:
        doc = json.loads(path.read_text())
        return SweepResults(
            axes=list(doc["axes"]),
            metrics=list(doc["metrics"]),
            runs=list(doc["runs"]),
            cells=list(doc["cells"]),
            missing=int(doc["missing"]),
        )
    except OSError as e:
        raise AAEError(f"{path}: cannot read sweep results ({e.strerror}); run aae-sweep first") from None
    except (ValueError, KeyError, TypeError) as e:
        raise AAEError(f"{path}: not an aae-sweep results file ({e})") from None


def finished_rows(out: Path, grid: Grid) -> list[dict | None]:
    """Each run's row in grid order, None for a run not finished."""
    files = [out / "runs" / f"{run.id}.json" for run in grid.runs]
    return [json.loads(f.read_text()) if f.is_file() else None for f in files]


def write_results(out: Path, grid: Grid) -> SweepResults:
    """Collect the finished runs' rows, in grid order, into results.json, results.csv and summary.csv."""
    rows = [row for row in finished_rows(out, grid) if row is not None]
    settings = list(grid.runs[0].settings)
    fields = list(dict.fromkeys(k for row in rows for k in row))
    metrics = [k for k in fields if k not in CHECKPOINT_FIELDS and k not in settings and k != ERROR_FIELD]
    cells = summarize(rows, settings, metrics)
    results = SweepResults(
        axes=grid.varied, metrics=metrics, runs=rows, cells=cells, missing=len(grid.runs) - len(rows)
    )
    write_json(
        out / "results.json",
        {
            "grid": str(grid.path),
            "fixed": grid.fixed,
            "axes": results.axes,
            "metrics": metrics,
            "missing": results.missing,
            "runs": rows,
            "cells": cells,
        },
    )
    _write_csv(out / "results.csv", fields, rows)
    flat = [
        {k: v for k, v in c.items() if k not in metrics}
        | {f"{m}_{stat}": c[m][stat] for m in metrics for stat in ("mean", "sd")}
        for c in cells
    ]
    _write_csv(out / "summary.csv", list(dict.fromkeys(k for c in flat for k in c)), flat)
    return results


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    """Write a table atomically, lists (a cell's seeds) as JSON."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows)
    write_atomic(path, text.getvalue().encode())


def format_summary(results: SweepResults) -> str:
    """Mean ± sd of each metric per cell, one line per cell."""
    lines = []
    for cell in results.cells:
        name = ", ".join(f"{k}={cell[k]}" for k in results.axes if k in cell) or "all runs"
        stats = "  ".join(f"{m} {_pm(cell[m])}" for m in results.metrics if cell[m]["n"])
        failed = f", {cell['errors']} failed" if cell["errors"] else ""
        lines.append(f"  {name} (n={cell['runs']}{failed}): {stats}")
    return "\n".join(lines)


def _pm(stat: dict) -> str:
    return f"{stat['mean']:.4g}" + ("" if stat["sd"] is None else f" ± {stat['sd']:.2g}")

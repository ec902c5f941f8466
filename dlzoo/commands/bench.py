"""``dlzoo bench``: train recipes with their full budget and check each against its target."""

import datetime
import fnmatch
import pathlib

from dlzoo.config import recipes as config_module
from dlzoo.config import resolve
from dlzoo.runs import folders
from dlzoo.core.errors import RunFailed, UsageError
from dlzoo.runs.report import markdown_table

HEADER = ("recipe", "metric", "value", "target", "pass", "wall s", "samples/s")


def select_recipes(patterns):
    """Recipe names matching any of ``patterns`` (all recipes when none given)."""
    names = config_module.recipe_names()
    if not patterns:
        return names
    chosen = [name for name in names if any(fnmatch.fnmatch(name, pattern) or name == pattern for pattern in patterns)]
    if not chosen:
        raise UsageError(f"no recipe matches {' '.join(repr(pattern) for pattern in patterns)} (run 'dlzoo list')")
    return chosen


def bench_row(name, record=None, error=None):
    """One row of the bench table for a finished (or failed) recipe."""
    if record is None:
        return {"recipe": name, "metric": "", "value": None, "target": "", "pass": False, "wall s": None,
                "samples/s": None, "error": error}
    target = record.get("target") or {}
    bound = config_module.target_bound(target)
    return {"recipe": name, "metric": target.get("metric", ""), "value": target.get("value"), "target": bound,
            "pass": bool(target.get("passed")), "wall s": record.get("wall_seconds"),
            "samples/s": record.get("samples_per_second"), "run": record.get("folder")}


def verdict(row, quick):
    """What the pass column says: a --quick run is a smoke test, its target is not checked."""
    if row.get("error"):
        return "failed"
    if quick:
        return "smoke test, target not checked"
    return "pass" if row["pass"] else "BELOW TARGET"


def table_cells(row, quick):
    """One row of the printed table, rounded for reading (bench.json keeps the full values)."""
    value, wall, speed = row["value"], row["wall s"], row["samples/s"]
    return [row["recipe"], row["metric"],
            "" if value is None else (f"{value:.4g}" if isinstance(value, float) else value),
            row["target"], verdict(row, quick),
            "" if wall is None else f"{wall:.1f}",
            "" if speed is None else f"{round(speed):d}"]


def run_bench(patterns, quick=False, out=None, device="auto", echo=print):
    """Train each selected recipe, print the table, write ``bench.json`` and ``bench.md``."""
    from dlzoo.commands.train import train_recipe

    names = select_recipes(patterns)
    rows = []
    for name in names:
        echo(f"== bench: {name}")
        try:
            resolved = resolve.load_config(name)
            resolved["train"]["verbose"] = 0  # one summary line per recipe, not a progress bar per epoch
            folder, record = train_recipe(resolved, out=out, quick=quick, device=device)
            record["folder"] = str(folder)
            rows.append(bench_row(name, record))
            cells = table_cells(rows[-1], quick)
            echo(f"   {cells[1]} = {cells[2]} ({cells[4]}) in {cells[5]} s")
        except (UsageError, RunFailed) as error:
            rows.append(bench_row(name, error=str(error)))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = folders.new_run_folder("bench", out)
    table = markdown_table(HEADER, [table_cells(row, quick) for row in rows])
    failures = [f"- {row['recipe']}: {row['error']}" for row in rows if row.get("error")]
    folders.atomic_write_json(folder / "bench.json", {"date": stamp, "quick": quick, "rows": rows})
    folders.atomic_write_text(folder / "bench.md", f"# dlzoo bench {stamp}{' (quick)' if quick else ''}\n\n{table}\n"
                           + ("\nFailures:\n" + "\n".join(failures) + "\n" if failures else ""))
    echo("\n" + table)
    for failure in failures:
        echo(failure)
    echo(f"\nbench written to {pathlib.Path(folder) / 'bench.json'}")
    return rows

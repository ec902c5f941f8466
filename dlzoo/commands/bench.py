"""``dlzoo bench``: train recipes with their full budget and check each against its target."""

import datetime
import fnmatch
import pathlib
import statistics

from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo.runs import folders
from dlzoo.core.errors import RunFailed, UsageError
from dlzoo.runs.report import markdown_table

HEADER = ("recipe", "metric", "value", "target", "pass", "wall s", "samples/s")
# With --seeds: a row per recipe and seed, then one row of the recipe's mean over its seeds.
SEEDS_HEADER = ("recipe", "seed", "metric", "value", "target", "pass", "wall s", "samples/s")


def parse_seeds(text):
    """``"0,1,2"`` -> ``[0, 1, 2]`` (``--seeds``); None stays None (the recipe's own seed).

    Refuses what is not a comma-separated list of distinct integers, before anything trains.
    """
    if text is None:
        return None
    parts = [part.strip() for part in str(text).split(",")]
    try:
        seeds = [int(part) for part in parts]
    except ValueError:
        raise UsageError(f"--seeds expects comma-separated integers such as 0,1,2, got {text!r}") from None
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise UsageError(f"--seeds names seed {', '.join(map(str, repeated))} more than once: each seed is one run")
    if any(abs(seed) > recipes.INTEGER_LIMIT for seed in seeds):
        raise UsageError(f"--seeds: every seed must be between {-recipes.INTEGER_LIMIT:,} and "
                         f"{recipes.INTEGER_LIMIT:,}, got {text!r}")
    return seeds


def select_recipes(patterns):
    """Recipe names matching any of ``patterns`` (all recipes when none given)."""
    names = recipes.recipe_names()
    if not patterns:
        return names
    chosen = [name for name in names if any(fnmatch.fnmatch(name, pattern) or name == pattern for pattern in patterns)]
    if not chosen:
        raise UsageError(f"no recipe matches {' '.join(repr(pattern) for pattern in patterns)} (run 'dlzoo list')")
    return chosen


def bench_row(name, record=None, error=None, seed=None):
    """One row of the bench table for a finished (or failed) recipe (``seed``: the one --seeds gave)."""
    if record is None:
        row = {"recipe": name, "metric": "", "value": None, "target": "", "pass": False, "wall s": None,
               "samples/s": None, "error": error}
    else:
        target = record.get("target") or {}
        bound = recipes.target_bound(target)
        row = {"recipe": name, "metric": target.get("metric", ""), "value": target.get("value"), "target": bound,
               "pass": bool(target.get("passed")), "wall s": record.get("wall_seconds"),
               "samples/s": record.get("samples_per_second"), "run": record.get("folder")}
    if seed is not None:
        row["seed"] = seed
    return row


def seed_summary(name, rows):
    """The mean row of one recipe over its seeds: mean, standard deviation (n >= 2), min, max, passes."""
    finished = [row for row in rows if row.get("value") is not None]
    values = [row["value"] for row in finished]
    summary = {"recipe": name, "seeds": [row["seed"] for row in rows], "runs": len(rows), "finished": len(finished),
               "passed": sum(row["pass"] for row in finished), "metric": finished[0]["metric"] if finished else "",
               "target": finished[0]["target"] if finished else "", "values": values}
    if values and all(isinstance(value, (int, float)) for value in values):
        summary.update(mean=statistics.fmean(values), std=statistics.stdev(values) if len(values) > 1 else None,
                       min=min(values), max=max(values))
    walls = [row["wall s"] for row in finished if row["wall s"] is not None]
    speeds = [row["samples/s"] for row in finished if row["samples/s"] is not None]
    summary["wall s"] = statistics.fmean(walls) if walls else None
    summary["samples/s"] = statistics.fmean(speeds) if speeds else None
    return summary


def summary_cells(summary, quick):
    """The printed mean row of :func:`seed_summary`: ``0.9123 ± 0.0021`` and ``2/3 pass``."""
    if "mean" in summary:
        spread = f" ± {summary['std']:.2g}" if summary["std"] is not None else ""
        value = f"{summary['mean']:.4g}{spread}"
    else:
        value = ""
    passes = ("smoke test, target not checked" if quick
              else f"{summary['passed']}/{summary['runs']} pass")
    wall, speed = summary["wall s"], summary["samples/s"]
    return [summary["recipe"], f"mean of {summary['finished']}", summary["metric"], value, summary["target"], passes,
            "" if wall is None else f"{wall:.1f}", "" if speed is None else f"{round(speed):d}"]


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


def run_bench(patterns, quick=False, out=None, device="auto", echo=print, seeds=None):
    """Train each selected recipe, print the table, write ``bench.json`` and ``bench.md``.

    ``seeds`` (``--seeds 0,1,2``): train each recipe once per seed, as ``dlzoo train --seed N``
    does (``train.seed`` and ``data.seed``); the table gets a row per seed and the recipe's mean
    over them. None: one run with the recipe's own seed.
    """
    from dlzoo.commands.train import train_recipe

    names = select_recipes(patterns)
    rows, summaries = [], []
    for name in names:
        recipe_rows = []
        for seed in (seeds or [None]):
            echo(f"== bench: {name}" + (f" (seed {seed})" if seed is not None else ""))
            try:
                resolved = resolve.load_config(name, seed=seed)
                resolved["train"]["verbose"] = 0  # one summary line per recipe, not a progress bar per epoch
                folder, record = train_recipe(resolved, out=out, quick=quick, device=device)
                record["folder"] = str(folder)
                recipe_rows.append(bench_row(name, record, seed=seed))
                cells = table_cells(recipe_rows[-1], quick)
                echo(f"   {cells[1]} = {cells[2]} ({cells[4]}) in {cells[5]} s")
            except (UsageError, RunFailed) as error:
                recipe_rows.append(bench_row(name, error=str(error), seed=seed))
        rows += recipe_rows
        if seeds:
            summaries.append(seed_summary(name, recipe_rows))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = folders.new_run_folder("bench", out)
    if seeds:
        lines = []
        for summary in summaries:
            lines += [[row["recipe"], str(row["seed"]), *table_cells(row, quick)[1:]] for row in rows
                      if row["recipe"] == summary["recipe"]]
            lines.append(summary_cells(summary, quick))
        table = markdown_table(SEEDS_HEADER, lines)
    else:
        table = markdown_table(HEADER, [table_cells(row, quick) for row in rows])
    failures = [f"- {row['recipe']}" + (f" (seed {row['seed']})" if "seed" in row else "") + f": {row['error']}"
                for row in rows if row.get("error")]
    written = {"date": stamp, "quick": quick, "rows": rows}
    if seeds:
        written.update(seeds=seeds, summaries=summaries)
    folders.atomic_write_json(folder / "bench.json", written)
    folders.atomic_write_text(folder / "bench.md", f"# dlzoo bench {stamp}{' (quick)' if quick else ''}\n\n{table}\n"
                           + ("\nFailures:\n" + "\n".join(failures) + "\n" if failures else ""))
    echo("\n" + table)
    for failure in failures:
        echo(failure)
    echo(f"\nbench written to {pathlib.Path(folder) / 'bench.json'}")
    return rows

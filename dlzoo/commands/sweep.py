"""Sweep recipes: train several variants of one recipe and compare them in one report.

A recipe with a ``[sweep]`` table is a sweep::

    [sweep]
    metric = "val_accuracy"     # the curve compared across variants
    target = 0.95               # "epochs to reach" this value, per variant
    variants = [
        { name = "sgd",  set = { "optimizer.name" = "sgd", "optimizer.learning_rate" = 0.1 } },
        { name = "adam", set = { "optimizer.name" = "adam" } },
    ]

Each variant is the recipe with its ``set`` overrides applied, trained as a full run in
``<sweep run>/variants/<name>/``. A variant that fails (a diverging setting is a lesson, not
a bug) is recorded as failed and the sweep goes on.
"""

import copy
import time

from dlzoo.commands import compare
from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo.core.errors import RunFailed, UsageError


def variant_config(config, variant):
    """The configuration of one variant: the recipe without [sweep], plus the variant's overrides."""
    child = copy.deepcopy(config)
    child.pop("sweep", None)
    child["name"] = variant["name"]
    for dotted, value in variant.get("set", {}).items():
        recipes.apply_override(child, dotted.split("."), value, resolve.task_sections(child))
    child["train"]["export"] = False  # variants keep model.keras; one SavedModel per variant is slow
    resolve.check_types(child)
    return child


def check_sweep(config):
    """Validate the [sweep] table and every variant's overrides before anything trains."""
    sweep = config["sweep"]
    variants = sweep.get("variants")
    if not isinstance(variants, list) or not variants:
        raise UsageError("[sweep] needs a non-empty 'variants' list of {name = ..., set = {...}} tables")
    names = [variant.get("name") for variant in variants]
    if any(not isinstance(name, str) or not name for name in names) or len(set(names)) != len(names):
        raise UsageError(f"every sweep variant needs a unique name, got {names}")
    unknown = sorted(set(sweep) - {"metric", "target", "variants", "only"})
    if unknown:
        raise UsageError(f"unknown key 'sweep.{unknown[0]}' (valid keys: metric, only, target, variants)")
    children = [(variant["name"], variant_config(config, variant)) for variant in variants]
    for _, child in children:  # every variant is checked, also those sweep.only leaves out
        resolve.check_component_options(child)
    only = sweep.get("only") or []
    missing = [name for name in only if name not in names]
    if missing:
        raise UsageError(f"sweep.only names unknown variants {missing}; variants are {', '.join(names)}")
    if only:
        children = [(name, child) for name, child in children if name in only]
    return children


def run_sweep(config, out=None, quick=False, device="auto"):
    """Train every variant, then write the comparison into the sweep's own run folder."""
    from dlzoo import tasks
    from dlzoo.training import devices
    from dlzoo.commands.lifecycle import execute, prepare, target_check, versions

    children = check_sweep(config)
    device_name = devices.configure_device(device)
    folder = folders.new_run_folder(config["name"], out)
    folders.atomic_write_text(folder / folders.CONFIG_FILE, recipes.to_toml(config))
    record = {"recipe": config["name"], "task": "sweep", "status": "running", "quick": quick,
              "seed": config["train"]["seed"], "device": device_name, "versions": versions()}
    folders.atomic_write_json(folder / folders.METRICS_FILE, record)
    start = time.perf_counter()
    rows, histories, metrics = [], {}, {}
    for name, child in children:
        child_folder = folder / "variants" / name
        child_folder.mkdir(parents=True)
        task = tasks.create(child["task"])
        try:
            child_record = execute(task, prepare(task, child, quick), child, child_folder, quick, device_name)[1]
        except (RunFailed, UsageError) as error:
            child_record = folders.read_json(child_folder / folders.METRICS_FILE) or {"status": "failed", "error": str(error)}
        history = compare.read_history(child_folder)
        histories[name] = history
        rows.append(compare.row_of(name, child_record, history, config["sweep"].get("metric"), config["sweep"].get("target")))
        for key, value in (child_record.get("metrics") or {}).items():
            metrics[f"{name}/{key}"] = value
    record.update(status="completed", metrics=metrics, variants=rows, wall_seconds=time.perf_counter() - start)
    record["target"] = target_check(config["expect"], metrics)
    folders.atomic_write_json(folder / folders.METRICS_FILE, record)
    write_sweep_section(folder, config, rows, histories)
    report.write_report(folder)
    return folder, record


def write_sweep_section(folder, config, rows, histories):
    """The comparison table and overlaid curves of the variants, as a report section."""
    drawn = {name: history for name, history in histories.items() if history}
    text = "## Variants\n\n" + compare.comparison(rows) + "\n"
    if drawn:
        curves.learning_curves(drawn, folder / "plots" / "variants_curves.png", title=f"{config['name']}: variants")
        text += "\n**Learning curves of every variant**\n\n![variants](plots/variants_curves.png)\n"
    text += "\nEach variant is a full run in `variants/<name>/` (evaluate or visualize it like any run).\n"
    report.write_section(folder, "10-variants", text)

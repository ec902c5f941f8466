"""The ``dlzoo`` command line: parse, resolve the configuration, hand it to one function.

This module is imported by ``dlzoo --help``, ``dlzoo list`` and ``dlzoo show``, which must
start fast, so it never imports TensorFlow or Keras at module level: each command imports what
it needs when it runs.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback unless ``--debug``);
1 a run that started and failed (its folder says ``status: failed`` and why).
"""

import functools
import os
import pathlib
import sys

import click

from dlzoo.core.errors import RunFailed, RunInterrupted, UsageError

# TensorFlow prints pages of start-up logs; the CLI keeps them out of students' terminals.
# Level 3 hides its C++ ERROR lines too ("oneDNN supports DT_BOOL only on platforms with
# AVX-512", "remapper failed"): harmless graph-optimizer notes that students read as failures.
# --debug lowers it again (load_tensorflow) unless the user set the variable themselves.
TF_LOG_LEVEL_FROM_USER = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SET_HELP = "Override a recipe key, e.g. --set optimizer.learning_rate=0.01 (repeatable; values are TOML)."
RUNS_HELP = "Runs root folder: where runs are written and where a recipe name finds its latest run (default: runs/)."
PLUGIN_HELP = ("A Python file of your own models, optimizers or datasets (@dlzoo.register_model, ...); "
               "repeatable. Its code runs: name only files you trust.")
DEVICE_HELP = "Where to train: auto (a GPU when TensorFlow sees one), cpu, or gpu (fail if there is none)."


def outlives_its_reader(command):
    """For long commands (train, bench, tune): when the reader of a pipe leaves (``dlzoo train mlp
    | head -3``), the run goes on to the end without printing, instead of failing on a closed
    stdout (see :class:`dlzoo.core.quiet.StdoutWhoseReaderMayLeave`)."""

    @functools.wraps(command)
    def command_with_a_lasting_stdout(*arguments, **options):
        from dlzoo.core.quiet import stdout_whose_reader_may_leave

        with stdout_whose_reader_may_leave():
            return command(*arguments, **options)

    return command_with_a_lasting_stdout


class DlzooGroup(click.Group):
    """A click group that turns dlzoo's errors into one line and an exit code."""

    def invoke(self, context):
        """Run the command; map UsageError/ValueError to exit 2 and RunFailed to exit 1."""
        if os.environ.get("DLZOO_DEBUG") == "1":
            context.meta["dlzoo.debug"] = True
        try:
            return super().invoke(context)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a bare 'dlzoo train'-like call shows the help, as click does
        except click.UsageError as error:  # an unknown option, a value of the wrong type: one line too
            fail(click_usage_line(error), 2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except UsageError as error:
            if debug_enabled(context):  # the traceback, and still the exit code of bad input
                import traceback

                traceback.print_exc()
            fail(f"error: {error}", 2)
        except RunInterrupted as error:
            fail(str(error), getattr(error, "exit_code", 130))
        except RunFailed as error:
            if debug_enabled(context):
                raise
            fail(f"run failed: {error}", 1)
        except KeyboardInterrupt:
            fail("interrupted", 1)
        except BrokenPipeError:
            # The reader closed our stdout (dlzoo predict ... | head -1): not an error to report.
            # Click's own handler then exits quietly, without flushing into the closed pipe.
            raise
        except Exception as error:  # an unexpected error: say what and how to see more
            if debug_enabled(context):
                raise
            from dlzoo.runs.folders import WRITE_ERRORS, write_failure

            # A full disk, a read-only folder: which file, and why.
            disk = write_failure(error) if isinstance(error, OSError) and error.errno in WRITE_ERRORS else None
            fail(f"error: {disk}" if disk else f"error: {type(error).__name__}: {error} (rerun with --debug for the "
                 "traceback)", 1)

    def make_context(self, info_name, args, parent=None, **extra):
        """Parse the group's own options (``dlzoo --bogus``): a click usage error becomes one line."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            fail(click_usage_line(error), 2)


def click_usage_line(error):
    """Click's own usage error (three lines: Usage, Try, Error) as dlzoo's one line."""
    where = error.ctx.command_path if error.ctx is not None else "dlzoo"
    return f"error: {error.format_message()} (see '{where} --help')"


def debug_enabled(context):
    """True when ``--debug`` was given (before or after the command) or DLZOO_DEBUG=1."""
    # context.meta is shared by the group's context and the command's: read it when needed,
    # because a --debug after the command name is only parsed once the command starts.
    return bool(context.meta.get("dlzoo.debug"))


def enable_debug(context, parameter, value):
    """Callback of every ``--debug`` option: remember it for the error handler and core/quiet.py."""
    if value:
        context.meta["dlzoo.debug"] = True


DEBUG_HELP = "Show full tracebacks and TensorFlow's own log lines."


def load_tensorflow():
    """Import TensorFlow quietly (its C++ start-up lines are noise), unless --debug is on.

    Commands call it only after every check that needs no TensorFlow (recipe name, overrides,
    folders), so that a typo fails in a fraction of a second instead of after the import.
    """
    from dlzoo.core.quiet import import_tensorflow

    debug = debug_enabled(click.get_current_context())
    if debug and not TF_LOG_LEVEL_FROM_USER:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"  # --debug: TensorFlow's warnings and errors too
    import_tensorflow(debug=debug)


# The longest line fail() prints: messages quote what the user gave, which may be huge.
LINE_LIMIT = 1000


def fail(message, code):
    """Print the first line of ``message`` (cut to :data:`LINE_LIMIT` characters) on stderr and exit with ``code``."""
    from dlzoo.core.validation import shorten

    click.echo(shorten(message.splitlines()[0], LINE_LIMIT) if message else "error", err=True)
    sys.exit(code)


def refuse_out_as_runs_root(out, command):
    """``--out`` is a destination folder everywhere; in train and bench the runs root is --runs."""
    if out is not None:
        raise UsageError(f"dlzoo {command} has no --out: use --runs {out} to choose the runs root "
                         "(--out is the destination folder of export, evaluate, visualize and compare)")


def check_runs_root(runs_root):
    """The runs root must be writable: checked before TensorFlow is imported."""
    from dlzoo.runs import folders

    folders.check_writable(runs_root or folders.DEFAULT_ROOT)


def check_output_room(destination):
    """A full disk or read-only folder where a command writes is said before TensorFlow loads
    (nothing is created: the check writes in the nearest folder that exists)."""
    from dlzoo.runs import folders

    folders.check_writable(folders.nearest_existing(destination))


def resolve_run_argument(argument, runs_root):
    """A run folder or recipe name -> its run folder (TensorFlow-free, so errors come fast)."""
    from dlzoo.runs import folders

    return folders.resolve_run(argument, runs_root)


@click.group(cls=DlzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, expose_value=False, callback=enable_debug, help=DEBUG_HELP)
@click.version_option(package_name="dlzoo", message="dlzoo %(version)s")
def cli():
    """dlzoo: train, evaluate, visualize and export a model for every topic of the course."""


@cli.command("list")
@click.argument("pattern", required=False)
@click.option("--topic", help="Only recipes of this course topic.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table with each target's source (for the README).")
def list_command(pattern, topic, markdown):
    """List recipes by course topic, with their target metric and a one-line description."""
    from dlzoo import api

    rows = api.recipes(pattern, topic)
    if markdown:
        columns = ("name", "topic", "task", "dataset", "target", "baseline", "source")
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row[column] or "—") for column in columns) + " |" for row in rows]
        click.echo("\n".join(lines))
        return
    columns = ("name", "topic", "task", "dataset", "target", "description")
    from dlzoo.runs.report import format_table

    click.echo(format_table([[row[column] for column in columns] for row in rows], columns))


@cli.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
def show(recipe, overrides):
    """Print the resolved recipe as TOML (a file that 'dlzoo train' accepts unchanged)."""
    from dlzoo.config import recipes
    from dlzoo.config import resolve

    resolved = resolve.load_config(recipe, overrides)
    if any(item.split("=")[0].strip().startswith(("model.", "optimizer.")) for item in overrides):
        load_tensorflow()  # Keras imports TensorFlow: quietly, so that its log lines do not bury the error
        resolve.check_component_options(resolved)  # only when those keys changed
    click.echo(recipes.to_toml(resolved), nl=False)


@cli.command()
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
@click.option("--data", "dataset", help="Dataset spec, e.g. digits, mnist1d, tfds:mnist, npz:file.npz.")
@click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs (train.epochs).")
@click.option("--seed", type=int, help="Seed of the data split and of training.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help=RUNS_HELP)
@click.option("--out", hidden=True, help="Not an option of train: use --runs.")
@click.option("--quick", is_flag=True, help="Train a tiny budget: a smoke test.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--resume", "resume_run", type=click.Path(file_okay=False),
              help="Continue an interrupted or failed run folder from its last checkpoint, in that folder.")
@click.option("--deterministic", is_flag=True, help="Seeded, deterministic ops: the same run twice gives the same numbers (train.deterministic).")
@click.option("--devices", type=click.IntRange(min=1), help="Split the CPU into N logical devices (train.devices; with train.distribute = \"mirrored\").")
@click.option("--overfit-batch", is_flag=True, help="Debugging: train on ONE batch until the loss is near zero (a model that cannot has a bug).")
@click.option("--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False), help=PLUGIN_HELP)
@outlives_its_reader
def train(recipe, overrides, dataset, epochs, seed, runs_root, out, quick, device, resume_run, deterministic, devices,
          overfit_batch, plugin_files):
    """Train a recipe (a name from 'dlzoo list' or a .toml file), or --resume a run."""
    refuse_out_as_runs_root(out, "train")
    if resume_run is not None:
        if recipe or overrides or dataset or epochs or seed is not None or quick or plugin_files:
            raise UsageError("--resume continues a run with its own config.toml: give no recipe, --set, --data, "
                             "--epochs, --seed, --quick or --plugin with it")
        from dlzoo.commands import lifecycle

        folder = lifecycle.check_resumable(resume_run)
        load_tensorflow()
        folder, record = lifecycle.resume(folder, device=device, deterministic=deterministic, devices=devices,
                                          echo=click.echo)
        from dlzoo import api

        click.echo(api.summary_block(folder, record))
        return
    if recipe is None:
        raise UsageError("give a recipe to train (a name from 'dlzoo list' or a .toml file), or --resume RUN")
    from dlzoo import api

    overrides = list(overrides) + (["train.deterministic=true"] if deterministic else []) + \
        ([f"train.devices={devices}"] if devices else [])
    if overfit_batch:
        resolved = api.resolve(recipe, data=dataset, epochs=epochs, seed=seed, plugins=plugin_files, set_=overrides)
        check_runs_root(runs_root)
        from dlzoo.commands import check as check_module

        check_module.checkable_task(resolved)  # before TensorFlow loads
        load_tensorflow()
        check_module.overfit_batch(resolved, out=runs_root, echo=click.echo)
        return
    run = api.train(recipe, data=dataset, epochs=epochs, seed=seed, quick=quick, runs=runs_root, device=device,
                    plugins=plugin_files, set_=overrides, echo=click.echo,
                    debug=debug_enabled(click.get_current_context()))
    click.echo(run.summary())


@cli.command()
@click.argument("target")
@click.option("--data", "dataset", help="Dataset spec (required for a bare SavedModel).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Where to write evaluation.json and plots.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find RECIPE's latest run.")
@click.option("--similarity", "similarity_file", type=click.Path(dir_okay=False),
              help="Word embeddings: Spearman's rho with human scores in a word1<TAB>word2<TAB>score file (WordSim-353).")
def evaluate(target, dataset, split, out, runs_root, similarity_file):
    """Evaluate a run folder, a recipe's latest run, or a SavedModel folder."""
    if similarity_file:  # word vectors against human similarity judgements (tasks that can: embed)
        from dlzoo.runs.load import read_run

        folder, _, _, task = read_run(target, runs_root)
        if not task.can("similarity"):
            from dlzoo.tasks import names_that_can

            raise UsageError(f"--similarity needs a run of the {' or '.join(names_that_can('similarity'))} task; "
                             f"{folder} is a '{task.name}' run")
        task.check_similarity_file(similarity_file)  # a missing or malformed file fails before TensorFlow loads
        load_tensorflow()
        _, line, written = task.evaluate_similarity(str(folder), similarity_file, runs_root)
        click.echo(line)
        click.echo(f"written: {written}")
        return
    if (pathlib.Path(target) / "saved_model.pb").is_file():
        if not dataset:
            raise UsageError(f"{target} is a bare SavedModel: say which data to evaluate it on with --data")
    else:
        target = str(resolve_run_argument(target, runs_root))
    check_output_room(out or target)
    load_tensorflow()
    from dlzoo.commands.evaluate import evaluate_target

    _, line, written = evaluate_target(target, dataset=dataset, split=split, out=out, root=runs_root)
    click.echo(line)
    click.echo(f"written: {written}")


@cli.command()
@click.argument("run")
@click.option("--format", "export_format", type=click.Choice(["saved_model", "keras"]), default="saved_model", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="New folder to write (default: exports/<recipe>-<run>).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find RUN when it is a recipe name.")
@click.option("--allow-failed", is_flag=True, help="Export a run that did not complete (the export says so).")
def export(run, export_format, out, runs_root, allow_failed):
    """Export a run's model (verified SavedModel or .keras) with its metric report."""
    from dlzoo.commands.export import check_destination, export_run

    check_destination(out)
    run = str(resolve_run_argument(run, runs_root))
    check_output_room(out or "exports")
    load_tensorflow()

    destination = export_run(run, export_format=export_format, out=out, root=runs_root, allow_failed=allow_failed)
    click.echo(f"exported to {destination}")


@cli.command()
@click.argument("run")
@click.option("--method", default="saliency", show_default=True, help="saliency, smoothgrad, integrated-gradients, cam, gradcam, gradcam++, activation-max, filters, feature-maps, or all; attention for transformers and translators.")
@click.option("--layer", help="Layer name (dotted path into nested models) for CAM methods, activation-max and feature maps.")
@click.option("--class", "class_index", type=int, help="Class to explain (default: the predicted class).")
@click.option("--samples", type=click.IntRange(min=1, max=64), default=8, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the pictures (default: the run's plots/).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find RUN when it is a recipe name.")
@click.option("--score", is_flag=True, help="Also score the attribution method(s) against the objects' true masks (datasets with masks: shapes).")
def visualize(run, method, layer, class_index, samples, out, runs_root, score):
    """Saliency, CAM, Grad-CAM, activation maximization and more for a trained run."""
    from dlzoo.commands.visualize import check_method_name

    check_method_name(method)  # a typo fails before TensorFlow loads
    run = str(resolve_run_argument(run, runs_root))
    if score:
        from dlzoo.metrics import explanations
        from dlzoo.runs.load import read_run

        explanations.check_dataset(read_run(run, runs_root)[1])  # no masks: say so before TensorFlow loads
    load_tensorflow()
    from dlzoo.commands.visualize import visualize_run

    for path in visualize_run(run, method=method, layer=layer, class_index=class_index, samples=samples,
                              out=out, root=runs_root):
        click.echo(f"wrote {path}")
    if score:
        from dlzoo.runs.load import load_run

        path = explanations.score_run(load_run(run, runs_root), method, out=out, echo=click.echo)
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("run")
@click.argument("inputs", nargs=-1)
@click.option("--file", "input_file", type=click.Path(dir_okay=False), help="Inputs in a file (.npy, .npz with x; text: one string per line).")
@click.option("--beam", type=int, help="Translators: beam-search width (default 1: greedy).")
@click.option("--attention", is_flag=True, help="Translators: also write each input's attention heatmap.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find RUN when it is a recipe name.")
@click.option("--prompt", help="Text generators: the text to continue.")
@click.option("--length", type=int, help="Text generators: characters to generate (default 200).")
@click.option("--temperature", type=float, help="Text generators: sampling temperature (default 1.0; 0 = greedy).")
def predict(run, inputs, input_file, beam, attention, runs_root, prompt, length, temperature):
    """Predict with a trained run: one line per input (what each line holds depends on the task)."""
    from dlzoo.runs.load import read_run

    folder, _, _, task = read_run(run, runs_root)  # a wrong run is reported before TensorFlow loads
    if prompt is not None or length is not None or temperature is not None:  # generation options
        values = task.read_generation_request(prompt, length, temperature)
        options = {}
    else:
        # Task-specific options (translators: --beam, --attention) reach predict only when given.
        options = {"beam": beam} if beam is not None else {}  # --beam 0 is given (and refused), not absent
        if attention:
            options["attention"] = True
        task.check_predict_options(options)
        values = task.read_inputs(list(inputs), input_file)
    load_tensorflow()
    from dlzoo.runs.load import load_run

    loaded = load_run(run, runs_root)
    extra = {**options, "folder": folder} if options or task.predict_writes_files else {}
    for line in loaded.task.predict(loaded.model, loaded.load_data(), values, **extra):
        click.echo(line)


@cli.command()
@click.argument("run")
@click.option("--n", "count", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--class", "class_index", type=int, help="Class to draw (conditional GANs only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for samples.npy and samples.png (default: the run's samples/).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find RUN when it is a recipe name.")
def sample(run, count, class_index, seed, out, runs_root):
    """Draw new examples from a generative run (GAN generator, VAE decoder): samples.npy (raw values) + samples.png."""
    from dlzoo.commands.sample import check_request

    check_request(run, count, class_index, runs_root)  # bad requests fail before TensorFlow loads
    load_tensorflow()
    from dlzoo.commands.sample import sample_run

    for path in sample_run(run, count=count, class_index=class_index, seed=seed, out=out, root=runs_root,
                           echo=click.echo):
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("patterns", nargs=-1)
@click.option("--quick", is_flag=True, help="Tiny budgets: checks that every recipe runs, not its target.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help=RUNS_HELP)
@click.option("--out", hidden=True, help="Not an option of bench: use --runs.")
@click.option("--device", "devices", type=click.Choice(["auto", "cpu", "gpu"]), multiple=True,
              help=DEVICE_HELP + " Give --device cpu --device gpu to compare samples/s on both (default: auto).")
@click.option("--seeds", "seeds_text", metavar="0,1,2",
              help="Train each recipe once per seed (train.seed and data.seed, like train --seed): a row per seed "
                   "and the mean ± std over them (default: the recipe's own seed).")
@outlives_its_reader
def bench(patterns, quick, runs_root, out, devices, seeds_text):
    """Train recipes with their full budget and check each against its target."""
    from dlzoo.commands import bench as bench_module

    refuse_out_as_runs_root(out, "bench")
    seeds = bench_module.parse_seeds(seeds_text)
    bench_module.select_recipes(patterns)  # an unknown pattern fails before TensorFlow loads
    check_runs_root(runs_root)
    if len(set(devices)) > 1:
        if "auto" in devices:
            raise UsageError("to compare devices give --device cpu --device gpu (auto is not a device)")
        if seeds is not None:
            raise UsageError("--seeds is for the table of targets; compare devices without it (speed does not "
                             "depend on the seed)")
        from dlzoo.commands import bench_devices

        bench_devices.compare_devices(patterns, devices, quick=quick, out=runs_root, echo=click.echo)
        return
    device = devices[0] if devices else "auto"
    load_tensorflow()
    bench_module.run_bench(patterns, quick=quick, out=runs_root, device=device, echo=click.echo, seeds=seeds)


@cli.command()
@click.argument("runs_to_compare", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the comparison (default: runs/compare/<timestamp>).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help="Runs root used to find recipe names.")
def compare(runs_to_compare, out, runs_root):
    """A table of final metrics and overlaid learning curves for several runs.

    Each argument is a run folder, a recipe name (its latest run) or a folder of runs
    (runs/lenet: every lenet run; runs/: every run).
    """
    from dlzoo.commands.compare import compare_runs

    table, folder = compare_runs(runs_to_compare, out=out, root=runs_root)
    click.echo(table)
    click.echo(f"\ncomparison written to {folder}")


@cli.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
@click.option("--data", "dataset", help="Dataset spec, e.g. digits, npz:file.npz.")
def check(recipe, overrides, dataset):
    """Without training: shapes, initial loss, gradients at init, label balance, train/test duplicates.

    RECIPE may be a dataset spec instead (fashion_mnist, idx:FOLDER): its data checks only."""
    from dlzoo.config import resolve

    from dlzoo.commands import check as check_module

    if check_module.target_kind(recipe) == "dataset":
        if dataset is not None:
            raise UsageError(f"--data is for checking a recipe on other data; '{recipe}' is a dataset already")
        options = check_module.dataset_options(recipe, overrides)
        if check_module.loader_imports_tensorflow(recipe):
            load_tensorflow()  # its loader imports TensorFlow: quietly
        check_module.check_dataset(recipe, options, echo=click.echo)
        return
    resolved = resolve.load_config(recipe, overrides, dataset=dataset)
    check_module.checkable_task(resolved)  # a recipe check cannot handle: said before TensorFlow loads
    load_tensorflow()
    check_module.check(resolved, echo=click.echo)


@cli.command("lr-find")
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
@click.option("--start", type=float, default=1e-6, show_default=True, help="Smallest learning rate tried.")
@click.option("--end", type=float, default=1.0, show_default=True, help="Largest learning rate tried.")
@click.option("--steps", type=int, default=200, show_default=True, help="Steps (one batch each) from --start to --end.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help=RUNS_HELP)
def lr_find(recipe, overrides, start, end, steps, runs_root):
    """Learning-rate range test (Smith 2017): loss vs rate on a log scale, a suggested rate, a report."""
    from dlzoo.config import resolve
    from dlzoo.commands import lr_find as lr_find_module

    lr_find_module.check_arguments(start, end, steps)
    resolved = resolve.load_config(recipe, overrides)
    lr_find_module.check_task(resolved)  # a recipe lr-find cannot handle: said before TensorFlow loads
    check_runs_root(runs_root)
    load_tensorflow()
    lr_find_module.find(resolved, out=runs_root, start=start, end=end, steps=steps, echo=click.echo)


@cli.command()
@click.argument("recipe", required=False)
@click.option("--space", "spaces", multiple=True, help="A hyper-parameter range: section.key=log(low,high) | range(low,high) | int(low,high) | [v1,v2,...] (repeatable).")
@click.option("--trials", type=int, help="Number of trials (default 10; with --resume: the new total).")
@click.option("--algo", type=click.Choice(["random", "bayes", "hyperband"]), default="random", show_default=True)
@click.option("--set", "overrides", multiple=True, help=SET_HELP)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search algorithm.")
@click.option("--quick", is_flag=True, help="Every trial a --quick run (a smoke test of the search).")
@click.option("--resume", "resume_folder", type=click.Path(file_okay=False), help="Continue the search in this tune folder.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help=RUNS_HELP)
@outlives_its_reader
def tune(recipe, spaces, trials, algo, overrides, seed, quick, resume_folder, runs_root):
    """Hyper-parameter search on KerasTuner; every trial is a normal run, the best is best.toml."""
    from dlzoo.commands import tune as tune_module

    if resume_folder:
        settings = tune_module.resume_settings(resume_folder, trials)
    else:
        if not recipe:
            raise UsageError("dlzoo tune needs a RECIPE (or --resume FOLDER)")
        settings = tune_module.prepare_settings(recipe, overrides, spaces, 10 if trials is None else trials, algo,
                                                quick, seed)
        check_runs_root(runs_root)
    load_tensorflow()
    tune_module.run_search(settings, folder=resume_folder, out=runs_root, echo=click.echo)


@cli.command()
@click.option("--runs", "runs_root", type=click.Path(file_okay=False), help=RUNS_HELP)
def doctor(runs_root):
    """Versions, GPUs (compute capability, mixed precision), the TFDS cache and the runs folder."""
    load_tensorflow()
    from dlzoo.commands import doctor as doctor_module

    for line in doctor_module.report_lines(runs_root):
        click.echo(line)


@cli.group()
def exercise():
    """Auto-checked exercises: write an optimizer, a backward pass, a cell...; compared with Keras."""


@exercise.command("list")
def exercise_list():
    """The exercises: name, course topic, what to write."""
    from dlzoo import exercises
    from dlzoo.runs.report import format_table

    columns = ("name", "topic", "task")
    click.echo(format_table([[row[column] for column in columns] for row in exercises.rows()], columns))


@exercise.command("start")
@click.argument("name")
@click.option("--to", "destination", required=True, type=click.Path(dir_okay=False),
              help="The new .py file to write (never overwritten).")
def exercise_start(name, destination):
    """Write the skeleton of exercise NAME (interface, docstring, TODOs) to a new file."""
    from dlzoo import exercises

    path = exercises.start(name, destination)
    click.echo(f"wrote {path}: fill in the TODOs, then run: dlzoo exercise check {name} {path}")


@exercise.command("check")
@click.argument("name")
@click.argument("target", metavar="FILE[:OBJECT]")
def exercise_check(name, target):
    """Compare your FILE (its OBJECT, default the skeleton's) with the reference: exit 0 passed, 1 FAILED."""
    from dlzoo import exercises

    exercises.prepare_check(name, target)  # unknown exercise, missing file, syntax error: before TensorFlow
    load_tensorflow()
    verdict = exercises.check(name, target, debug=debug_enabled(click.get_current_context()))
    for line in verdict.lines():
        click.echo(line)
    sys.exit(0 if verdict.passed else 1)


for _command in exercise.commands.values():
    _command.params.append(click.Option(["--debug"], is_flag=True, expose_value=False, callback=enable_debug,
                                        help=DEBUG_HELP))


# --debug is accepted after the command name too (`dlzoo train mlp --debug`), like before it.
for _command in cli.commands.values():
    _command.params.append(click.Option(["--debug"], is_flag=True, expose_value=False, callback=enable_debug,
                                        help=DEBUG_HELP))


def main():
    """Entry point of the ``dlzoo`` console script."""
    cli(prog_name="dlzoo")

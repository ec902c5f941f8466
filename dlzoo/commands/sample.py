"""``dlzoo sample RUN``: draw new examples from a trained generative run (a GAN's generator, a VAE's decoder).

Writes ``samples.npy`` (in the dataset's raw units, e.g. ink counts for digits; with
``labels.npy`` for a conditional GAN) and ``samples.png`` into ``--out`` (default:
``<run>/samples/``), never replacing earlier files (``samples-2.npy`` the second time).

The values are the generator's output as it is, not clipped: a GAN's generator ends in the
data's range (0-16 for digits), a VAE's decoder gives the mean of a Gaussian, which is not
bounded and can overshoot it a little. The command prints the samples' range when it is wider
than the training data's, and how to clip them. A text generator (gpt-char) has no ``sample``:
``dlzoo predict RUN --prompt TEXT`` continues a text.
"""

import pathlib

import numpy as np

from dlzoo.core.errors import UsageError

# The most samples one command draws: enough for any statistic of the samples, and a bound on
# the time and memory (ten million 28x28 samples would run for many minutes without a word).
MAX_SAMPLES = 10_000
# samples.png shows the first samples only: a picture of thousands of tiles takes minutes to draw.
MAX_PICTURED = 100


def check_request(run, count, class_index, root=None):
    """Refuse what cannot be sampled before TensorFlow loads; returns ``(folder, config, record, task)``."""
    from dlzoo.runs.load import read_run

    if count < 1:
        raise UsageError(f"--n must be at least 1, got {count}")
    if count > MAX_SAMPLES:
        raise UsageError(f"--n must be at most {MAX_SAMPLES:,}, got {count}")
    folder, config, record, task = read_run(run, root)
    if task.can("text-generation"):  # a language model generates text, one prompt at a time
        raise UsageError(f"{folder} is a text generator ('{task.name}'): generate text with "
                         f"dlzoo predict {run} --prompt \"Once upon a time\" [--length 200] [--temperature 0.8]")
    if not task.can("sample"):
        raise UsageError(f"{folder} is a '{task.name}' run ({task.description}): it has no generator to sample "
                         "from; dlzoo sample needs a generative run (dcgan, cgan, vae)")
    task.check_sample_request(config, record, count, class_index)
    return folder, config, record, task


def sample_run(run, count=64, class_index=None, seed=0, out=None, root=None, echo=print):
    """Draw ``count`` samples; returns the paths written (``samples.npy``, ``samples.png``, ...).

    ``echo`` receives a note when the samples leave the training data's range (see the module)."""
    from dlzoo.plots import figures
    from dlzoo.runs import folders
    from dlzoo.runs.load import load_run

    check_request(run, count, class_index, root)
    loaded = load_run(run, root)
    images, labels = loaded.task.sample(loaded.model, loaded.config, loaded.record, count, class_index, seed)
    destination = pathlib.Path(out) if out else loaded.folder / "samples"
    destination.mkdir(parents=True, exist_ok=True)
    arrays, picture = figures.new_file_paths(destination / "samples.npy", destination / "samples.png")
    written = [folders.atomic_write_bytes(arrays, npy_bytes(images.astype("float32")))]
    if labels is not None:
        label_file = arrays.with_name(arrays.name.replace("samples", "labels"))
        written.append(folders.atomic_write_bytes(label_file, npy_bytes(np.asarray(labels, "int32"))))
    low, high = (loaded.record.get("data") or {}).get("raw_value_range") or (float(images.min()), float(images.max()))
    note = range_note(images, low, high)
    if note:
        echo(note)
    columns = min(10, count)
    from dlzoo.tasks.generate import sample_grid

    shown = f"the first {MAX_PICTURED} of {count}" if count > MAX_PICTURED else f"{count}"
    title = f"{loaded.config['name']}: {shown} samples, seed {seed}" + (f", class {class_index}" if class_index is not None else "")
    written.append(sample_grid(images[:MAX_PICTURED], (low, high), picture, title, columns=columns,
                               labels=None if labels is None else labels[:columns]))
    return written


def range_note(images, low, high):
    """A line saying that the samples leave the training data's range ``[low, high]`` ("" when they do not)."""
    smallest, largest = float(np.min(images)), float(np.max(images))
    margin = 1e-3 * max(high - low, 1e-9)  # float rounding at the edges is not worth a note
    if smallest >= low - margin and largest <= high + margin:
        return ""
    return (f"note: the samples range from {smallest:.3g} to {largest:.3g}, the training data from {low:.3g} to "
            f"{high:.3g}: the generator's output is not bounded to the data's range (a VAE's decoder gives the mean "
            f"of a Gaussian) and samples.npy keeps it as it is; np.clip(samples, {low:.3g}, {high:.3g}) gives values "
            "in the data's range (samples.png shows them clipped)")


def npy_bytes(array):
    """``array`` in NumPy's ``.npy`` format, as bytes (for the atomic writer)."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()

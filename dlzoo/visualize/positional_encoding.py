"""The positional encodings of a transformer run, as pictures for its report.

Arrays first: :func:`positional_tables` finds every
:class:`~dlzoo.models.transformer.PositionalEncoding` layer of a model (nested models and the
translator's network included) and returns its table, fixed sinusoids or learned vectors.
Pictures second: :func:`draw_positional_tables` draws, per table, the table itself (positions x
dimensions) and the cosine similarity of every pair of positions. :func:`report_section` does
both for a run folder; models without positional encodings get nothing.
"""

import numpy as np

from dlzoo.plots import figures
from dlzoo.runs import report


def positional_tables(model):
    """``[(layer name, kind, table (positions, depth))]`` of every positional-encoding layer of ``model``."""
    import keras

    from dlzoo.models import transformer

    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, transformer.PositionalEncoding) and getattr(layer, "table", None) is not None:
            found.append((layer.name, layer.kind, np.asarray(keras.ops.convert_to_numpy(layer.table))))
        elif isinstance(layer, keras.Model):
            found += positional_tables(layer)
    return found


def cosine_similarity(table):
    """(positions, positions) cosine similarity of the rows of ``table``."""
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


def draw_positional_tables(tables, path, title=""):
    """One row per table: its values and the cosine similarity of its positions."""
    pyplot = figures.pyplot_module()
    figure, axes = pyplot.subplots(len(tables), 2, figsize=(11, 3.8 * len(tables)), squeeze=False)
    for row, (name, kind, table) in enumerate(tables):
        image = axes[row, 0].imshow(table, cmap="RdBu_r", aspect="auto", vmin=-np.abs(table).max(),
                                    vmax=np.abs(table).max())
        axes[row, 0].set_title(f"{name} ({kind}): value of each dimension", fontsize=8)
        axes[row, 0].set_xlabel("dimension")
        axes[row, 0].set_ylabel("position")
        figure.colorbar(image, ax=axes[row, 0])
        image = axes[row, 1].imshow(cosine_similarity(table), cmap="viridis", vmin=-1.0, vmax=1.0)
        axes[row, 1].set_title(f"{name}: cosine similarity of positions", fontsize=8)
        axes[row, 1].set_xlabel("position")
        axes[row, 1].set_ylabel("position")
        figure.colorbar(image, ax=axes[row, 1])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figures.save_figure(figure, path)


def report_section(model, folder, key="40-positional-encoding"):
    """Draw ``plots/positional_encoding.png`` and add its report section; None for a model without
    positional encodings."""
    tables = positional_tables(model)
    if not tables:
        return None
    path = draw_positional_tables(tables, folder / "plots" / "positional_encoding.png")
    kinds = {kind for _, kind, _ in tables}
    lines = ["## Positional encoding", "",
             "Attention ignores the order of its inputs, so each position adds a vector to its token. Left: the "
             "vectors (rows: positions, columns: dimensions); right: how similar the vectors of two positions are."]
    if "sinusoidal" in kinds:
        lines.append("Sinusoidal (Vaswani et al. 2017): each pair of dimensions is a sine and a cosine of one "
                     "frequency, fast on the left, slow on the right, so neighbouring positions have similar vectors "
                     "and the similarity depends only on the distance (the bands parallel to the diagonal).")
    if "learned" in kinds:
        lines.append("Learned: one trained vector per position (GPT, BERT), initialized at random; the similarity "
                     "shows what training made of them (a band along the diagonal: neighbouring positions alike).")
    lines += ["", "![positional encoding](plots/positional_encoding.png)", ""]
    report.write_section(folder, key, "\n".join(lines))
    return path

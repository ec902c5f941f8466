"""``dlzoo visualize RUN --method attention``: per-head attention weights of a transformer.

Arrays first: :func:`attention_weights` finds every transformer block of a model (in nested
models too), computes each block's input with a sub-model, and calls the block with
``return_attention_scores=True``: ``[(block name, (batch, heads, T, S) weights)]``. Pictures
second: :func:`draw_attention` draws one figure per example, a row per block (self- and
cross-attention of a decoder block as two rows) and a column per head; row t of a map is where
query position t looks (each row sums to 1).
"""

import numpy as np

from dlzoo.plots import figures


def transformer_blocks(model):
    """``(owner model, block)`` for every transformer block of ``model``, in order, nested models included."""
    import keras

    from dlzoo.models import transformer

    found = []
    for layer in model.layers:
        if isinstance(layer, (transformer.TransformerEncoderBlock, transformer.TransformerDecoderBlock)):
            found.append((model, layer))
        elif isinstance(layer, keras.Model):
            found += transformer_blocks(layer)
    return found


def attention_weights(model, inputs):
    """``[(name, weights (batch, heads, T, S))]`` of every block for ``inputs`` (inference mode).

    A nested model (the GPT behind its vocabulary layer) gets ``inputs`` as they are: the layers
    before it must not change them (the vocabulary layer is the identity).
    """
    import keras

    from dlzoo.models import transformer

    results = []
    for owner, block in transformer_blocks(model):
        node = block._inbound_nodes[0]
        arguments = [tensor for tensor in node.arguments.keras_tensors]
        feeder = keras.Model(owner.inputs, arguments)
        values = feeder(inputs, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        if isinstance(block, transformer.TransformerDecoderBlock):
            _, weights = block(values[0], values[1], *values[2:4], training=False, return_attention_scores=True)
            results += [(f"{block.name} self", np.asarray(weights["self"])),
                        (f"{block.name} cross", np.asarray(weights["cross"]))]
        else:
            padding = values[1] if len(values) > 1 else None
            _, weights = block(values[0], padding_mask=padding, training=False, return_attention_scores=True)
            results.append((block.name, np.asarray(weights)))
    return results


# At most this many positions of a map get a label; more (a GPT's 64 characters) are unreadable.
MOST_TICK_LABELS = 16
# Characters that are invisible or break a line, as the tick label shows them.
VISIBLE_CHARACTERS = {" ": "␣", "\n": "↵", "\t": "→"}


def tick_labels(labels, most=MOST_TICK_LABELS):
    """``(positions, texts)`` for one axis of an attention map: every position when there are at
    most ``most`` labels, else every k-th (k the smallest step that keeps ``most`` or fewer);
    spaces and line breaks drawn as visible marks."""
    step = max(1, -(-len(labels) // most))
    positions = list(range(0, len(labels), step))
    return positions, [VISIBLE_CHARACTERS.get(str(labels[position]), str(labels[position])) for position in positions]


def draw_attention(maps, example, path, title, labels=None):
    """One figure: rows = blocks, columns = heads, the maps of example ``example``."""
    return figures.save_figure(attention_figure(maps, example, title, labels), path)


def attention_figure(maps, example, title, labels=None):
    """The figure of :func:`draw_attention` (not saved): a colorbar per row, whose heads share
    one colour scale; tokens on the left column and the bottom row only (every panel shares them)."""
    pyplot = figures.pyplot_module()
    heads = max(weights.shape[1] for _, weights in maps)
    figure, axes = pyplot.subplots(len(maps), heads, figsize=(2.6 * heads + 0.8, 2.6 * len(maps) + 0.4),
                                   squeeze=False, layout="constrained")
    for row, (name, weights) in enumerate(maps):
        highest = float(weights[example].max()) or 1.0  # one scale for the row's heads
        for head in range(heads):
            axis = axes[row, head]
            axis.set_xticks([])
            axis.set_yticks([])
            if head >= weights.shape[1]:
                axis.axis("off")
                continue
            image = axis.imshow(weights[example, head], cmap="viridis", vmin=0.0, vmax=highest, aspect="auto")
            axis.set_title(f"{name}, head {head + 1}", fontsize=7)
            if labels is not None and len(labels) == weights.shape[-1]:
                if row == len(maps) - 1:
                    axis.set_xticks(*tick_labels(labels), fontsize=6)
                if head == 0 and weights.shape[-2] == len(labels):
                    axis.set_yticks(*tick_labels(labels), fontsize=6)
        colorbar = figure.colorbar(image, ax=list(axes[row, :weights.shape[1]]), shrink=0.9)
        colorbar.ax.tick_params(labelsize=6)
        colorbar.set_label("attention weight", fontsize=6)
    axes[0, 0].set_ylabel("query position")
    axes[-1, 0].set_xlabel("key position")
    figure.suptitle(title, fontsize=9)
    return figure

"""``dlzoo visualize RUN --method attention``: per-head attention weights of a transformer.

Arrays first: :func:`attention_weights` finds every transformer block of a model (in nested
models too), computes each block's input with a sub-model, and calls the block with
``return_attention_scores=True``: ``[(block name, (batch, heads, T, S) weights)]``. Pictures
second: :func:`draw_attention` draws one figure per example, a row per block (self- and
cross-attention of a decoder block as two rows) and a column per head; row t of a map is where
query position t looks (each row sums to 1).
"""

import numpy as np

from dlzoo import plots


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


def draw_attention(maps, example, path, title, labels=None):
    """One figure: rows = blocks, columns = heads, the maps of example ``example``."""
    pyplot = plots._pyplot()
    heads = max(weights.shape[1] for _, weights in maps)
    figure, axes = pyplot.subplots(len(maps), heads, figsize=(2.6 * heads, 2.6 * len(maps)), squeeze=False)
    for row, (name, weights) in enumerate(maps):
        for head in range(heads):
            axis = axes[row, head]
            axis.set_xticks([])
            axis.set_yticks([])
            if head >= weights.shape[1]:
                axis.axis("off")
                continue
            axis.imshow(weights[example, head], cmap="viridis", vmin=0.0, aspect="auto")
            axis.set_title(f"{name}, head {head + 1}", fontsize=7)
            if labels is not None and len(labels) == weights.shape[-1] <= 70:
                axis.set_xticks(range(len(labels)))
                axis.set_xticklabels(labels, fontsize=4)
                if weights.shape[-2] == len(labels):
                    axis.set_yticks(range(len(labels)))
                    axis.set_yticklabels(labels, fontsize=4)
    axes[0, 0].set_ylabel("query position")
    axes[-1, 0].set_xlabel("key position")
    figure.suptitle(title, fontsize=9)
    return plots.save_figure(figure, path)

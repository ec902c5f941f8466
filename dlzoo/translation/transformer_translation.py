"""The transformer as a model family of the seq2seq task (``[model] name = "transformer"``).

The seq2seq task (:mod:`dlzoo.tasks.seq2seq`) trains, decodes, scores, exports and predicts with
any model that has ``initial_state`` / ``decode_step`` (see :mod:`dlzoo.translation.decoding`);
this module holds what is particular to the transformer:

* the builder and its ``[model]`` keys are registered in :mod:`dlzoo.models` (kind
  ``translator``, name ``transformer``: :mod:`dlzoo.models.transformer_translator`);
* :func:`cross_attention_maps` and :func:`draw_cross_attention_heads`: every head of every
  decoder block's cross-attention (the RNN translators have one attention map; a transformer
  has ``num_layers x num_heads`` of them, and heads specialize).
"""

import numpy as np

from dlzoo.plots import figures

def cross_attention_maps(model, texts):
    """Greedy translations of ``texts`` and every cross-attention head that produced them.

    Returns ``[(text, translation, weights (blocks, heads, output steps, input characters))]``:
    row t of a head's map is where output step t (the character it wrote, then the end token)
    looked in the input. The decoder is run teacher-forced on the greedy output ids, which
    gives exactly the weights of step-by-step decoding (the self-attention is causal).
    """
    import tensorflow as tf

    from dlzoo.translation import serving, vocabulary

    texts = [str(text) for text in texts]
    decoded = serving.compiled_translate(model)(tf.constant(texts))  # the trace evaluation already made
    source_ids, ids = decoded["source_ids"], decoded["ids"]
    decoder_input = tf.concat([tf.fill([len(texts), 1], vocabulary.START), ids], axis=1)[:, :model.decoder_length]
    blocks = np.stack([np.asarray(weights) for weights in model.cross_attention(source_ids, decoder_input)], axis=1)
    results = []
    for row, text in enumerate(texts):
        translation = vocabulary.decode(ids.numpy()[row], model.target_vocabulary)
        steps = min(len(translation) + 1, model.max_target_length)  # the end token's step too
        columns = max(1, min(len(text), model.max_source_length))
        results.append((text, translation, blocks[row, :, :, :steps, :columns]))
    return results


def draw_cross_attention_heads(maps, path, target=None):
    """One figure for one input: a row per decoder block, a column per head (``maps``: one item of
    :func:`cross_attention_maps`); ``target`` (the expected output) adds right/wrong to the title."""
    text, translation, weights = maps
    pyplot = figures.pyplot_module()
    blocks, heads = weights.shape[:2]
    figure, axes = pyplot.subplots(blocks, heads, figsize=(3.2 * heads + 0.8, 2.8 * blocks + 0.6), squeeze=False,
                                   layout="constrained")
    rows = (list(translation) + ["<end>"])[:weights.shape[2]]
    for block in range(blocks):
        for head in range(heads):
            axis = axes[block, head]
            image = axis.imshow(weights[block, head], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            axis.set_title(f"decoder block {block + 1}, head {head + 1}", fontsize=7)
            # Characters along the left column and the bottom row only: every panel shares them
            # (and hundreds of repeated labels made this picture the slowest of a run to draw).
            axis.set_xticks(range(weights.shape[3]))
            axis.set_xticklabels(list(text[:weights.shape[3]]) if block == blocks - 1 else [], fontsize=5)
            axis.set_yticks(range(len(rows)))
            axis.set_yticklabels(rows if head == 0 else [], fontsize=5)
    axes[-1, 0].set_xlabel("input characters")
    axes[0, 0].set_ylabel("output characters")
    verdict = "" if target is None else (" (right)" if translation == target else f" (WRONG; expected {target})")
    figure.suptitle(f"cross-attention of every head: {text} -> {translation}{verdict}", fontsize=9)
    colorbar = figure.colorbar(image, ax=list(axes.flat), shrink=0.8)  # every panel has the scale 0 to 1
    colorbar.set_label("attention weight", fontsize=7)
    colorbar.ax.tick_params(labelsize=6)
    return figures.save_figure(figure, path)


def draw_heads_pictures(model, texts, folder, stem, targets=None):
    """:func:`draw_cross_attention_heads` for each of ``texts``, into new files
    ``<folder>/<stem>-<n>.png`` (never replacing a picture); returns the paths."""
    import pathlib

    paths = []
    for index, maps in enumerate(cross_attention_maps(model, texts)):
        path = figures.new_file_paths(pathlib.Path(folder) / f"{stem}-{index + 1}.png")[0]
        draw_cross_attention_heads(maps, path, None if targets is None else str(targets[index]))
        paths.append(path)
    return paths

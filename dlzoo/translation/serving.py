"""The translator as a function of strings: vocabulary and decoding loop inside the graph.

:func:`translate_function` returns ``translate(texts) -> {"translation": strings}`` for a
model with ``initial_state(source_ids)`` and ``decode_step(tokens, state)`` (any seq2seq model
of dlzoo), ``source_vocabulary``, ``target_vocabulary``, ``max_source_length`` and
``max_target_length``. It is the SavedModel's ``serve`` endpoint. ``evaluate``, ``predict`` and
the attention pictures run the same decoding (:func:`decoded_function`, which also returns the
ids and attention), traced once per model (:func:`compiled_translate`), so all of them agree by
construction.

The SavedModel checks nothing, by design (it is a graph of string ops): it reads the first
``max_source_length`` characters of each input and cuts the rest *silently*, maps characters
never seen in training to the unknown id, and writes at most ``max_target_length`` characters.
:func:`limits_note` says so in the report; ``dlzoo predict`` flags such inputs.
"""

import tensorflow as tf

from dlzoo.translation import decoding, vocabulary


def translate_ids(model, source_ids, beam_width=1, length_penalty=0.0):
    """Ids (batch, max_target_length) and attention (batch, T, S) (None with beam search)."""
    batch_size = tf.shape(source_ids)[0]
    state = model.initial_state(source_ids)
    if beam_width <= 1:
        return decoding.greedy_decode(model.decode_step, state, batch_size, model.max_target_length)
    ids = decoding.beam_search(model.decode_step, state, batch_size, beam_width, model.max_target_length,
                               length_penalty=length_penalty)
    return ids, None


def translate_function(model, beam_width=1, length_penalty=0.0):
    """``translate(texts (batch,) tf.string) -> {"translation": tf.string (batch,)}``; each text is cut to
    ``model.max_source_length`` characters without a warning (see the module docstring)."""
    decoded = decoded_function(model, beam_width, length_penalty)

    def translate(texts):
        return {"translation": decoded(texts)["translation"]}

    return translate


def limits_note(model):
    """What the exported ``serve`` does with inputs unlike the training data (for the report)."""
    return (f"`serve` reads at most {model.max_source_length} characters of each input (the longest training input) "
            "and **cuts longer strings silently**; characters never seen in training become the unknown id, and a "
            f"translation has at most {model.max_target_length} characters. It answers every input, nonsense "
            "included: `dlzoo predict` flags inputs unlike the training data, the SavedModel does not.")


def serving_endpoints(model, beam_width=1):
    """``{"serve": (translate, [tf.TensorSpec([None], tf.string, name="texts")])}`` for the export."""
    return {"serve": (translate_function(model, beam_width), [tf.TensorSpec([None], tf.string, name="texts")])}


def decoded_function(model, beam_width=1, length_penalty=0.0):
    """``decoded(texts) -> {"translation", "source_ids", "ids"[, "attention"]}``: the translations
    with the ids they were decoded from (and, greedy only, the attention of every step)."""

    def decoded(texts):
        source_ids = vocabulary.graph_encode(texts, model.source_vocabulary, model.max_source_length)
        ids, attention = translate_ids(model, source_ids, beam_width, length_penalty)
        outputs = {"translation": vocabulary.graph_decode(ids, model.target_vocabulary), "source_ids": source_ids,
                   "ids": ids}
        if attention is not None:
            outputs["attention"] = attention
        return outputs

    return decoded


_COMPILED = {}  # (id(model), beam width) -> the traced decoding function: traced once, reused


def compiled_translate(model, beam_width=1):
    """:func:`decoded_function` as a ``tf.function``, cached for the model's lifetime: evaluating
    every split and drawing the attention pictures share one trace (run eagerly, the decoding
    loop of a transformer costs about 0.1 s a step)."""
    key = (id(model), beam_width)
    if key not in _COMPILED or _COMPILED[key][0] is not model:
        _COMPILED[key] = (model, tf.function(decoded_function(model, beam_width),
                                             input_signature=[tf.TensorSpec([None], tf.string)]))
    return _COMPILED[key][1]


def translate_texts(model, texts, beam_width=1, batch_size=256):
    """Python strings in, Python strings out (compiled once per model and beam width)."""
    function = compiled_translate(model, beam_width)
    results = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant([str(text) for text in texts[start:start + batch_size]])
        results += [value.decode("utf-8") for value in function(batch)["translation"].numpy()]
    return results


def attention_maps(model, texts):
    """Greedy translations and their attention matrices: ``[(translation, weights (T, S))]``, each
    cut to the output and input lengths."""
    outputs = compiled_translate(model)(tf.constant([str(text) for text in texts]))
    ids, attention = outputs["ids"].numpy(), outputs["attention"].numpy()
    results = []
    for row, text in enumerate(texts):
        translation = vocabulary.decode(ids[row], model.target_vocabulary)
        steps = len(translation) + 1  # the end token's step too
        results.append((translation, attention[row, :steps, :min(len(text), model.max_source_length)]))
    return results

"""Sequence-to-sequence: vocabularies, decoding, metrics, the model, and a tiny translator end to end."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from helpers import invoke, shared_run

# ---------------------------------------------------------------------------------------------
# Pieces


def test_vocabulary_round_trip_and_unknown_characters():
    from dlzoo.translation import vocabulary

    characters = vocabulary.build_vocabulary(["abc", "cab+"])
    ids = vocabulary.encode(["ab", "a☃c"], characters, 5, end=True)
    assert ids[0].tolist()[:3] == [vocabulary.SPECIAL_TOKENS + 1, vocabulary.SPECIAL_TOKENS + 2, vocabulary.END]
    assert ids[1, 1] == vocabulary.UNKNOWN
    assert vocabulary.decode(ids[0], characters) == "ab"


def test_graph_vocabulary_matches_numpy_and_never_crashes():
    import tensorflow as tf

    from dlzoo.translation import vocabulary

    characters = vocabulary.build_vocabulary(["lundi 22 avril", "Montag"])
    texts = ["lundi 2", "Mo☃ntag é", "x" * 40]
    graph_ids = vocabulary.graph_encode(tf.constant(texts), characters, 12).numpy()
    np.testing.assert_array_equal(graph_ids, vocabulary.encode(texts, characters, 12))
    decoded = vocabulary.graph_decode(tf.constant(vocabulary.encode(["lundi", "avril"], characters, 8, end=True)),
                                      characters)
    assert [value.decode() for value in decoded.numpy()] == ["lundi", "avril"]


def test_metrics():
    from dlzoo.metrics import translation as translation_metrics

    assert translation_metrics.edit_distance("kitten", "sitting") == 3
    result = translation_metrics.all_metrics(["2019-04-22", "2019-04-23"], ["2019-04-22", "2019-04-22"])
    assert result["exact_match"] == 0.5
    assert result["character_accuracy"] == pytest.approx(19 / 20)
    assert result["edit_distance"] == 0.5
    assert "bleu" not in result  # one-word outputs: BLEU (word 4-grams) would be 0 whatever the model does
    assert 50 < result["character_bleu"] < 100  # character n-grams: one wrong digit of two dates
    assert translation_metrics.all_metrics(["2019-04-22"], ["2019-04-22"])["character_bleu"] == pytest.approx(100.0)
    assert translation_metrics.character_bleu(["2019-04-22"], ["1987-11-30"]) < 20
    sentences = ["trois cent quarante-deux mille sept cent un", "soixante et onze mille neuf cent deux"]
    assert translation_metrics.bleu(sentences, sentences) == pytest.approx(100.0)
    assert translation_metrics.all_metrics(sentences[::-1], sentences)["bleu"] < 50


def toy_step(table):
    """A step function whose next-token probabilities depend only on the previous token."""
    import tensorflow as tf

    log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-9)

    def step(tokens, state):
        return tf.gather(log_table, tokens), state, tf.zeros([tf.shape(tokens)[0], 1])

    return step


def test_beam_search_finds_what_greedy_misses():
    import tensorflow as tf

    from dlzoo.translation import decoding

    # ids: 0 pad, 1 unk, 2 start, 3 end, 4 "A", 5 "B".
    table = np.full((6, 6), 1e-6)
    table[2, 4], table[2, 5] = 0.55, 0.45  # start: A is likelier...
    table[4, 3], table[4, 4], table[4, 5] = 0.4, 0.3, 0.3  # ...but after A nothing is sure
    table[5, 3] = 0.9  # after B the end is almost certain: "B" (0.405) beats "A" (0.22)
    table[3, 0] = 1.0
    table[0, 0] = 1.0
    step = toy_step(table)
    state = (tf.zeros([2, 1]),)
    greedy, _ = decoding.greedy_decode(step, state, 2, 4)
    beam = decoding.beam_search(step, state, 2, 2, 4)
    assert greedy.numpy()[0].tolist() == [4, 3, 0, 0]
    assert beam.numpy()[0].tolist() == [5, 3, 0, 0]
    assert decoding.beam_search(step, state, 2, 1, 4).numpy()[0].tolist() == [4, 3, 0, 0]  # width 1 = greedy


def test_decoders_never_choose_padding_unknown_or_start():
    """A model that scores padding, unknown or start highest still writes a character at each step."""
    import tensorflow as tf

    from dlzoo.translation import decoding

    # ids: 0 pad, 1 unk, 2 start, 3 end, 4 "A", 5 "B". Padding is the likeliest everywhere.
    table = np.full((6, 6), 1e-3)
    table[:, 0], table[:, 1], table[:, 2] = 0.5, 0.2, 0.1
    table[2, 4] = table[4, 5] = table[5, 3] = 0.15  # then: start -> A -> B -> end
    step = toy_step(table)
    state = (tf.zeros([2, 1]),)
    greedy, _ = decoding.greedy_decode(step, state, 2, 5)
    assert greedy.numpy()[0].tolist() == [4, 5, 3, 0, 0]
    for width in (2, 3):
        assert decoding.beam_search(step, state, 2, width, 5).numpy()[0].tolist() == [4, 5, 3, 0, 0]


def tiny_model(**options):
    """An untrained translator of digit strings (units 8)."""
    from dlzoo.models import seq2seq

    return seq2seq.build_seq2seq(list("0123456789+"), list("0123456789x"), 7, 6, units=8, embedding_dim=4, **options)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bidirectional_encoder_sees_the_following_characters(cell):
    """The cause of seq2seq-dates' "3" -> "33": a left-to-right encoder's output at the "3" of
    "3 de" cannot know whether a digit follows. The recipes' encoder must; padding changes nothing."""
    from dlzoo.config import resolve
    from dlzoo.translation import vocabulary
    from dlzoo import models

    def outputs(model, texts, length=7):
        memory, states, _ = model.encode(vocabulary.encode(texts, model.source_vocabulary, length))
        return np.asarray(memory), [np.asarray(state) for state in states]

    forward = tiny_model(cell=cell, encoder="forward")
    one_digit, two_digits = outputs(forward, ["3+4", "34+4"])[0]
    np.testing.assert_allclose(one_digit[0], two_digits[0], atol=1e-7)  # the flaw, shown
    for name in ("seq2seq-dates", "seq2seq-numbers", "seq2seq-addition"):
        options = models.check_options(resolve.load_config(name)["model"], kind="translator")
        assert options["encoder"] == "bidirectional", name
    model = tiny_model(cell=cell, encoder="bidirectional")
    (one_digit, two_digits), states = outputs(model, ["3+4", "34+4"])
    assert np.abs(one_digit[0] - two_digits[0]).max() > 1e-4  # the "3" knows what follows it
    assert one_digit.shape[-1] == 8 and [state.shape for state in states] == [(2, 8)] * (2 if cell == "lstm" else 1)
    padded, padded_states = outputs(model, ["3+4"], length=7)
    unpadded, unpadded_states = outputs(model, ["3+4"], length=3)
    np.testing.assert_allclose(padded[:, :3], unpadded, atol=1e-6)  # the backward pass skips the padding
    for first, second in zip(padded_states, unpadded_states):
        np.testing.assert_allclose(first, second, atol=1e-6)


def test_output_cut_at_the_maximum_length_and_special_ids(tmp_path):
    """A decoder that never ends and prefers padding: every step writes a character, Python and
    in-graph decoding agree, and the heatmap has one row per output character (no end row)."""
    from dlzoo.translation import serving
    from dlzoo.tasks import seq2seq as task

    model = tiny_model(attention="luong")
    bias = np.zeros(model.target_size, "float32")
    bias[0], bias[4 + model.target_vocabulary.index("x")] = 100.0, 50.0  # padding first, then "x", never end
    model.output_layer.bias.assign(bias)
    [(translation, weights)] = serving.attention_maps(model, ["12+3"])
    assert translation == "x" * model.max_target_length
    assert weights.shape == (model.max_target_length, 4)
    assert serving.translate_texts(model, ["12+3"]) == [translation]
    assert serving.translate_texts(model, ["12+3"], beam_width=3) == [translation]
    path = task.draw_attention(task.attention_pairs(model, ["12+3"], ["15"]), tmp_path / "attention.png")
    assert path.is_file()


# Every pair of options (cell and attention, cell and encoder, attention and encoder) meets in at
# least one case: 6 cases instead of all 12 combinations, since the three options are built by
# separate parts of the model and a defect comes from two of them meeting, not three.
@pytest.mark.parametrize("cell, attention, encoder", [
    ("gru", "luong", "forward"), ("gru", "bahdanau", "bidirectional"), ("gru", "none", "forward"),
    ("lstm", "luong", "bidirectional"), ("lstm", "bahdanau", "forward"), ("lstm", "none", "bidirectional")])
def test_seq2seq_model_trains_decodes_and_reloads(cell, attention, encoder, tmp_path):
    import keras
    import tensorflow as tf

    from dlzoo.models import seq2seq
    from dlzoo.runs.load import load_keras_model
    from dlzoo.translation import serving, vocabulary
    from dlzoo.tasks.seq2seq import masked_loss

    model = seq2seq.build_seq2seq(list("0123456789+"), list("0123456789"), 7, 6, cell=cell, units=8,
                                  embedding_dim=4, attention=attention, encoder=encoder)
    sources, targets = ["12+3", "40+2", "7+7"], ["15", "42", "14"]
    source_ids = vocabulary.encode(sources, model.source_vocabulary, 7)
    decoder_inputs = vocabulary.encode(targets, model.target_vocabulary, 5, start=True)
    decoder_targets = vocabulary.encode(targets, model.target_vocabulary, 5, end=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=masked_loss())
    history = model.fit((source_ids, decoder_inputs), decoder_targets, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # Step-by-step decoding (inference) computes what teacher forcing (training) computes.
    logits = model((source_ids, decoder_inputs)).numpy()
    state, stepped = model.initial_state(tf.constant(source_ids)), []
    for position in range(decoder_inputs.shape[1]):
        step_logits, state, weights = model.decode_step(tf.constant(decoder_inputs[:, position]), state)
        stepped.append(step_logits.numpy())
    np.testing.assert_allclose(np.stack(stepped, axis=1), logits, atol=1e-5)
    if attention != "none":  # attention weights are a distribution over the real source characters
        np.testing.assert_allclose(weights.numpy().sum(axis=-1), 1.0, atol=1e-5)
        assert np.all(weights.numpy()[2, 3:] < 1e-6)  # "7+7" has 3 characters: no weight on padding
    translations = serving.translate_texts(model, sources + ["9☃9+1"], beam_width=2)
    assert len(translations) == 4 and all(isinstance(text, str) for text in translations)
    model.save(tmp_path / "model.keras")
    reloaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded((source_ids, decoder_inputs)).numpy(), logits, atol=1e-5)
    assert reloaded.attention == attention and reloaded.target_vocabulary == model.target_vocabulary
    assert reloaded.encoder_type == encoder


def test_seq2seq_model_rejects_bad_options():
    from dlzoo.models import seq2seq

    with pytest.raises(ValueError, match="attention"):
        seq2seq.Seq2Seq(["a"], ["b"], 3, 3, attention="dot")
    with pytest.raises(ValueError, match="cell"):
        seq2seq.Seq2Seq(["a"], ["b"], 3, 3, cell="rnn")
    with pytest.raises(ValueError, match="encoder"):
        seq2seq.Seq2Seq(["a"], ["b"], 3, 3, encoder="backward")
    with pytest.raises(ValueError, match="even"):
        seq2seq.Seq2Seq(["a"], ["b"], 3, 3, units=7, encoder="bidirectional")


# ---------------------------------------------------------------------------------------------
# A tiny trained translator, end to end through the CLI

TINY = ("--set", "model.units=16", "--set", "model.embedding_dim=8", "--set", "train.quick_train_samples=128",
        "--set", "train.verbose=0")


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """A quick seq2seq-addition run (Luong attention): its folder."""
    runs_root = tmp_path_factory.mktemp("seq2seq") / "runs"
    result = invoke("train", "seq2seq-addition", "--quick", *TINY, "--runs", runs_root)
    assert result.exit_code == 0, result.output
    return next((runs_root / "seq2seq-addition").iterdir())


def test_translator_run_folder(translator):
    record = json.loads((translator / "metrics.json").read_text())
    for key in ("test_exact_match", "test_character_accuracy", "test_edit_distance"):
        assert key in record["metrics"]
    assert record["export"]["max_abs_difference"] == 0.0  # strings compared exactly
    assert "serve(texts: string[None])" in record["export"]["signature"]
    assert (translator / "plots" / "attention.png").is_file()
    assert "Translations" in (translator / "report.md").read_text()


def test_string_saved_model_translates_without_dlzoo(translator, plain_tensorflow):
    """A plain TensorFlow program, with dlzoo made unimportable, translates strings."""
    lines = plain_tensorflow(
        f"model = tf.saved_model.load({str(translator / 'saved_model')!r})\n"
        "out = model.serve(tf.constant(['12+3', '999+999', '', 'x☃y']))['translation']\n"
        "print('|'.join(value.decode('utf-8') for value in out.numpy()))\n"
        "print(out.dtype.name, out.shape)\n"
    )
    assert lines[-1] == "string (4,)"
    assert len(lines[-2].split("|")) == 4
    assert set(lines[-2]) <= set("0123456789|?")  # sums: digits only (unknown is "?")


def test_predict_translates_strings_and_file(translator, tmp_path):
    result = invoke("predict", translator, "12+3", "40+2")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2  # one line per input (a half-trained model may say "")
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("1+1\n\n2+2\n3+3\n", encoding="utf-8")
    result = invoke("predict", translator, "--file", inputs, "--beam", "3")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3  # blank lines of the file skipped


def test_evaluate_a_translator(translator):
    result = invoke("evaluate", translator)
    assert result.exit_code == 0, result.output
    assert "test exact match" in result.output


def test_predict_attention_writes_heatmaps(translator):
    result = invoke("predict", translator, "12+3", "--attention")
    assert result.exit_code == 0, result.output
    assert (translator / "plots" / "predict-attention-1.png").is_file()


def test_visualize_attention(translator):
    result = invoke("visualize", translator, "--method", "attention", "--samples", "3")
    assert result.exit_code == 0, result.output
    assert "attention" in result.output
    assert "Visualization: attention" in (translator / "report.md").read_text()
    result = invoke("visualize", translator, "--method", "gradcam")
    assert result.exit_code == 2 and "attention" in result.output


@pytest.mark.parametrize("arguments, message", [
    (["--beam", "0", "1+1"], "beam width must be"),
    ([""], "empty"),
    (["--file", "missing.txt"], "no such file"),
    ([], "give strings to translate"),
])
def test_predict_bad_input(translator, arguments, message):
    result = invoke("predict", translator, *arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_predict_over_long_and_unknown_characters(translator):
    result = invoke("predict", translator, "1" * 50 + "+1", "é☃+1")
    assert result.exit_code == 0, result.output
    assert "the rest is cut" in result.output
    assert len([line for line in result.output.splitlines() if not line.startswith("warning")]) == 2


def test_predict_shows_each_input_and_flags_inputs_unlike_the_training_data(translator):
    result = invoke("predict", translator, "12+3", "hello world", "1" * 12 + "+1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # one line per input, nothing else on stdout
    assert [line.split(" -> ")[0] for line in lines] == ["12+3", "hello world", "1" * 12 + "+1"]
    assert "never seen in training" in lines[1] and "'d'" in lines[1]  # letters: no sum has them
    assert "longer than any training input" in lines[2] and "the rest is cut" in lines[2]
    # A plausible input is flagged only for what its output is (a quick model may answer anything).
    output = lines[0].split(" -> ", 1)[1].split("   (")[0]
    assert ("unlike the training data" in lines[0]) == bool(
        not output.isdigit() or int(output) > 1998 or len(output) >= 6)


def test_outputs_the_data_could_not_hold_are_flagged():
    from types import SimpleNamespace

    from dlzoo import data
    from dlzoo.tasks.seq2seq import unlike_training

    dates = data.load("dates", seed=0)  # lazy: no pair is generated
    model = SimpleNamespace(source_vocabulary=sorted(set("0123456789+ abcdefghijklmnopqrstuvwxyz,.")),
                            max_source_length=30, max_target_length=12)
    assert unlike_training("22 avril 2019", "2019-04-22", model, dates) == []
    (reason,) = unlike_training("hello world", "1044-07-09", model, dates)
    assert "outside the data's 1900-2099" in reason
    assert "not a valid" in unlike_training("hello", "2019-13-45", model, dates)[0]
    addition = data.load("addition:3", seed=0)
    assert unlike_training("999+999", "1998", model, addition) == []
    assert "at most 1998" in unlike_training("999+999", "2998", model, addition)[0]
    assert "not a whole number" in unlike_training("999+999", "19-8", model, addition)[0]


def test_the_saved_model_section_says_long_inputs_are_cut_silently(translator):
    text = (translator / "report.md").read_text()
    serving = text[text.index("## Use it without dlzoo"):]
    assert "takes strings" in serving and "cuts longer strings silently" in serving


def test_predict_beam_on_a_run_that_is_not_a_translator(tmp_path_factory):
    run = shared_run(tmp_path_factory, "linear-neuron", "--quick").folder  # predict refuses: nothing written
    result = invoke("predict", run, "--beam", "2", "0.1")
    assert result.exit_code == 2
    assert "translators" in result.output and "regress" in result.output


def test_seq2seq_config_errors(tmp_path):
    for override, message in (("model.attention=\"dot\"", "model.attention"), ("model.cell=\"simple\"", "model.cell"),
                              ("seq2seq.beam_width=0", "beam width"), ("model.layers=2", "layers"),
                              ("model.encoder=\"both\"", "model.encoder"), ("model.units=7", "even")):
        result = invoke("show", "seq2seq-dates", "--set", override)
        assert result.exit_code == 2, (override, result.output)
        assert message in result.output


def test_seq2seq_choices_match_the_model_and_show_stays_light():
    """Resolving a translator recipe imports neither Keras nor TensorFlow (its model options are
    checked by the builder's registration, when the run is prepared)."""
    program = ("import sys; from dlzoo.config import resolve; resolve.load_config('seq2seq-numbers'); "
               "resolve.load_config('rnn-vanishing'); print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                               cwd=pathlib.Path(__file__).parents[1])
    assert completed.stdout.split() == ["False", "False"], completed.stderr[-1000:]


def test_side_by_side_shows_this_recipe_without_attention(tmp_path):
    """The report's table puts the latest finished run of the same recipe with another model (no
    attention) next to this run; runs of the same model, quick runs and failed runs stay out."""
    import json

    from dlzoo.translation import side_by_side

    def pretend_run(stamp, attention, status="completed", quick=False, exact_match=0.5):
        folder = tmp_path / "runs" / "seq2seq-numbers" / stamp
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(f'name = "seq2seq-numbers"\ntask = "seq2seq"\n[model]\nname = "seq2seq"\n'
                                            f'cell = "gru"\nunits = 128\nattention = "{attention}"\n')
        (folder / "metrics.json").write_text(json.dumps({
            "status": status, "quick": quick, "metrics": {"test_exact_match": exact_match},
            "parameters": 100, "epochs_run": 6, "train_seconds": 60.0}))
        return folder

    pretend_run("20260101-000000", "none", exact_match=0.61)
    pretend_run("20260102-000000", "none", status="failed", exact_match=0.99)  # failed: not shown
    pretend_run("20260103-000000", "none", quick=True, exact_match=0.98)  # quick: not shown
    pretend_run("20260104-000000", "luong", exact_match=0.97)  # the same model as this run: not a variant
    this_run = pretend_run("20260105-000000", "luong")
    config = {"name": "seq2seq-numbers", "data": {"dataset": "numbers:en-fr"},
              "model": {"name": "seq2seq", "cell": "gru", "units": 128, "attention": "luong"}}
    text = side_by_side.section(this_run, config, ["seq2seq-numbers (this run)", "GRU + luong attention, 128 units",
                                                   1.0, 1.0, 100, 6, 60.0])
    assert "| seq2seq-numbers (20260101-000000) | GRU + none attention, 128 units | 0.61 |" in text
    for hidden in ("20260102", "20260103", "20260104"):
        assert hidden not in text

"""The transformer translators (transformer-dates, transformer-numbers): the model's two paths
agree, its decoder is causal, and a tiny trained run goes through the seq2seq task end to end
(string SavedModel, predict, beam search, attention pictures, evaluate, side-by-side table)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import invoke

TINY = ("--set", "model.model_dim=16", "--set", "model.num_heads=2", "--set", "model.feed_forward_dim=32",
        "--set", "model.num_layers=1", "--set", "train.quick_train_samples=128", "--set", "train.verbose=0")


def tiny_translator(dropout_rate=0.0, num_layers=2, norm_first=True):
    """A small untrained translator over letters -> digits (random weights are enough here)."""
    from dlzoo.models import transformer_translator

    return transformer_translator.build_transformer_translator(
        list("abcdefgh "), list("0123456789-"), 9, 7, model_dim=16, num_heads=2, feed_forward_dim=32,
        num_layers=num_layers, dropout_rate=dropout_rate, norm_first=norm_first)


def sample_ids(model, batch=3, seed=0):
    """Source ids with padding at the end of some rows, and a teacher-forcing decoder input."""
    from dlzoo.translation import vocabulary

    rng = np.random.default_rng(seed)
    source = rng.integers(4, 4 + len(model.source_vocabulary), (batch, model.max_source_length)).astype("int32")
    source[1, 5:] = vocabulary.PAD
    decoder_input = rng.integers(4, model.target_size, (batch, model.decoder_length)).astype("int32")
    decoder_input[:, 0] = vocabulary.START
    return source, decoder_input


# ---------------------------------------------------------------------------------------------
# The model


@pytest.mark.parametrize("norm_first", [True, False])
def test_step_decoding_equals_teacher_forcing(norm_first):
    """decode_step, fed the same tokens one at a time, gives the logits of the training path."""
    model = tiny_translator(norm_first=norm_first)
    source, decoder_input = sample_ids(model)
    expected = np.asarray(model((source, decoder_input)))  # (batch, T + 1, vocabulary)
    state = model.initial_state(source)
    for step in range(model.max_target_length):
        logits, state, attention = model.decode_step(decoder_input[:, step], state)
        np.testing.assert_allclose(np.asarray(logits), expected[:, step], atol=1e-5)
        attention = np.asarray(attention)
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
        assert attention[1, 5:].max() < 1e-6  # source padding gets no attention


def test_causal_decoder_ignores_future_target_tokens():
    model = tiny_translator()
    source, decoder_input = sample_ids(model)
    changed = decoder_input.copy()
    changed[:, 4] = 4 + (changed[:, 4] - 3) % (model.target_size - 4)  # another real character at step 4
    before, after = np.asarray(model((source, decoder_input))), np.asarray(model((source, changed)))
    assert np.abs(before[:, :4] - after[:, :4]).max() < 1e-5  # outputs before step 4 cannot see it
    assert np.abs(before[:, 4:] - after[:, 4:]).max() > 1e-4  # outputs from step 4 on do


def test_translator_trains_a_step_and_reloads(tmp_path):
    import keras

    from dlzoo.runs import load

    model = tiny_translator(dropout_rate=0.1, num_layers=1)
    source, decoder_input = sample_ids(model, batch=8)
    targets = np.roll(decoder_input, -1, axis=1)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    before = [np.array(weight) for weight in model.get_weights()]
    history = model.fit((source, decoder_input), targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(np.abs(a - np.asarray(b)).max() > 0 for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "translator.keras")
    reloaded = load.load_keras_model(tmp_path / "translator.keras")
    assert reloaded.target_vocabulary == model.target_vocabulary and reloaded.family == "transformer"
    np.testing.assert_allclose(np.asarray(reloaded((source, decoder_input))), np.asarray(model((source, decoder_input))),
                               atol=1e-5)


def test_choices_match_the_model_and_show_stays_light():
    """Resolving a transformer recipe imports neither Keras nor TensorFlow."""
    program = ("import sys; from dlzoo.config import resolve; resolve.load_config('transformer-numbers'); "
               "resolve.load_config('transformer-dates'); print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert completed.stdout.split() == ["False", "False"], completed.stderr[-1000:]


@pytest.mark.parametrize("override, message", [
    ("model.num_heads=3", "num_heads 3 does not divide the model width model_dim 64"),
    ("model.cell=\"gru\"", "model.cell"),
    ("model.positional=\"rotary\"", "model.positional must be one of"),
    ("model.num_layers=0", "model.num_layers must be a whole number >= 1"),
    ("seq2seq.beam_width=0", "beam width"),
])
def test_transformer_recipe_errors(cli_run, override, message):
    result = cli_run("show", "transformer-dates", "--set", override)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# A tiny trained run, end to end through the CLI


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """A quick transformer-dates run, next to a (pretend) finished GRU run of seq2seq-dates."""
    runs_root = tmp_path_factory.mktemp("transformer") / "runs"
    rnn_run = runs_root / "seq2seq-dates" / "20260101-000000"
    rnn_run.mkdir(parents=True)
    (rnn_run / "config.toml").write_text('name = "seq2seq-dates"\ntask = "seq2seq"\n[model]\nname = "seq2seq"\n'
                                         'cell = "gru"\nunits = 128\nattention = "luong"\n')
    (rnn_run / "metrics.json").write_text(json.dumps({
        "status": "completed", "quick": True, "metrics": {"test_exact_match": 0.5, "test_character_accuracy": 0.75},
        "parameters": 12345, "epochs_run": 1, "train_seconds": 9.0}))
    result = invoke("train", "transformer-dates", "--quick", *TINY, "--runs", runs_root)
    assert result.exit_code == 0, result.output
    return next((runs_root / "transformer-dates").iterdir())


def test_run_folder_metrics_export_and_report(translator):
    record = json.loads((translator / "metrics.json").read_text())
    for key in ("test_exact_match", "test_character_accuracy", "test_edit_distance", "val_exact_match"):
        assert key in record["metrics"]
    assert record["export"]["max_abs_difference"] == 0.0  # strings compared exactly
    assert "serve(texts: string[None])" in record["export"]["signature"]
    assert (translator / "plots" / "attention.png").is_file()
    assert (translator / "plots" / "attention-heads-1.png").stat().st_size > 1000
    report = (translator / "report.md").read_text()
    assert "Translations" in report and "Every cross-attention head" in report
    assert "## Positional encoding" in report and (translator / "plots" / "positional_encoding.png").is_file()
    # The side-by-side table: this run and the GRU run of the same data.
    assert "## Side by side: translators of dates" in report
    assert "| transformer-dates (this run) | transformer 1 layers x 2 heads, width 16 |" in report
    assert "| seq2seq-dates (20260101-000000) | GRU + luong attention, 128 units | 0.5 | 0.75 | 12,345 | 1 | 9 |" \
        in report


def test_saved_model_translates_string_for_string_without_dlzoo(translator, plain_tensorflow):
    """A plain TensorFlow program, with dlzoo made unimportable, gives Python's greedy translations."""
    from dlzoo.runs import load
    from dlzoo.data import sequences  # noqa: F401  (the dates loader)
    from dlzoo.translation import serving

    model = load.load_keras_model(translator / "model.keras")
    inputs = ["6 feb 2001", "Freitag, 13. Juli 2096", "21.10.2001", "", "x☃y", "9" * 60]
    expected = serving.translate_texts(model, inputs)
    lines = plain_tensorflow(
        f"model = tf.saved_model.load({str(translator / 'saved_model')!r})\n"
        f"out = model.serve(tf.constant({inputs!r}))['translation']\n"
        "print(json.dumps([value.decode('utf-8') for value in out.numpy()]))\n"
    )
    assert json.loads(lines[-1]) == expected


def test_predict_with_beam_search_and_attention(translator):
    result = invoke("predict", translator, "6 feb 2001", "21.10.2001", "--beam", "3", "--attention")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines()]
    assert len(lines) == 2  # one translation per input (a barely trained model may write anything)
    assert (translator / "plots" / "predict-attention-1.png").is_file()
    assert (translator / "plots" / "predict-attention-heads-2.png").stat().st_size > 1000
    assert "every attention head of input 2" in result.stderr


def test_visualize_attention_draws_every_head(translator):
    result = invoke("visualize", translator, "--method", "attention", "--samples", "2")
    assert result.exit_code == 0, result.output
    assert (translator / "plots" / "attention-heads-2.png").is_file()  # -1 is the run's own picture
    report = (translator / "report.md").read_text()
    assert "Visualization: attention" in report and "every head" in report


def test_evaluate_a_transformer_translator(translator):
    result = invoke("evaluate", translator)
    assert result.exit_code == 0, result.output
    assert "test exact match" in result.output


def test_positional_tables_of_a_translator(tmp_path):
    from dlzoo.models import transformer
    from dlzoo.visualize import positional_encoding

    tables = positional_encoding.positional_tables(tiny_translator())
    assert [(name, kind) for name, kind, _ in tables] == [("source_positions", "sinusoidal"),
                                                          ("target_positions", "sinusoidal")]
    np.testing.assert_allclose(tables[0][2], transformer.sinusoidal_encoding(9, 16))
    similarity = positional_encoding.cosine_similarity(tables[0][2])
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-6)
    np.testing.assert_allclose(similarity, similarity.T, atol=1e-6)
    (tmp_path / "plots").mkdir()
    assert positional_encoding.report_section(tiny_translator(), tmp_path).stat().st_size > 1000
    assert "## Positional encoding" in (tmp_path / "sections" / "40-positional-encoding.md").read_text()

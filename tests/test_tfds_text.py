"""TFDS text sources, offline: ``tfds.testing.mock_data`` stands in for the downloaded datasets.

``MockPolicy.USE_CODE`` makes random examples from the builders' own feature specifications
(random words of the letters a-j; random labels), so no metadata, download or network is
needed. Each source trains ``--quick`` through the real CLI, exports, and the SavedModel is
called with raw strings by a Python that cannot import dlzoo.
"""

import json

import pytest

from helpers import invoke

IMDB = "tfds:imdb_reviews"
TED = "tfds:ted_hrlr_translate/pt_to_en"
# Tiny text settings: a run takes seconds on 20 mock examples per split.
TINY_TEXT = ("--set", "data.vocabulary_size=200", "--set", "data.sequence_length=16", "--set", "data.embedding_dim=8")
QUIET = ("--set", "train.verbose=0",)


@pytest.fixture(scope="module")
def mock_tfds():
    """TFDS datasets made up from the builders' code: 20 random examples per split, no network."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def only_run_folder(runs_root, recipe):
    """The one run folder of ``recipe`` under ``runs_root``."""
    folders = [path for path in (runs_root / recipe).iterdir() if path.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def train(tmp_path_factory, recipe, *options):
    """Train ``recipe --quick`` on mock data; returns the run folder."""
    runs_root = tmp_path_factory.mktemp("tfds_text") / "runs"
    result = invoke("train", recipe, "--quick", *QUIET, "--runs", runs_root, *options)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return only_run_folder(runs_root, recipe)


def call_without_dlzoo(plain_tensorflow, calls):
    """Call ``serve`` of SavedModels on strings in one Python where ``import dlzoo`` fails.

    ``calls``: ``[(saved_model folder, [texts], output name)]``; returns, per call, the output's
    dtype name, shape and values (as Python lists).
    """
    lines = plain_tensorflow(
        "answers = []\n"
        f"for folder, texts, output in {[(str(folder), list(texts), output) for folder, texts, output in calls]!r}:\n"
        "    model = tf.saved_model.load(folder)  # held: the endpoint needs its variables alive\n"
        "    value = model.serve(tf.constant(texts))[output]\n"
        "    values = [v.decode('utf-8') if isinstance(v, bytes) else v for v in value.numpy().tolist()]\n"
        "    answers.append([value.dtype.name, list(value.shape), values])\n"
        "print(json.dumps(answers))\n"
    )
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------
# imdb_reviews: strings -> classes, with the rnn and the transformer classifier


@pytest.fixture(scope="module")
def imdb_gru(mock_tfds, tmp_path_factory):
    """mnist1d-gru's settings on imdb_reviews, tiny."""
    return train(tmp_path_factory, "mnist1d-gru", "--data", IMDB, *TINY_TEXT, "--set", "model.units=8")


@pytest.fixture(scope="module")
def imdb_transformer(mock_tfds, tmp_path_factory):
    """transformer-classifier on imdb_reviews, tiny (patches of 2 words)."""
    return train(tmp_path_factory, "transformer-classifier", "--data", IMDB, *TINY_TEXT,
                 "--set", "model.model_dim=16", "--set", "model.num_heads=2", "--set", "model.feed_forward_dim=16",
                 "--set", "model.num_layers=1")


@pytest.mark.parametrize("run", ["imdb_gru", "imdb_transformer"])
def test_imdb_classifier_takes_raw_strings(run, request):
    folder = request.getfixturevalue(run)
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert 0.0 <= record["metrics"]["test_accuracy"] <= 1.0
    assert record["data"]["dataset"] == IMDB and record["data"]["classes"] == ["neg", "pos"]
    export = record["export"]
    assert "serve(inputs: string[None])" in export["signature"]
    assert export["max_abs_difference"] <= 1e-5
    assert "tf.constant([" in export["example"]
    # The classical baseline reads the same strings (TF-IDF + logistic regression).
    assert record["baselines"]["models"][0]["name"] == "TF-IDF + logistic regression"
    assert 0.0 <= record["metrics"]["baseline_best_test_accuracy"] <= 1.0


def test_imdb_model_vectorizes_inside(imdb_gru):
    """The word list is in the model (from the training split) and model.keras reloads with it."""
    from dlzoo.runs import load

    model = load.load_keras_model(imdb_gru / "model.keras")
    vectorize = model.get_layer("vectorize")
    vocabulary = vectorize.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and 3 <= len(vocabulary) <= 200
    ids = vectorize(["a b c"]).numpy()
    assert ids.shape == (1, 16)  # cut or padded to data.sequence_length
    assert model.get_layer("word_embedding").output_dim == 8
    assert model.get_layer("word_embedding").mask_zero  # the GRU skips the padding


def test_padding_mask_only_where_the_first_layer_takes_it(imdb_transformer):
    """The transformer cuts the words into patches (a Reshape), which would drop a mask with a warning."""
    from dlzoo.runs import load

    model = load.load_keras_model(imdb_transformer / "model.keras")
    assert not model.get_layer("word_embedding").mask_zero


def test_imdb_predict_prints_a_class_per_string(imdb_gru):
    result = invoke("predict", imdb_gru, "a wonderful film", "a dull film")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and all(line.split()[0] in ("neg", "pos") for line in lines)


def test_text_options_are_checked(mock_tfds, tmp_path):
    result = invoke("train", "mnist1d-gru", "--data", IMDB, "--quick", *QUIET, "--runs", tmp_path / "runs",
                    "--set", "data.sequence_length=0")
    assert result.exit_code == 2
    assert "data.sequence_length must be a whole number >= 1" in result.stderr
    assert not (tmp_path / "runs" / "mnist1d-gru").exists()  # no run folder


# ---------------------------------------------------------------------------------------------
# ted_hrlr_translate/pt_to_en: string pairs for the seq2seq translator


@pytest.fixture(scope="module")
def ted_translator(mock_tfds, tmp_path_factory):
    return train(tmp_path_factory, "seq2seq-addition", "--data", TED, "--set", "model.units=16",
                 "--set", "model.embedding_dim=8", "--set", "model.attention=none", "--set", "data.max_length=40")


def test_ted_translator_run(ted_translator):
    record = json.loads((ted_translator / "metrics.json").read_text())
    assert record["status"] == "completed" and record["data"]["dataset"] == TED
    assert 0.0 <= record["metrics"]["test_character_accuracy"] <= 1.0
    assert record["data"]["max_source_length"] <= 40  # data.max_length keeps the pairs short
    assert record["export"]["max_abs_difference"] == 0.0  # strings compared exactly
    assert "serve(texts: string[None])" in record["export"]["signature"]


def test_saved_models_answer_raw_strings_without_dlzoo(imdb_gru, imdb_transformer, ted_translator,
                                                      plain_tensorflow):
    """A plain TensorFlow program, with dlzoo unimportable, gets classes and translations of strings
    it never saw, of any length, empty or outside the vocabulary."""
    reviews = ["a wonderful film", "", "zzz " * 100, "ÉTÉ ☃ !!"]
    answers = call_without_dlzoo(plain_tensorflow, [(imdb_gru / "saved_model", reviews, "probabilities"),
                                  (imdb_transformer / "saved_model", reviews, "probabilities"),
                                  (ted_translator / "saved_model", ["obrigado", "", "olá ☃"], "translation")])
    for dtype, shape, rows in answers[:2]:
        assert (dtype, shape) == ("float32", [4, 2])
        assert all(abs(sum(row) - 1.0) < 1e-4 for row in rows)
    dtype, shape, translations = answers[2]
    assert (dtype, shape) == ("string", [3]) and all(isinstance(text, str) for text in translations)


# ---------------------------------------------------------------------------------------------
# Not downloaded and no network: one line, exit 2, no run folder


def test_missing_dataset_without_network_is_one_clear_line(tmp_path, monkeypatch):
    """The download fails as it does offline (the mock is off: this is the real builder)."""
    import tensorflow_datasets as tfds

    def unreachable(self, *args, **kwargs):
        raise ConnectionError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", unreachable)
    for recipe, dataset in (("mnist1d-gru", IMDB), ("seq2seq-addition", TED)):
        result = invoke("train", recipe, "--data", dataset, "--quick", *QUIET, "--runs", tmp_path / "runs",
                        "--set", f"data.data_dir={tmp_path / 'tfds'}")
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
        assert f"could not load {dataset}" in lines[0] and "network" in lines[0]
        assert not (tmp_path / "runs" / recipe).exists()  # no run folder


# ---------------------------------------------------------------------------------------------
# The bundles themselves


def test_bundles_hold_raw_strings(mock_tfds):
    from dlzoo import data

    reviews = data.load(IMDB, seed=0, options={"sequence_length": 50})
    texts, labels = reviews.arrays("train")
    assert reviews.input_dtype == "string" and reviews.class_names == ["neg", "pos"]
    assert all(isinstance(text, str) for text in texts) and set(labels.tolist()) <= {0, 1}
    assert reviews.text_settings["sequence_length"] == 50 and reviews.text_settings["vocabulary_size"] == 20000
    pairs = data.load(TED, seed=0, options={"max_length": 12})
    assert pairs.kind == "text" and pairs.targets == "strings"
    for split in ("train", "val", "test"):
        sources, targets = pairs.arrays(split)
        assert all(isinstance(text, str) and 0 < len(text) <= 12 for text in [*sources, *targets])
    assert 0 < pairs.sizes()["train"] < 20  # the mock's longer pairs were left out


def test_a_quick_run_reads_a_few_hundred_held_out_examples_not_the_whole_split():
    import tensorflow_datasets as tfds

    from dlzoo import data

    with tfds.testing.mock_data(num_examples=300, policy=tfds.testing.MockPolicy.USE_CODE):
        whole = data.load(IMDB, seed=0, options={})
        quick = data.load(IMDB, seed=0, options={"train_samples": 40})
    assert whole.sizes()["test"] == 300 and whole.sizes()["val"] > 64
    assert quick.sizes()["val"] == quick.sizes()["test"] == 64 and quick.sizes()["train"] <= 40


@pytest.mark.parametrize("recipe, dataset, expected", [
    ("seq2seq-addition", IMDB, "is not made of string pairs"),
    ("mnist1d-gru", TED, "is made of string pairs; use a seq2seq recipe"),
])
def test_a_text_source_for_the_wrong_task_is_a_usage_error(mock_tfds, tmp_path, recipe, dataset, expected):
    result = invoke("train", recipe, "--data", dataset, "--quick", *QUIET, "--runs", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# A TFDS text dataset as the corpus of the embed task


def test_imdb_reviews_as_an_embedding_corpus(mock_tfds, tmp_path):
    from dlzoo.data import tfds_text
    from dlzoo.data.tfds_text import TextSplits

    reviews = TextSplits("tfds:imdb_reviews", "text", ["neg", "pos"], *[None] * 6)
    reviews.x_train = ["A fine film.<br /><br />I liked it.", "<br />", "Dull"]
    corpus = tfds_text.as_corpus(reviews)
    assert corpus.lines == ["A fine film.  I liked it.", "Dull"]  # HTML breaks removed, empty reviews dropped
    assert tfds_text.as_corpus(corpus) is None  # not a TFDS text bundle
    result = invoke("train", "word2vec", "--data", IMDB, "--quick", *QUIET, "--runs", tmp_path / "runs",
                    "--set", "embed.min_count=1", "--set", "embed.embedding_dim=8",
                    "--set", "embed.subsample=0")  # 20 mock reviews: every word is "frequent"
    assert result.exit_code == 0, result.output + (result.stderr or "")
    folder = only_run_folder(tmp_path / "runs", "word2vec")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed" and record["data"]["dataset"] == IMDB
    assert (folder / "embeddings" / "vectors.tsv").is_file()

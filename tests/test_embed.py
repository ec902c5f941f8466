"""The embed task: word2vec on text, its measures, projector files, and its bad inputs."""

import json

import numpy as np
import pytest

from dlzoo.data import text
from dlzoo.tasks import embed

from helpers import QUICK, only_run, shared_run


def two_class_corpus(path, lines=1500, seed=0):
    """Fruits are eaten and tools are used: two classes of words with disjoint contexts."""
    rng = np.random.default_rng(seed)
    fruits, tools = ["apple", "pear", "plum", "peach", "mango"], ["hammer", "saw", "drill", "wrench", "chisel"]
    rows = []
    for _ in range(lines):
        if rng.random() < 0.5:
            rows.append(f"i ate a sweet ripe {rng.choice(fruits)} for lunch today")
        else:
            rows.append(f"he fixed the old shed with a heavy {rng.choice(tools)} and nails")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return fruits, tools


def test_word2vec_separates_two_word_classes(cli_run, tmp_path):
    fruits, tools = two_class_corpus(tmp_path / "corpus.txt")
    result = cli_run("train", "word2vec", "--data", f"text:{tmp_path / 'corpus.txt'}", "--epochs", "3",
                     "--set", "train.verbose=0", "--set", "embed.subsample=0.0", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", "word2vec")
    words = (folder / "embeddings" / "metadata.tsv").read_text().split("\n")[:-1]
    vectors = np.loadtxt(folder / "embeddings" / "vectors.tsv", delimiter="\t")
    assert vectors.shape == (len(words), 50) and "[UNK]" not in words and "" not in words
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {word: position for position, word in enumerate(words)}
    same = [unit[index[a]] @ unit[index[b]] for group in (fruits, tools) for a in group for b in group if a != b]
    across = [unit[index[a]] @ unit[index[b]] for a in fruits for b in tools]
    assert np.mean(same) > np.mean(across) + 0.3, (np.mean(same), np.mean(across))
    # every fruit's nearest class word is a fruit
    for fruit in fruits:
        others = [word for word in fruits + tools if word != fruit]
        assert max(others, key=lambda word: unit[index[fruit]] @ unit[index[word]]) in fruits
    # the string SavedModel was verified; predict lists neighbours
    record = json.loads((folder / "metrics.json").read_text())
    assert record["export"]["max_abs_difference"] <= 1e-4
    predicted = cli_run("predict", str(folder), "apple", "unknownword")
    assert predicted.exit_code == 0, predicted.stderr
    assert "not in the vocabulary" in predicted.output.splitlines()[1]
    # Spearman with a similarity file: fruits alike, fruit/tool unlike
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("word1\tword2\tscore\napple\tpear\t9\nplum\tpeach\t8.5\napple\thammer\t1\nsaw\tdrill\t8\n"
                     "mango\twrench\t0.5\nzebra\tapple\t3\n")
    rho = cli_run("evaluate", str(folder), "--similarity", pairs)
    assert rho.exit_code == 0, rho.stderr
    assert "on 5 of 6 pairs" in rho.output
    assert float(rho.output.split("rho ")[1].split()[0]) > 0.5


def test_grammar_corpus_has_classes_and_analogies():
    bundle = text.load_grammar(None, 0, {"num_samples": 200})
    assert len(bundle.lines) == 200 and bundle.classes["paris"] == "capital"
    assert ("france", "paris", "italy", "rome") in bundle.analogies
    assert text.grammar_sentences(50, 1) == text.grammar_sentences(50, 1) != text.grammar_sentences(50, 2)


def test_measures_on_planted_vectors():
    vocabulary = ["", "[UNK]", "a1", "a2", "b1", "b2"]
    vectors = np.array([[0, 0], [0, 0], [1, 0], [2, 0.1], [0, 1], [0.1, 2]], "float32")
    classes = {"a1": "a", "a2": "a", "b1": "b", "b2": "b"}
    assert embed.neighbour_precision(vectors, vocabulary, classes, k=1) == 1.0
    offset = np.array([[0, 0], [0, 0], [0, 0], [1, 0], [0, 1], [1, 1]], "float32")  # b2 - b1 = a2 - a1
    accuracy, count = embed.analogy_accuracy(offset, vocabulary, [("a1", "a2", "b1", "b2")])
    assert count == 1 and accuracy == 1.0


def test_quick_run_writes_projector_files_and_picture(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "word2vec", "--quick").folder
    metadata = (folder / "embeddings" / "metadata.tsv").read_text().splitlines()
    assert len(metadata) == len((folder / "embeddings" / "vectors.tsv").read_text().splitlines()) > 50
    assert (folder / "plots" / "embedding_pca.png").stat().st_size > 1000
    assert "analogy_accuracy" in json.loads((folder / "metrics.json").read_text())["metrics"]


def test_predict_lists_the_vocabulary_and_says_which_words_are_unknown(cli_run, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "word2vec", "--quick").folder  # predict only reads it
    words = (folder / "embeddings" / "metadata.tsv").read_text().split()
    assert "| split | loss | accuracy |" not in (folder / "report.md").read_text()
    listed = cli_run("predict", folder)  # no words: the vocabulary
    assert listed.exit_code == 0, listed.stderr
    header, *rows = listed.output.splitlines()
    assert header.startswith(f"{len(words)} words in the vocabulary") and "metadata.tsv" in header
    assert " ".join(rows).split(", ") == words  # every word, in the file's order
    asked = cli_run("predict", folder, "king - man + woman", "pariss", "paris - france + italy")
    assert asked.exit_code == 0, asked.stderr
    king, typo, analogy = asked.output.splitlines()
    assert "not in the vocabulary: king (" in king and "man (" in king and "woman (" in king
    assert "'dlzoo predict RUN' with no words lists them" in king and '"paris - france + italy"' in king
    assert "pariss (closest: paris" in typo
    assert "not in the vocabulary" not in analogy and len(analogy.split(": ", 1)[1].split(", ")) == 5


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"), (b"  \n\n ", "is empty"), (b"\x00\x01binary\x00", "binary"),
    (b"caf\xe9 au lait\n", "not UTF-8"),
])
def test_bad_text_files(cli_run, tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    result = cli_run("train", "word2vec", *QUICK, "--data", f"text:{path}", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "runs" / "word2vec").exists()


def test_vocabulary_smaller_than_window_or_negatives(cli_run, tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat\nthe cat sat on\n" * 5)
    result = cli_run("train", "word2vec", *QUICK, "--data", f"text:{path}", "--set", "embed.negatives=10",
                     "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "too few for a window" in result.stderr, result.stderr


def test_a_tiny_corpus_that_subsampling_would_empty_is_refused_up_front(cli_run, tmp_path):
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    lines = [" ".join(words[(line + step * 3) % 10] for step in range(6)) for line in range(5)]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines))
    result = cli_run("train", "word2vec", *QUICK, "--data", f"text:{path}", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "set embed.subsample = 0" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs" / "word2vec").exists()
    # Without subsampling the same corpus gives examples every epoch.
    vocabulary, sentences = embed.tokenize(lines, 1)
    sampler = embed.PairSampler(sentences, len(vocabulary), "skipgram", 2, 3, 0.0, 16, seed=0)
    for _ in range(3):
        center, candidates = sampler.draw()
        assert len(center) == len(candidates) > 50


def test_similarity_file_without_known_pairs(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("zebra\tyak\t5\nquark\tlepton\t7\n")
    with pytest.raises(embed.UsageError, match="none of its 2 pairs .* 0 pairs found"):
        embed.similarity_correlation(np.ones((4, 3)), ["", "[UNK]", "cat", "dog"], pairs)
    with pytest.raises(embed.UsageError, match="no such file"):
        embed.read_similarity_file(tmp_path / "missing.tsv")


def test_cbow_separates_two_word_classes(cli_run, tmp_path):
    """CBOW (the mean of the context predicts the center word) learns the same two classes."""
    fruits, tools = two_class_corpus(tmp_path / "corpus.txt")
    result = cli_run("train", "word2vec", "--data", f"text:{tmp_path / 'corpus.txt'}", "--epochs", "3",
                     "--set", "train.verbose=0", "--set", "embed.subsample=0.0", "--set", 'embed.method="cbow"',
                     "--set", "train.export=false", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", "word2vec")
    assert 'method = "cbow"' in (folder / "config.toml").read_text()
    words = (folder / "embeddings" / "metadata.tsv").read_text().split("\n")[:-1]
    vectors = np.loadtxt(folder / "embeddings" / "vectors.tsv", delimiter="\t")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {word: position for position, word in enumerate(words)}
    same = [unit[index[a]] @ unit[index[b]] for group in (fruits, tools) for a in group for b in group if a != b]
    across = [unit[index[a]] @ unit[index[b]] for a in fruits for b in tools]
    assert np.mean(same) > np.mean(across) + 0.3, (np.mean(same), np.mean(across))
    for word in fruits + tools:
        group = fruits if word in fruits else tools
        others = [other for other in fruits + tools if other != word]
        assert max(others, key=lambda other: unit[index[word]] @ unit[index[other]]) in group, word

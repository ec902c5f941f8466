"""Metrics of string predictions against references: exact match, per-character accuracy,
edit distance (Levenshtein), BLEU and character BLEU (sacrebleu's corpus BLEU, the standard
implementation, with its word tokenizer and with its character tokenizer)."""

import numpy as np


def exact_match(predictions, references):
    """Fraction of predictions equal to their reference."""
    return float(np.mean([prediction == reference for prediction, reference in zip(predictions, references)]))


def character_accuracy(predictions, references):
    """Characters right at their position, over the longer of the two strings, summed over pairs."""
    right = total = 0
    for prediction, reference in zip(predictions, references):
        right += sum(a == b for a, b in zip(prediction, reference))
        total += max(len(prediction), len(reference), 1)
    return right / total


def edit_distance(first, second):
    """Levenshtein distance: insertions, deletions and substitutions turning ``first`` into ``second``."""
    previous = list(range(len(second) + 1))
    for row, a in enumerate(first, start=1):
        current = [row]
        for column, b in enumerate(second, start=1):
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (a != b)))
        previous = current
    return previous[-1]


def mean_edit_distance(predictions, references):
    """Mean Levenshtein distance per pair."""
    return float(np.mean([edit_distance(p, r) for p, r in zip(predictions, references)]))


def bleu(predictions, references):
    """Corpus BLEU (0-100) with sacrebleu's default tokenization."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def character_bleu(predictions, references):
    """Corpus BLEU (0-100) over *character* n-grams (sacrebleu's ``tokenize="char"``): meaningful
    for one-word outputs such as "2019-04-22", where word BLEU is 0 or 100 per output."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize="char").score)


def all_metrics(predictions, references):
    """``{"exact_match", "character_accuracy", "edit_distance", "character_bleu", "examples"}``, and
    ``"bleu"`` (word BLEU) when the references are sentences (some contain a space).

    Word BLEU counts word n-grams up to 4: for one-word outputs (an ISO date, a sum) it is 0
    whatever the model does unless the output is exactly right, so it is left out there;
    ``character_bleu`` counts character n-grams and is reported for every translator.
    """
    predictions, references = [str(p) for p in predictions], [str(r) for r in references]
    result = {"exact_match": exact_match(predictions, references),
              "character_accuracy": character_accuracy(predictions, references),
              "edit_distance": mean_edit_distance(predictions, references),
              "character_bleu": character_bleu(predictions, references), "examples": len(references)}
    if any(" " in reference for reference in references):
        result["bleu"] = bleu(predictions, references)
    return result

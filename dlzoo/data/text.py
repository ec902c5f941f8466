"""Text corpora: a plain-text file (``text:<path>``) and an embedded corpus made by a grammar.

``grammar`` (the default of the ``embed`` and ``gpt-char`` recipes) is generated offline from a
small probabilistic grammar whose words have known classes and relations, so that the quality of
word vectors can be measured without the network:

* classes: animals, colours, countries, capitals, verbs in the present, verbs in the past;
* relations: capital of a country ("paris" : "france" = "rome" : "italy") and past tense
  ("walk" : "walked" = "eat" : "ate"), from which analogy questions are made.

Each sentence is one template filled with random words; a word's contexts depend on its class
(capitals are "cities", past verbs come with "yesterday") and on its own identity (a country
and its capital share their language, a verb in both tenses shares its objects), which is the
distributional signal word2vec learns from.

``text:<path>`` reads any UTF-8 file (one sentence or paragraph per line). An empty, binary or
non-UTF-8 file is a usage error. The bundle holds the text as it is: the tasks tokenize it
(``TextVectorization`` for words, a character table for the GPT).
"""

import dataclasses
import pathlib

import numpy as np

from dlzoo.core import validation
from dlzoo.data import register
from dlzoo.core.errors import UsageError

TEXT = "text"

# Country, capital, language: the capital-of relation, and a word each pair shares.
PLACES = [("france", "paris", "french"), ("italy", "rome", "italian"), ("germany", "berlin", "german"),
          ("spain", "madrid", "spanish"), ("japan", "tokyo", "japanese"), ("russia", "moscow", "russian"),
          ("greece", "athens", "greek"), ("portugal", "lisbon", "portuguese"), ("poland", "warsaw", "polish"),
          ("china", "beijing", "chinese")]
# Present, past, and the objects the verb goes with (shared by both tenses).
VERBS = [("eat", "ate", ("bread", "apples")), ("drink", "drank", ("water", "tea")),
         ("write", "wrote", ("letters", "poems")), ("sing", "sang", ("songs", "hymns")),
         ("see", "saw", ("birds", "stars")), ("take", "took", ("pills", "photos")),
         ("throw", "threw", ("stones", "balls")), ("drive", "drove", ("cars", "trucks")),
         ("wear", "wore", ("hats", "coats")), ("buy", "bought", ("shoes", "books"))]
ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "wolf", "rabbit", "goat"]
COLOURS = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple", "pink", "brown"]
PEOPLE = ["i", "we", "they", "you", "she", "he"]

TEMPLATES = [
    # (weight, template); {animal} {colour} {country} {capital} {language} {present} {past} {object} {person}
    (2, "{capital} is the capital of {country}"),
    (2, "we visited {capital} , a big city in {country}"),
    (1, "the streets of {capital} are full of people"),
    (1, "in {capital} people speak {language}"),
    (2, "{country} is a country where people speak {language}"),
    (1, "{person} travelled across {country} by train"),
    (1, "the border of {country} is long"),
    (2, "{person} saw a {animal} on the farm"),
    (1, "the {animal} grazed in the field"),
    (1, "a young {animal} sleeps near its mother"),
    (2, "{person} painted the door {colour}"),
    (1, "the sky turned {colour} at dusk"),
    (1, "her new dress is {colour}"),
    (2, "every day {person} {present} {object}"),
    (1, "tomorrow {person} will {present} {object}"),
    (2, "yesterday {person} {past} {object}"),
    (1, "last week {person} {past} {object} again"),
    (1, "{person} {past} {object} an hour ago"),
    (1, "{person} likes to {present} {object}"),
]


def word_classes():
    """``{word: class}`` of the grammar's class words (the nearest-neighbour precision uses them)."""
    classes = {}
    for country, capital, _ in PLACES:
        classes[country], classes[capital] = "country", "capital"
    for present, past, _ in VERBS:
        classes[present], classes[past] = "verb (present)", "verb (past)"
    classes.update({animal: "animal" for animal in ANIMALS})
    classes.update({colour: "colour" for colour in COLOURS})
    return classes


def analogy_questions():
    """``(a, b, c, d)`` with ``b - a + c ~ d``: "france paris italy rome", "eat ate drink drank"."""
    questions = []
    for pairs in ([(country, capital) for country, capital, _ in PLACES], [(now, then) for now, then, _ in VERBS]):
        for a, b in pairs:
            questions += [(a, b, c, d) for c, d in pairs if c != a]
    return questions


def grammar_sentences(count, seed):
    """``count`` sentences of the grammar, seeded."""
    rng = np.random.default_rng(seed)
    weights = np.array([weight for weight, _ in TEMPLATES], dtype="float64")
    chosen = rng.choice(len(TEMPLATES), size=count, p=weights / weights.sum())
    sentences = []
    for index in chosen:
        country, capital, language = PLACES[rng.integers(len(PLACES))]
        present, past, objects = VERBS[rng.integers(len(VERBS))]
        sentences.append(TEMPLATES[index][1].format(
            country=country, capital=capital, language=language, present=present, past=past,
            object=objects[rng.integers(len(objects))], animal=ANIMALS[rng.integers(len(ANIMALS))],
            colour=COLOURS[rng.integers(len(COLOURS))], person=PEOPLE[rng.integers(len(PEOPLE))]))
    return sentences


@dataclasses.dataclass
class TextBundle:
    """A text corpus: its lines, and what is known about its words (for the grammar corpus).

    ``lines`` are split into train / val / test by position (the last ``test_fraction`` of the
    lines is the test text, the ``val_fraction`` before it validation), so held-out text is text
    the model never read.
    """

    name: str
    lines: list
    classes: dict = dataclasses.field(default_factory=dict)
    analogies: list = dataclasses.field(default_factory=list)
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    kind: str = TEXT
    targets: str = "text"
    normalization: dict = None
    class_names: list = dataclasses.field(default_factory=list)

    def split_lines(self, split):
        """The lines of ``"train"``, ``"val"`` or ``"test"`` (``"all"``: every line)."""
        count = len(self.lines)
        test_start = count - int(round(count * self.test_fraction))
        val_start = test_start - int(round(count * self.val_fraction))
        ranges = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, count),
                  "all": (0, count)}
        start, stop = ranges[split]
        return self.lines[start:stop]

    def text(self, split):
        """The lines of one split joined with newlines."""
        return "\n".join(self.split_lines(split))

    def sizes(self):
        """Lines per split."""
        return {split: len(self.split_lines(split)) for split in ("train", "val", "test")}

    def input_statistics(self):
        """Text has no standardization statistics."""
        return np.zeros(1), np.ones(1)


def read_text_file(path):
    """The text of a UTF-8 file; an empty, binary or non-UTF-8 file is a usage error."""
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"text:{path}: no such file")
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise UsageError(f"text:{path} looks like a binary file (it contains NUL bytes); give a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"text:{path} is not UTF-8 text (invalid byte at position {error.start}); "
                         "convert it, e.g. iconv -t utf-8") from None
    if not text.strip():
        raise UsageError(f"text:{path} is empty")
    return text


@register("text")
def load_text(argument, seed, options):
    """A plain-text file, one line per sentence or paragraph (blank lines dropped)."""
    if not argument:
        raise UsageError("give the file of a text dataset: text:<path>")
    lines = [line.strip() for line in read_text_file(argument).splitlines() if line.strip()]
    return TextBundle(f"text:{argument}", lines, test_fraction=float(options.get("test_fraction", 0.1)),
                      val_fraction=float(options.get("val_fraction", 0.1)))


@register("grammar", options={"num_samples": (int,)})
def load_grammar(argument, seed, options):
    """The embedded grammar corpus (``num_samples`` sentences, default 20000), seeded by ``data.seed``."""
    count = validation.check_integer("data.num_samples", options.get("num_samples", 20000), minimum=100)
    if count < 10:
        raise UsageError(f"data.num_samples of the grammar corpus must be >= 10, got {count}")
    return TextBundle("grammar", grammar_sentences(count, seed), classes=word_classes(),
                      analogies=analogy_questions(), test_fraction=float(options.get("test_fraction", 0.1)),
                      val_fraction=float(options.get("val_fraction", 0.1)))

"""Generated sequence datasets (offline, seeded): the adding problem and string-to-string pairs.

==========================  =================================================================
``adding:T``                the adding problem (Hochreiter & Schmidhuber 1997): T steps of
                            (random number, marker); the target is the sum of the 2 marked numbers
``dates``                   human-readable dates in 5 locales x 3 CLDR formats -> ISO ``YYYY-MM-DD``
``numbers:<src>-<dst>``     number words between languages (``numbers:en-fr``), 0 to 999,999
``addition:D``              ``"123+45"`` -> ``"168"``, operands of up to D digits
==========================  =================================================================

The string datasets return a :class:`TextPairs` bundle: ``(source, target)`` strings per split.
Items are *held out* by construction: the pool of distinct items (dates, numbers, operand
pairs) is shuffled with the data seed and cut into train / validation / test before any
example is made, so a test date, number or sum never appears in training, whatever its format.

Reusable pieces (the transformer topic uses them too): :class:`TextPairs`,
:func:`make_date_pairs`, :func:`make_number_pairs`, :func:`make_addition_pairs`.
"""

import dataclasses
import datetime

import numpy as np

from dlzoo.data import SIGNAL, VALUES, make_splits, register
from dlzoo.core.errors import UsageError

# The CLDR locales and date formats of the `dates` dataset (Babel's names).
DATE_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES")
DATE_FORMATS = ("medium", "long", "full")
FIRST_DATE = datetime.date(1900, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)

# num2words language codes a `numbers:` spec may name.
NUMBER_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
LARGEST_NUMBER = 999_999

TEXT = "text"  # the kind of a TextPairs bundle


# ---------------------------------------------------------------------------------------------
# The adding problem


@register("adding", options={"num_samples": (int,)})
def load_adding(argument, seed, options):
    """The adding problem: inputs (T, 2) = (uniform number in [0, 1], marker 0/1), target = sum of
    the two marked numbers (one in each half of the sequence, as in Hochreiter & Schmidhuber 1997).

    Always predicting the mean (1.0) gives MSE 1/6 ~ 0.167: the baseline a network must beat,
    which it can only do by carrying the marked numbers across up to T steps.
    ``num_samples`` (default 30000) examples in all; 20% test, 10% validation.
    """
    length = parse_positive_integer("adding", argument, default=100, minimum=2)
    count = int(options.get("num_samples", 30000))
    inputs, targets = make_adding_problem(count, length, seed)
    return make_splits(f"adding:{length}", SIGNAL, [], inputs, targets, seed=seed, targets=VALUES,
                       test_fraction=float(options.get("test_fraction", 0.2)),
                       val_fraction=float(options.get("val_fraction", 0.1)))


def make_adding_problem(count, length, seed):
    """``count`` adding-problem sequences of ``length`` steps: inputs (count, length, 2), targets (count,)."""
    rng = np.random.default_rng(seed)
    numbers = rng.uniform(0.0, 1.0, size=(count, length)).astype("float32")
    markers = np.zeros((count, length), dtype="float32")
    half = length // 2
    rows = np.arange(count)
    first = rng.integers(0, half, size=count)  # one marked number in each half
    second = rng.integers(half, length, size=count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = numbers[rows, first] + numbers[rows, second]
    return np.stack([numbers, markers], axis=-1), targets.astype("float32")


def parse_positive_integer(source, argument, default, minimum=1):
    """The integer argument of ``source:N`` (``default`` when absent), or a usage error."""
    if argument is None:
        return default
    try:
        value = int(argument)
    except ValueError:
        raise UsageError(f"{source}:{argument}: the argument must be a whole number, e.g. {source}:{default}") from None
    if value < minimum:
        raise UsageError(f"{source}:{argument}: the argument must be at least {minimum}")
    return value


# ---------------------------------------------------------------------------------------------
# String pairs


@dataclasses.dataclass
class TextPairs:
    """A string-to-string dataset: ``(source, target)`` pairs per split, generated on first use.

    It offers the data-bundle interface of :class:`~dlzoo.data.splits.Splits` where it makes
    sense for strings: ``arrays(split, limit)`` gives two NumPy arrays of Python strings,
    ``sizes()`` the split sizes; ``input_statistics()`` is trivial (strings are not standardized).
    The pairs are made lazily (``generate()`` returns ``{split: (sources, targets)}``), so that
    ``dlzoo predict`` on a trained translator does not wait for the data to be regenerated.
    ``implausible(target)``, when the generator knows its outputs, says why a translation could
    not be one of them ("" when it could): ``dlzoo predict`` flags such outputs.
    """

    name: str
    generate: object
    description: str = ""
    normalization: dict = dataclasses.field(default_factory=dict)
    kind: str = TEXT
    targets: str = "strings"
    class_names: list = dataclasses.field(default_factory=list)
    input_shape: tuple = ()
    input_dtype: str = "string"
    implausible: object = None
    _pairs: dict = None

    @property
    def num_classes(self):
        """Strings have no classes."""
        return 0

    def pairs(self):
        """``{split: (sources, targets)}``, generated once."""
        if self._pairs is None:
            self._pairs = {split: (np.asarray(sources, dtype=object), np.asarray(targets, dtype=object))
                           for split, (sources, targets) in self.generate().items()}
        return self._pairs

    def arrays(self, split, limit=None):
        """``(sources, targets)`` of ``split`` (the first ``limit`` pairs when given)."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split '{split}'; choose one of: train, val, test")
        sources, targets = self.pairs()[split]
        return (sources, targets) if limit is None else (sources[:limit], targets[:limit])

    def sizes(self):
        """Number of pairs per split."""
        return {split: len(self.pairs()[split][0]) for split in ("train", "val", "test")}

    def input_statistics(self, max_examples=4096):
        """Strings are not standardized: a neutral mean and variance for the platform."""
        return np.zeros(1, dtype="float32"), np.ones(1, dtype="float32")


def quick_held_out_size(train_samples):
    """Examples kept in each held-out split when ``data.train_samples`` is set (a quick run):
    enough for every metric, few enough that evaluating (decoding, above all) stays quick."""
    return min(256, max(64, int(train_samples) // 2))


def split_sizes(options, default_train):
    """``(train, val, test)`` pair counts from ``[data]`` (``train_samples`` / ``num_samples``)."""
    train = int(options.get("train_samples") or options.get("num_samples") or default_train)
    if options.get("train_samples"):  # a quick run: small evaluation splits too
        held_out = quick_held_out_size(train)
        return train, held_out, held_out
    return train, max(200, train // 20), max(500, train // 10)


def partition_pool(pool_size, sizes, seed):
    """Indices into a pool of ``pool_size`` distinct items, cut into disjoint train/val/test parts.

    Each part draws its items *with* repetition from its own share of the pool when it asks for
    more examples than the share has items (formats differ, so repeats are still new strings).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(pool_size)
    total = sum(sizes)
    # Shares proportional to the requested counts, but at least one item each.
    shares = [max(1, int(pool_size * size / total)) if total > pool_size else size for size in sizes]
    parts, start = [], 0
    for size, share in zip(sizes, shares):
        items = order[start:start + share]
        start += share
        parts.append(items if len(items) == size else rng.choice(items, size=size, replace=len(items) < size))
    return parts


def make_date_pairs(count, indices, seed, locales=DATE_LOCALES, formats=DATE_FORMATS):
    """``count`` (formatted date, ISO date) pairs for the day numbers ``indices`` (days since 1900-01-01)."""
    from babel import dates as babel_dates

    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for day in indices[:count]:
        date = FIRST_DATE + datetime.timedelta(days=int(day))
        locale = locales[rng.integers(len(locales))]
        style = formats[rng.integers(len(formats))]
        sources.append(babel_dates.format_date(date, style, locale=locale))
        targets.append(date.isoformat())
    return sources, targets


@register("dates", options={"num_samples": (int,)})
def load_dates(argument, seed, options):
    """Human-readable dates -> ISO ``YYYY-MM-DD`` (Géron, Hands-On ML ch. 16, here multilingual).

    Sources are Babel's (CLDR) ``medium``, ``long`` and ``full`` formats in en_US, en_GB, de_DE,
    fr_FR and es_ES ("Apr 22, 2019", "22. April 2019", "lundi 22 avril 2019"), for dates from
    1900-01-01 to 2099-12-31. The days are split first, so a test date is never in training.
    ``num_samples`` training pairs (default 40000).
    """
    if argument:
        raise UsageError(f"dates takes no argument, got dates:{argument}")
    sizes = split_sizes(options, 40000)
    pool = (LAST_DATE - FIRST_DATE).days + 1

    def generate():
        parts = partition_pool(pool, sizes, seed)
        return {split: make_date_pairs(size, part, seed + offset)
                for offset, (split, size, part) in enumerate(zip(("train", "val", "test"), sizes, parts))}

    return TextPairs("dates", generate, description="dates in 5 locales and 3 formats -> ISO 8601",
                     implausible=implausible_date)


def implausible_date(text):
    """Why ``text`` is no output of the ``dates`` data: not an ISO date, or outside 1900-2099 ("" if it is one)."""
    try:
        date = datetime.date.fromisoformat(text)
    except ValueError:
        return "not a valid YYYY-MM-DD date"
    if not FIRST_DATE <= date <= LAST_DATE:
        return f"a date outside the data's {FIRST_DATE.year}-{LAST_DATE.year}"
    return ""


def parse_languages(argument):
    """``"en-fr"`` -> ``("en", "fr")``, both languages num2words knows."""
    source, _, target = (argument or "en-fr").partition("-")
    for language in (source, target):
        if language not in NUMBER_LANGUAGES:
            raise UsageError(f"numbers:{argument}: unknown language '{language}'; choose two of "
                             f"{', '.join(NUMBER_LANGUAGES)}, e.g. numbers:en-fr")
    if source == target:
        raise UsageError(f"numbers:{argument}: source and target language are the same")
    return source, target


def sample_numbers(count, seed):
    """``count`` distinct numbers 0..999,999 with as many of each length (1 to 6 digits) as possible.

    Uniform numbers would be almost all 6-digit ones; equal shares per length make the model
    see "seven", "seventy-one" and "seven hundred and one" as well as the long ones.
    """
    rng = np.random.default_rng(seed)
    ranges = [(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits) for digits in range(1, 7)]
    counts = [0] * len(ranges)
    remaining = min(count, LARGEST_NUMBER + 1)
    # Fill the lengths evenly; lengths with few numbers (one digit: 10) give their share to the others.
    while remaining > 0:
        open_lengths = [index for index, (low, high) in enumerate(ranges) if counts[index] < high - low]
        share = max(1, remaining // len(open_lengths))
        for index in open_lengths:
            low, high = ranges[index]
            added = min(share, high - low - counts[index], remaining)
            counts[index] += added
            remaining -= added
    numbers = np.concatenate([rng.choice(np.arange(low, high), size=size, replace=False)
                              for (low, high), size in zip(ranges, counts)])
    return rng.permutation(numbers)


def make_number_pairs(numbers, source_language, target_language):
    """``(words in source_language, words in target_language)`` for each number."""
    from num2words import num2words

    sources = [num2words(int(number), lang=source_language) for number in numbers]
    targets = [num2words(int(number), lang=target_language) for number in numbers]
    return sources, targets


@register("numbers", options={"num_samples": (int,)})
def load_numbers(argument, seed, options):
    """Number words translated between languages with num2words (``numbers:en-fr``: "seventy-one"
    -> "soixante et onze"), numbers 0 to 999,999.

    The numbers of the test split are never in training: only a model that learned how number
    words compose translates them. ``num_samples`` training pairs (default 20000).
    """
    source_language, target_language = parse_languages(argument)
    sizes = split_sizes(options, 20000)

    def generate():
        numbers = sample_numbers(sum(sizes), seed)
        # Small numbers (one and two digits) are few: the test split gets its share of them
        # only if there are enough; the cut is by position in a seeded permutation.
        parts = np.split(numbers[:sum(sizes)], np.cumsum(sizes)[:-1])
        return {split: make_number_pairs(part, source_language, target_language)
                for split, part in zip(("train", "val", "test"), parts)}

    name = f"numbers:{source_language}-{target_language}"
    return TextPairs(name, generate, description=f"number words {source_language} -> {target_language}")


def make_addition_pairs(pairs):
    """``("a+b", "a+b's sum")`` strings for integer operand pairs ``(a, b)``."""
    return [f"{a}+{b}" for a, b in pairs], [str(a + b) for a, b in pairs]


@register("addition", options={"num_samples": (int,)})
def load_addition(argument, seed, options):
    """``"123+45"`` -> ``"168"``: operands of up to D digits (``addition:3``; keras-io addition_rnn).

    Operand pairs are drawn without repetition and split before use: no test sum is in
    training. ``num_samples`` training pairs (default 50000, keras-io's count).
    """
    digits = parse_positive_integer("addition", argument, default=3, minimum=1)
    if digits > 9:
        raise UsageError(f"addition:{argument}: at most 9 digits")
    sizes = split_sizes(options, 50000)
    largest = 10 ** digits
    available = largest * largest

    def generate():
        rng = np.random.default_rng(seed)
        total = min(sum(sizes), available)
        # Operand lengths are drawn first (as keras-io does), so short operands are frequent too.
        codes = set()
        while len(codes) < total:
            lengths = rng.integers(1, digits + 1, size=(2 * total, 2))
            values = rng.integers(0, 10 ** lengths)
            codes.update((values[:, 0] * largest + values[:, 1]).tolist())
        codes = rng.permutation(np.array(sorted(codes))[:total] if len(codes) == total else
                                rng.choice(np.array(sorted(codes)), size=total, replace=False))
        parts = np.split(codes, np.cumsum([round(size * total / sum(sizes)) for size in sizes])[:-1])
        return {split: make_addition_pairs([(int(code) // largest, int(code) % largest) for code in part])
                for split, part in zip(("train", "val", "test"), parts)}

    return TextPairs(f"addition:{digits}", generate, description=f"sums of up to {digits}-digit numbers",
                     implausible=lambda text: implausible_sum(text, digits))


def implausible_sum(text, digits):
    """Why ``text`` is no sum of two numbers of up to ``digits`` digits ("" when it could be one)."""
    largest = 2 * (10 ** digits - 1)
    if not text.isdigit():
        return "not a whole number"
    if int(text) > largest:
        return f"larger than any sum in the data (at most {largest})"
    return ""

"""Words: splitting, crude stemming, names for fields, nodes and workflows, labels.

Everything here is deterministic and small; the decomposer, the gallery matcher and the
fill checks share it so that they agree on what a "word" is.
"""

from __future__ import annotations

import re


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of a text, as a set (for word lists kept as prose)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a an the this that these those it its them they their there then than and or but
    so of to in into on onto for from with without by as at about after before over under
    is are be been being was were will would should could can may might must shall do does
    did done have has had i me my we our you your he she his her him us please also just
    some any each every all both either neither not no yes very really quite more most less
    least much many few one two three first second next last finally afterwards workflow
    step steps node nodes agent want need like make sure using use via based given provided
    if when while until what which who whom whose how why where me"""
)

NUMBER_WORDS = {
    "one": 1,
    "once": 1,
    "two": 2,
    "twice": 2,
    "three": 3,
    "thrice": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """The lower-case words of a text, in order."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem, good enough to match 'summaries'/'summary' and 'translates'/'translate'."""
    word = word.lower().removesuffix("'s")
    for suffix, replacement in (
        ("ies", "y"),
        ("ised", "ize"),
        ("ized", "ize"),
        ("ises", "ize"),
        ("izes", "ize"),
        ("ising", "ize"),
        ("izing", "ize"),
        ("ise", "ize"),
        ("sses", "ss"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("ing", ""),
        ("es", "e"),
        ("ed", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + replacement
    return word


def content_words(text: str) -> set[str]:
    """The stems of the words that carry meaning (no stop words, no numbers)."""
    return {stem(word) for word in words(text) if word not in STOPWORDS and not word.isdigit()}


def number(text: str) -> int | None:
    """A small count written as digits or a word ('3', 'three', 'twice'), else None."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


def field_name(phrase: str, default: str = "value") -> str:
    """A state field name from words ('customer message' -> customer_message)."""
    name = "_".join(words(phrase.replace("-", " ")))
    name = re.sub(r"[^a-z0-9_]", "", name).strip("_")[:40].rstrip("_")
    if not name or not name[0].isalpha():
        name = f"{default}_{name}" if name else default
    return name


def node_id(phrase: str, default: str = "step") -> str:
    """A node id from words; node ids may not be START or END."""
    name = field_name(phrase, default)
    return name if name.upper() not in ("START", "END") else f"{name}_step"


def slug(text: str, default: str = "workflow") -> str:
    """A workflow name (lowercase letters, digits, '-')."""
    value = "-".join(words(text.replace("_", " ")))[:60].strip("-")
    return value if value and value[0].isalnum() else default


def label(name: str) -> str:
    """How a field is named in a prompt: customer_message -> Customer message."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def sentence(text: str) -> str:
    """The text with a capital first letter and a full stop."""
    text = " ".join(text.split()).strip(" ,;:")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def unique(name: str, taken: set[str] | dict[str, object]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... when it is taken."""
    if name not in taken:
        return name
    index = 2
    while f"{name}_{index}" in taken:
        index += 1
    return f"{name}_{index}"

"""Deterministic decomposition of a request in words into a plan: steps in order, the
inputs the user must supply (typed), what each step reads and writes, and a loop bound.

    plan = decompose("Summarize a text, then translate the summary to French")
    [step.node_id for step in plan.steps]  # ['summarize', 'translate']

Steps are the parts of the request joined by "then", "and then", "after that", commas,
semicolons, sentences or numbered lists. "at most N rounds/times" bounds a loop at N.
Review words make an LLM review (score and feedback); approval words, or a review by a
person, make a human approval step. Nothing here calls a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from configurable_agents.builder import lexicon
from configurable_agents.builder.text import (
    field_name,
    label,
    node_id,
    number,
    sentence,
    stem,
    unique,
    words,
)

DEFAULT_ROUNDS = 3
DEFAULT_THRESHOLD = 7
# The language's bound on max_iterations.
MAX_ROUNDS = 1000


@dataclass
class FieldSpec:
    """A state field the plan declares."""

    name: str
    type: str = "str"
    description: str = ""
    required: bool = False
    default: Any = None
    values: list[str] | None = None

    def to_data(self) -> dict[str, Any]:
        """The field as config data."""
        data: dict[str, Any] = {"type": self.type}
        if self.required:
            data["required"] = True
        if self.default is not None:
            data["default"] = self.default
        if self.values:
            data["values"] = list(self.values)
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class Step:
    """One node-to-be: its kind, the words it came from, what it reads and writes.

    ``kind`` is llm, review, approval, file_write, http_request, file_read or
    current_time. ``subject`` is the field the step works on (what a review scores, what
    an approval shows, what a save writes).
    """

    text: str
    kind: str
    verb: str
    node_id: str
    instruction: str
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    subject: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The fixed end of the instruction (output format), kept when its wording is refilled.
    tail: str = ""


@dataclass
class LoopSpec:
    """A bounded repeat: ``threshold`` is the review score to reach (None: no condition)."""

    max_iterations: int
    threshold: int | None = None
    stated: bool = True


@dataclass
class Plan:
    """What the request asks for, ready to be turned into a config."""

    request: str
    steps: list[Step]
    fields: dict[str, FieldSpec]
    loop: LoopSpec | None = None
    notes: list[str] = field(default_factory=list)
    # The request as one line without "I want a workflow that ...".
    summary: str = ""

    @property
    def inputs(self) -> list[FieldSpec]:
        """The fields the user supplies when running the workflow."""
        return [spec for spec in self.fields.values() if spec.required or spec.default is not None]


# --- splitting the request into clauses --------------------------------------------------

_PREAMBLE = re.compile(
    r"^\s*(?:please\s+)?(?:(?:i\s+(?:want|need|would like)|can you|could you|let's|lets)\s+)?"
    r"(?:(?:to\s+)?(?:create|build|make|set up|design|give me|get|write|generate)\s+)?"
    r"(?:me\s+)?(?:an?\s+|the\s+)?(?:new\s+|simple\s+|small\s+)?"
    r"(?:workflow|pipeline|agent|flow|process|automation|chain)\b\s*"
    r"(?:that|which|to|for|who|where|:|-|,)?\s*(?:will\s+|can\s+|should\s+|would\s+)?",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s+(.*\S)\s*$")
_SEPARATOR = re.compile(
    r"\s*(?:,\s*|;\s*)?\b(?:and then|and after that|after that|afterwards|and finally|"
    r"finally|then|and lastly|lastly)\b,?\s*|\s*;\s*|(?<=[a-z0-9)\"'])\.\s+(?=[A-Za-z])",
    re.IGNORECASE,
)
_LEADING = re.compile(
    r"^(?:and|also|then|first(?:ly)?|second(?:ly)?|third(?:ly)?|next|finally|lastly|please|"
    r"after that|afterwards|to|step \d+:?)\b[,:]?\s*",
    re.IGNORECASE,
)
_N = lexicon.NUMBER_PATTERN
_UNITS = r"(?:rounds?|times|iterations?|passes|tries|attempts|loops?|cycles?|revisions?)"
_BOUNDS = [
    re.compile(
        rf"[,;]?\s*(?:with\s+|for\s+|in\s+)?\b(?:at most|up to|no more than|not more than|"
        rf"a maximum of|maximum of|max(?:imum)?|limit(?:ed)? to)\s+{_N}\s*{_UNITS}?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"[,;]?\s*\b(?:repeat|loop|iterate|do)(?: this| it| that| the loop)?\s+{_N}\s+times\b",
        re.IGNORECASE,
    ),
    re.compile(rf"[,;]?\s*\b(?:for|in|over)\s+{_N}\s+{_UNITS}", re.IGNORECASE),
    re.compile(rf"[,;]?\s*\b{_N}\s+{_UNITS}\s+(?:at most|max(?:imum)?)\b", re.IGNORECASE),
]
_UNTIL = re.compile(
    r"[,;]?\s*\b(?:and\s+)?(?:repeat\s+|loop\s+|iterate\s+)?until\s+(?:it\s+is\s+|it's\s+|"
    r"the\s+score\s+is\s+|the\s+score\s+reaches\s+|it\s+scores\s+|its\s+score\s+is\s+)?"
    r"(?:(?:at least|above|over)\s+(\d+)|(\d+)\s*(?:or more|\+|or higher|/10)?|good enough|good|"
    r"great|perfect|done|ready|acceptable|approved|happy|satisfied)\b(?:\s*/\s*10)?",
    re.IGNORECASE,
)
_REPEATEDLY = re.compile(r"[,;]?\s*\b(?:in a loop|repeatedly|iteratively)\b", re.IGNORECASE)


@dataclass
class _Modifiers:
    bound: int | None = None
    threshold: int | None = None
    repeat: bool = False


def strip_modifiers(text: str) -> tuple[str, _Modifiers]:
    """The request without its loop words, and what they said."""
    found = _Modifiers()
    for pattern in _BOUNDS:
        match = pattern.search(text)
        if match:
            found.bound = number(match.group(1))
            text = text[: match.start()] + text[match.end() :]
            break
    match = _UNTIL.search(text)
    if match:
        found.repeat = True
        score = match.group(1) or match.group(2)
        found.threshold = int(score) if score else None
        text = text[: match.start()] + text[match.end() :]
    match = _REPEATEDLY.search(text)
    if match:
        found.repeat = True
        text = text[: match.start()] + text[match.end() :]
    return text, found


def _starts_with_action(text: str) -> bool:
    first = words(_LEADING.sub("", text.strip()))
    if not first:
        return False
    return lexicon.verb(first[0]) is not None or _special_kind(text) is not None


def split_clauses(text: str) -> list[str]:
    """The step clauses of a request, in order."""
    lines = [line for line in text.splitlines() if line.strip()]
    items = [match.group(1) for line in lines if (match := _ITEM.match(line))]
    if len(items) >= 2:
        parts = items
    else:
        parts = [part for part in _SEPARATOR.split(" ".join(lines)) if part and part.strip()]
    clauses: list[str] = []
    for part in parts:
        for piece in _split_commas(part):
            for clause in _split_and(piece):
                clause = _LEADING.sub("", clause.strip(" .,;:")).strip(" .,;:")
                if clause:
                    clauses.append(clause)
    return clauses


def _split_commas(text: str) -> list[str]:
    pieces: list[str] = []
    for fragment in text.split(","):
        if pieces and not _starts_with_action(fragment):
            # "as positive, negative or neutral": a list inside the step, not a new step.
            pieces[-1] += "," + fragment
        else:
            pieces.append(fragment)
    return pieces


_AND = re.compile(r"\s+(?:and|&|plus)\s+(?=(\w+))", re.IGNORECASE)


def _split_and(text: str) -> list[str]:
    lone = re.match(r"^\s*(\w+)\s+(?:and|&)\s+(\w+)\s+(.*)$", text, re.IGNORECASE)
    if lone and lexicon.verb(lone.group(1)) and lexicon.verb(lone.group(2)):
        # "summarize and translate a text to Spanish": the first verb works on the object,
        # the second on what the first produced.
        direct, pairs = _split_prepositions(lone.group(3))
        after = " ".join(f"{preposition} {phrase.strip()}" for preposition, phrase in pairs)
        return [f"{lone.group(1)} {direct.strip()}", f"{lone.group(2)} it {after}".strip()]
    pieces: list[str] = []
    rest = text
    while True:
        split = None
        for match in _AND.finditer(rest):
            left = rest[: match.start()]
            starts = lexicon.verb(match.group(1)) or match.group(1).lower() in lexicon.STEP_WORDS
            if starts and len(words(left)) >= 2:
                split = match
                break
        if split is None:
            pieces.append(rest)
            return pieces
        pieces.append(rest[: split.start()])
        rest = rest[split.end() :]


# --- one clause to one step ----------------------------------------------------------------

_URL = re.compile(r"https?://[^\s,;\"'<>]+[^\s,;.\"'<>)]")
_FILENAME = re.compile(r"\b([\w-]+(?:/[\w-]+)*\.(?:md|txt|json|csv|html|yaml|log))\b")
_SAVE = re.compile(
    r"\b(sav(?:e|es|ed|ing)|stor(?:e|es|ed|ing)|exports?|persists?|puts?|dumps?|writes?|appends?)\b",
    re.IGNORECASE,
)
_FILE = re.compile(r"\b(files?|disk|folder|workspace)\b", re.IGNORECASE)
_FETCH = re.compile(
    r"\b(fetch|download|scrape|get|load|retrieve|call|read|open|visit|check)(?:s|es|ed|ing)?\b",
    re.IGNORECASE,
)
_WEB = re.compile(r"\b(url|web ?page|website|page|site|api|endpoint|link)\b", re.IGNORECASE)
_READ = re.compile(r"\b(read|load|open)(?:s|ed|ing)?\b", re.IGNORECASE)
_TIME = re.compile(
    r"\b(current (?:date|time)|timestamp|time ?stamp|today's date|date and time|the date|"
    r"the time)\b",
    re.IGNORECASE,
)
_APPROVE = re.compile(
    r"\b(approv\w*|sign[- ]?off|signs? off|human in the loop|human review|manual review)\b",
    re.IGNORECASE,
)
_VALUES = re.compile(r"\b(?:as|into|between)\s+(?:either\s+|one of\s+)?(.+)$", re.IGNORECASE)


def _special_kind(text: str) -> str | None:
    lowered = text.lower()
    first = words(lowered)[:1]
    if _APPROVE.search(lowered):
        return "approval"
    if lexicon.HUMAN_REVIEW.search(lowered):
        return "approval"
    if _URL.search(text) or (_FETCH.search(lowered) and _WEB.search(lowered)):
        return "http_request"
    if _SAVE.search(lowered) and (_FILE.search(lowered) or _FILENAME.search(text)):
        return "file_write"
    if first and first[0] in ("save", "store", "export", "persist"):
        return "file_write"
    if _READ.search(lowered) and (_FILE.search(lowered) or _FILENAME.search(text)):
        return "file_read"
    if _TIME.search(lowered) and first and first[0] in ("add", "get", "note", "record", "stamp"):
        return "current_time"
    return None


_PARTICLES = frozenset({"up", "out", "down", "off", "over", "through", "back", "away"})


@dataclass
class _NounPhrase:
    text: str  # as written
    det: str  # indefinite | definite | pronoun | supplied | bare
    head: str  # the field-like name of the noun
    words: list[str]
    list_of: bool = False


def _noun_phrase(text: str) -> _NounPhrase | None:
    tokens = text.strip().split()
    if not tokens:
        return None
    lowered = [token.lower().strip(".,;:!?\"'()") for token in tokens]
    det = "bare"
    start = 0
    if lowered[0] in lexicon.PRONOUNS and (len(lowered) == 1 or lowered[1] in ("up", "out")):
        return _NounPhrase(tokens[0], "pronoun", "", [lowered[0]])
    if lowered[0] in lexicon.INDEFINITE:
        det, start = "indefinite", 1
    elif lowered[0] in lexicon.DEFINITE:
        det, start = "definite", 1
    body = [word for word in lowered[start:] if word]
    if any(word in lexicon.SUPPLIED for word in body[:2]):
        det = "supplied"
    list_of = False
    if len(body) >= 3 and body[0] == "list" and body[1] == "of":
        list_of, body = True, body[2:]
    skip = (
        lexicon.ADJECTIVES | lexicon.SUPPLIED | lexicon.DEFINITE | lexicon.INDEFINITE | _PARTICLES
    )
    nouns = [word for word in body if word not in skip]
    nouns = [word.removesuffix("'s") for word in nouns if not word.isdigit()]
    if not nouns:
        if det == "definite" and body == []:
            return _NounPhrase(text, "pronoun", "", lowered)
        return None
    head = nouns[-1]
    if head in lexicon.RESULT_NOUNS:
        return _NounPhrase(text, "pronoun", "", lowered)
    # "customer message" reads better as one name than "message" alone.
    if len(nouns) >= 2 and nouns[-2] not in lexicon.LANGUAGES:
        head = f"{nouns[-2]}_{nouns[-1]}" if len(nouns[-2]) > 2 else head
    return _NounPhrase(text, det, field_name(head), lowered, list_of)


def _split_prepositions(rest: str) -> tuple[str, list[tuple[str, str]]]:
    """The direct object and the (preposition, phrase) pairs that follow it."""
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(p) for p in lexicon.PREPOSITIONS) + r")\b", re.IGNORECASE
    )
    pieces = pattern.split(rest)
    direct = pieces[0]
    pairs: list[tuple[str, str]] = []
    index = 1
    while index + 1 < len(pieces):
        preposition, phrase = pieces[index].lower(), pieces[index + 1]
        if preposition == "of" and pairs:
            # "a list of notes", "the title of a book": part of the phrase before.
            pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]} of {phrase}")
        elif preposition == "of" and not pairs:
            direct = f"{direct} of {phrase}"
        else:
            pairs.append((preposition, phrase))
        index += 2
    return direct, pairs


@dataclass
class _Context:
    """What earlier steps left: the fields, who wrote what, and the last output."""

    fields: dict[str, FieldSpec]
    aliases: dict[str, str] = field(default_factory=dict)
    previous: str | None = None
    node_ids: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def input(self, phrase: _NounPhrase, purpose: str) -> str:
        """The input field a phrase names, declared on first use."""
        name = phrase.head or "text"
        existing = self.fields.get(name)
        if existing is not None and existing.required:
            return name
        if existing is not None:
            name = unique(name, self.fields)
        kind = "str"
        if phrase.list_of:
            kind = "list[str]"
        elif name in lexicon.INT_NOUNS:
            kind = "int"
        elif name in lexicon.FLOAT_NOUNS:
            kind = "float"
        self.fields[name] = FieldSpec(name, kind, purpose, required=True)
        return name

    def resolve(self, phrase: _NounPhrase | None, purpose: str) -> str:
        """The field a phrase refers to: an earlier output, or an input to declare."""
        if phrase is None or phrase.det == "pronoun":
            if self.previous:
                return self.previous
            return self.input(_NounPhrase("text", "indefinite", "text", ["text"]), purpose)
        if phrase.det in ("indefinite", "supplied", "bare"):
            if phrase.det == "bare" and self.lookup(phrase.head):
                return self.lookup(phrase.head)  # type: ignore[return-value]
            return self.input(phrase, purpose)
        found = self.lookup(phrase.head)
        if found:
            return found
        if self.previous:
            return self.previous
        return self.input(phrase, purpose)

    def lookup(self, name: str) -> str | None:
        if name in self.fields:
            return name
        if name in self.aliases:
            return self.aliases[name]
        last = name.split("_")[-1]
        for candidate in (name, last):
            for known in [*self.fields, *self.aliases]:
                if stem(known) == stem(candidate):
                    return self.aliases.get(known, known)
        return None

    def output(self, name: str, spec: FieldSpec, *aliases: str) -> str:
        name = unique(name, self.fields)
        spec.name = name
        self.fields[name] = spec
        for alias in aliases:
            if alias and alias != name:
                self.aliases[alias] = name
        return name

    def describe(self, name: str) -> str:
        """How a prompt names a field: "the summary in French", else "the <label>"."""
        spec = self.fields.get(name)
        # An input's description says what it is for ("The text to summarize"): use its name.
        text = spec.description.strip().rstrip(".") if spec and not spec.required else ""
        if text.lower().startswith("the ") and len(text) <= 60:
            return "the " + text[4:]
        return f"the {label(name).lower()}"

    def new_id(self, base: str) -> str:
        ident = unique(node_id(base), self.node_ids)
        self.node_ids.add(ident)
        return ident


def _language(rest: str) -> tuple[str, str | None, bool]:
    """The clause without "to French", the language, and whether the user supplies it."""
    match = re.search(r"\b(?:to|into|in)\s+([A-Za-z]+)\b", rest)
    while match:
        if match.group(1).lower() in lexicon.LANGUAGES:
            name = match.group(1).capitalize()
            return rest[: match.start()] + rest[match.end() :], name, False
        match = re.search(r"\b(?:to|into|in)\s+([A-Za-z]+)\b", rest[match.end() :])
    supplied = re.search(
        r"\b(?:to|into|in)\s+(?:a|an|the|any|another|the user's|a given|a chosen|the chosen)\s+"
        r"(?:\w+\s+)?language\b",
        rest,
        re.IGNORECASE,
    )
    if supplied:
        return rest[: supplied.start()] + rest[supplied.end() :], None, True
    return rest, None, False


def _rewrite(text: str, phrase: _NounPhrase | None, replacement: str) -> str:
    """The clause saying what a phrase refers to: "a text" -> "the text" (the rest of the
    phrase kept), "it" -> what it stands for; other phrases stay as written."""
    if phrase is None or phrase.det not in ("pronoun", "indefinite"):
        return text
    said = " ".join(phrase.text.split())
    if phrase.det == "indefinite":
        first, _, rest = said.partition(" ")
        if not rest:
            return text
        replacement, said = "the", first
        pattern = re.compile(
            r"(?<![\w'])" + re.escape(said) + r"(?=\s+" + re.escape(rest.split()[0]) + ")"
        )
    else:
        pattern = re.compile(r"(?<![\w'])" + re.escape(said) + r"(?![\w'])")
    return pattern.sub(replacement, text, count=1)


def parse_step(text: str, context: _Context) -> Step:
    """One clause as a step, declaring the inputs and outputs it needs in ``context``."""
    special = _special_kind(text)
    if special:
        return _special_step(special, text, context)
    tokens = text.split()
    first = tokens[0].lower().strip(".,;:")
    found = lexicon.verb(first)
    offset = 1
    if found is None and len(tokens) > 1 and first.endswith("ly"):
        # "briefly summarize ...": skip the adverb.
        found, offset = lexicon.verb(tokens[1].lower()), 2
    rest = " ".join(tokens[offset:])
    unknown_verb = found is None
    if found is None:
        base = stem(first)
        role = "create"
        phrase = _noun_phrase(_split_prepositions(rest)[0])
        if phrase is None or phrase.det in ("pronoun", "definite") or context.lookup(phrase.head):
            role = "transform"
        found = lexicon.Verb(base, role, f"{field_name(base)}_result")
        context.notes.append(
            f"I did not recognise the verb '{first}': step '{text}' asks the model to do it as written."
        )
    rest, language, language_supplied = (
        _language(rest) if found.base == "translate" else (rest, None, False)
    )
    direct_text, pairs = _split_prepositions(rest)
    direct = _noun_phrase(direct_text)
    verb_word = found.base.capitalize()
    clause = f"{verb_word} {rest}".strip()
    step = Step(
        text=text, kind="llm", verb=found.base, node_id=context.new_id(found.base), instruction=""
    )
    if unknown_verb:
        step.extra["unknown_verb"] = True
    reads: list[str] = []
    replacements: list[tuple[_NounPhrase | None, str]] = []

    def read(phrase: _NounPhrase | None, purpose: str) -> str:
        name = context.resolve(phrase, purpose)
        if name not in reads:
            reads.append(name)
        replacements.append((phrase, name))
        return name

    if found.role in ("transform", "review", "revise", "classify"):
        subject_phrase = direct
        others = pairs
        if direct is None and pairs and found.role == "transform":
            # "reply to a customer message": the object comes after a preposition.
            subject_phrase, others = _noun_phrase(pairs[0][1]), pairs[1:]
        what = subject_phrase.head if subject_phrase and subject_phrase.head else "text"
        subject = read(subject_phrase, f"The {label(what).lower()} to {found.base}")
        for preposition, phrase_text in others:
            phrase = _noun_phrase(phrase_text)
            if phrase is None or (
                preposition in ("as", "into", "between") and found.role == "classify"
            ):
                continue
            known = phrase.det != "pronoun" and context.lookup(phrase.head)
            supplied = phrase.det in ("indefinite", "supplied") and _is_placeholder(phrase, context)
            if known or supplied:
                # "for an audience", "about the summary": read it; "for the board" stays words.
                read(phrase, f"The {label(phrase.head).lower()}")
        step.subject = subject
    else:  # create
        for preposition, phrase_text in pairs:
            phrase = _noun_phrase(phrase_text)
            skipped = (
                preposition in ("in", "with", "as", "at")
                and phrase is not None
                and phrase.det != "supplied"
            )
            if phrase is None or skipped:
                continue
            if phrase.det != "supplied" and not _is_placeholder(phrase, context):
                continue  # "about a dragon": part of the instruction, not an input
            read(phrase, f"The {label(phrase.head).lower()} to {found.base} {preposition}")
        if not reads and context.previous:
            reads.append(context.previous)

    for phrase, name in replacements:
        # "a text" -> "the text"; "it" -> what it stands for ("the summary in French").
        clause = _rewrite(clause, phrase, context.describe(name))
    unnamed = not replacements or replacements[0][0] is None
    if found.role != "create" and step.subject and direct is None and unnamed:
        # "review" alone: say what is reviewed.
        clause = f"{verb_word} {context.describe(step.subject)} {rest}".strip()
    step.reads = reads

    if found.role == "review":
        step.kind = "review"
        score = context.output(
            "score", FieldSpec("score", "int", "Review score from 1 to 10"), "score"
        )
        feedback = context.output(
            "feedback",
            FieldSpec("feedback", "str", "What to improve"),
            "feedback",
            "review",
            "critique",
        )
        step.writes = [score, feedback]
        step.tail = " Give a score from 1 to 10 (10 is best) and say briefly what to improve."
        step.instruction = sentence(clause) + step.tail
        # What comes after a review is usually about the reviewed text, not the score.
        context.previous = step.subject
        return step
    if found.role == "revise":
        target = step.subject or context.previous or "draft"
        step.writes = [target]
        if "feedback" in context.fields and "feedback" not in reads:
            reads.append("feedback")
        step.instruction = sentence(clause)
        context.previous = target
        return step
    if found.role == "classify":
        values = _values(rest)
        name = (
            "sentiment" if re.search(r"sentiment|positive|negative", text, re.I) else found.output
        )
        spec = FieldSpec(name or "category", "enum" if values else "str", "", values=values or None)
        spec.description = f"One of: {', '.join(values)}" if values else "The category"
        output = context.output(name or "category", spec, "category", "label", "class")
        step.writes = [output]
        step.instruction = sentence(clause)
        if values:
            step.tail = f" Answer with one of: {', '.join(values)}."
            step.instruction = sentence(re.sub(_VALUES, "", clause).strip()) + step.tail
        context.previous = step.subject
        return step

    if found.role == "create":
        what = direct.head if direct and direct.det != "pronoun" and direct.head else found.output
        output_name = field_name(what or "result")
        description = f"The {label(output_name).lower()}"
        aliases = [found.output or "", "draft", direct.head if direct else ""]
    else:
        output_name = found.output or "result"
        if language:
            output_name = field_name(language)
        subject_label = label(step.subject or "text").lower()
        joiner = "to" if found.base in ("answer", "reply", "respond") else "of"
        description = {
            "translate": f"The {subject_label} in {language or 'the chosen language'}",
        }.get(found.base, f"The {label(output_name).lower()} {joiner} the {subject_label}")
        aliases = [found.output or "", "translation" if language else ""]
    output = context.output(output_name, FieldSpec(output_name, "str", description), *aliases)
    step.writes = [output]
    if found.base == "translate":
        if language:
            clause = f"{clause.rstrip(' .')} to {language}"
        elif language_supplied:
            language_field = context.input(
                _NounPhrase("language", "supplied", "language", ["language"]),
                "The language to translate into",
            )
            reads.append(language_field)
            clause = f"{clause.rstrip(' .')} to the language given below"
        step.tail = " Answer with the translation only."
        step.instruction = sentence(clause) + step.tail
    else:
        step.instruction = sentence(clause)
    context.previous = output
    return step


def _is_placeholder(phrase: _NounPhrase, context: _Context) -> bool:
    if phrase.det == "pronoun" or context.lookup(phrase.head):
        return True
    last = phrase.head.split("_")[-1]
    # Amounts ("a budget", "a price") are given by the user too.
    known = lexicon.PLACEHOLDERS | lexicon.INT_NOUNS | lexicon.FLOAT_NOUNS
    return phrase.head in known or last in known


def _values(rest: str) -> list[str]:
    match = _VALUES.search(rest)
    if not match:
        return []
    parts = re.split(r"\s*(?:,|\bor\b|\band\b|/)\s*", match.group(1))
    values = [field_name(part, "value") for part in parts if words(part)]
    values = list(dict.fromkeys(values))
    return values if len(values) >= 2 else []


def _special_step(kind: str, text: str, context: _Context) -> Step:
    verbs = {"approval": "approve", "file_write": "save", "http_request": "fetch"}
    verbs |= {"file_read": "read", "current_time": "timestamp"}
    step = Step(text=text, kind=kind, verb=verbs[kind], node_id="", instruction=sentence(text))
    previous = context.previous
    if kind == "approval":
        step.node_id = context.new_id("approve")
        subject = previous or context.input(
            _NounPhrase("text", "indefinite", "text", ["text"]), "The text to approve"
        )
        step.subject = subject
        step.reads = [subject]
        comment = context.output(
            "approval_comment", FieldSpec("approval_comment", "str", "The approver's comment")
        )
        step.writes = [comment]
        step.extra["message"] = f"Approve {context.describe(subject)}?\n\n{{{subject}}}"
        context.previous = subject
    elif kind == "file_write":
        step.node_id = context.new_id("save")
        subject = previous or context.input(
            _NounPhrase("text", "indefinite", "text", ["text"]), "The text to save"
        )
        filename = _FILENAME.search(text)
        step.subject = subject
        step.reads = [subject]
        step.extra["path"] = filename.group(1) if filename else f"outputs/{subject}.md"
        step.writes = [
            context.output("saved_to", FieldSpec("saved_to", "str", "Where the file was saved"))
        ]
        context.previous = subject
    elif kind == "http_request":
        step.node_id = context.new_id("fetch")
        url = _URL.search(text)
        name = unique("url", context.fields)
        context.fields[name] = FieldSpec(
            name,
            "str",
            "The address to fetch",
            required=url is None,
            default=url.group(0) if url else None,
        )
        step.reads = [name]
        output = context.output(
            "page", FieldSpec("page", "str", "The fetched page"), "page", "content"
        )
        step.writes = [output]
        context.previous = output
    elif kind == "file_read":
        step.node_id = context.new_id("read")
        filename = _FILENAME.search(text)
        if filename:
            step.extra["path"] = filename.group(1)
        else:
            path = unique("path", context.fields)
            context.fields[path] = FieldSpec(
                path, "str", "A file inside the workspace folder", required=True
            )
            step.reads = [path]
            step.extra["path"] = f"{{{path}}}"
        output = context.output(
            "file_text", FieldSpec("file_text", "str", "The text of the file"), "file", "content"
        )
        step.writes = [output]
        context.previous = output
    else:  # current_time
        step.node_id = context.new_id("timestamp")
        output = context.output("now", FieldSpec("now", "str", "The current date and time (UTC)"))
        step.writes = [output]
    return step


def new_context(
    fields: dict[str, FieldSpec] | None = None,
    previous: str | None = None,
    node_ids: set[str] | None = None,
) -> _Context:
    """A parsing context over fields and node ids that already exist (for refinement)."""
    return _Context(fields=dict(fields or {}), previous=previous, node_ids=set(node_ids or ()))


def clean_request(text: str) -> str:
    """The request without "I want a workflow that ..." and surrounding noise."""
    # Braces would be read as template fields: the rules write those themselves.
    text = " ".join(text.replace("\r", "").replace("{", "").replace("}", "").split(" "))
    stripped = _PREAMBLE.sub("", text.strip(), count=1)
    return stripped.strip() or text.strip()


def decompose(request: str) -> Plan:
    """The plan of a request in words (deterministic; no model)."""
    cleaned = clean_request(request)
    text, modifiers = strip_modifiers(cleaned)
    context = new_context()
    clauses = split_clauses(text)
    steps = [parse_step(clause, context) for clause in clauses]
    loop = None
    if modifiers.bound is not None or modifiers.repeat:
        bound = modifiers.bound if modifiers.bound is not None else DEFAULT_ROUNDS
        if modifiers.bound is None:
            context.notes.append(
                f"No limit was given for the repeat, so it stops after {bound} rounds."
            )
        elif not 1 <= bound <= MAX_ROUNDS:
            bound = min(max(bound, 1), MAX_ROUNDS)
            context.notes.append(f"A loop runs between 1 and {MAX_ROUNDS} times, so I set {bound}.")
        has_review = any(step.kind == "review" for step in steps)
        if modifiers.repeat and not has_review and any(step.kind == "llm" for step in steps):
            # "until it is good" needs someone to judge: an LLM review of the last result.
            steps.append(parse_step("review it", context))
            context.notes.append(
                "I added a review step that scores the result, to know when it is good enough."
            )
            has_review = True
        threshold = modifiers.threshold or (DEFAULT_THRESHOLD if has_review else None)
        loop = LoopSpec(bound, threshold, stated=modifiers.bound is not None)
    lines = [line for line in cleaned.splitlines() if line.strip()]
    summary = ", then ".join(clauses) if len(lines) > 1 else " ".join(cleaned.split())
    return Plan(
        request=request.strip(),
        steps=steps,
        fields=context.fields,
        loop=loop,
        notes=context.notes,
        summary=summary,
    )

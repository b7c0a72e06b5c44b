"""The words the offline decomposer knows: verbs and what each kind of step does with its
object, languages, nouns that mean numbers, and the phrases that name a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from configurable_agents.builder.text import NUMBER_WORDS, word_set


@dataclass(frozen=True)
class Verb:
    """A verb and the role of its step.

    ``role`` says what the direct object is: ``create`` (the object is what the step
    produces), ``transform`` (the object is what it works on; the answer goes to
    ``output``), ``review`` (an LLM scores it), ``revise`` (rewrites it in place),
    ``classify`` (sorts it into one of some values).
    """

    base: str
    role: str
    output: str | None = None


_TABLE: dict[str, tuple[str, str | None]] = {
    # create: the direct object is the output
    "write": ("create", "draft"),
    "draft": ("create", "draft"),
    "compose": ("create", "draft"),
    "create": ("create", "result"),
    "generate": ("create", "result"),
    "produce": ("create", "result"),
    "prepare": ("create", "result"),
    "make": ("create", "result"),
    "plan": ("create", "plan"),
    "brainstorm": ("create", "ideas"),
    "suggest": ("create", "suggestions"),
    "propose": ("create", "proposal"),
    "recommend": ("create", "recommendations"),
    "design": ("create", "design"),
    "outline": ("create", "outline"),
    "list": ("create", "items"),
    "extract": ("create", "extracted"),
    "identify": ("create", "findings"),
    "find": ("create", "findings"),
    "collect": ("create", "collected"),
    "gather": ("create", "collected"),
    "pick": ("create", "choice"),
    "select": ("create", "choice"),
    "choose": ("create", "choice"),
    # transform: the direct object is read, the answer has a fixed name
    "summarize": ("transform", "summary"),
    "summarise": ("transform", "summary"),
    "condense": ("transform", "summary"),
    "shorten": ("transform", "short_version"),
    "translate": ("transform", "translation"),
    "explain": ("transform", "explanation"),
    "describe": ("transform", "explanation"),
    "analyze": ("transform", "analysis"),
    "analyse": ("transform", "analysis"),
    "examine": ("transform", "analysis"),
    "answer": ("transform", "answer"),
    "reply": ("transform", "reply"),
    "respond": ("transform", "reply"),
    "paraphrase": ("transform", "paraphrase"),
    "rephrase": ("transform", "paraphrase"),
    "simplify": ("transform", "simplified"),
    "compare": ("transform", "comparison"),
    "format": ("transform", "formatted"),
    "convert": ("transform", "converted"),
    "correct": ("transform", "corrected"),
    "expand": ("transform", "expanded"),
    "research": ("transform", "research"),
    "estimate": ("transform", "estimate"),
    "calculate": ("transform", "result"),
    "compute": ("transform", "result"),
    "predict": ("transform", "prediction"),
    "forecast": ("transform", "forecast"),
    "rank": ("transform", "ranking"),
    "prioritize": ("transform", "priorities"),
    "critique": ("review", None),
    # review: an LLM scores the object and says what to improve
    "review": ("review", None),
    "evaluate": ("review", None),
    "assess": ("review", None),
    "grade": ("review", None),
    "score": ("review", None),
    "rate": ("review", None),
    "check": ("review", None),
    "judge": ("review", None),
    "verify": ("review", None),
    # revise: the object is rewritten in place
    "revise": ("revise", None),
    "proofread": ("revise", None),
    "rewrite": ("revise", None),
    "improve": ("revise", None),
    "edit": ("revise", None),
    "polish": ("revise", None),
    "refine": ("revise", None),
    "fix": ("revise", None),
    "update": ("revise", None),
    # classify: the answer is one of some values
    "classify": ("classify", "category"),
    "categorize": ("classify", "category"),
    "categorise": ("classify", "category"),
    "label": ("classify", "label"),
    "tag": ("classify", "tag"),
    "sort": ("classify", "category"),
    "detect": ("classify", "category"),
}


def _forms(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "ing"}
    if base.endswith("e"):
        forms |= {base + "d", base[:-1] + "ing"}
    if base.endswith(("s", "sh", "ch", "x", "z")):
        forms.add(base + "es")
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base[-1] in "tgpnm" and base[-2:-1] in "aeiou" and base[-3:-2] not in "aeiou":
        forms |= {base + base[-1] + "ed", base + base[-1] + "ing"}
    return forms


VERBS: dict[str, Verb] = {}
for _base, (_role, _output) in _TABLE.items():
    for _form in _forms(_base):
        VERBS.setdefault(_form, Verb(_base, _role, _output))
# "wrote", "made", "chose" ... irregular forms people use in past-tense descriptions.
for _form, _base in {
    "wrote": "write",
    "written": "write",
    "made": "make",
    "chose": "choose",
}.items():
    VERBS[_form] = Verb(_base, *_TABLE[_base])


# Words that start a tool or approval step ("... and save it to a file").
STEP_WORDS = word_set(
    "save store export persist fetch download scrape read load open approve get ask have wait add"
)


def verb(word: str) -> Verb | None:
    """The verb a word is a form of, or None."""
    return VERBS.get(word.lower())


LANGUAGES = word_set(
    """english french spanish german italian portuguese dutch polish swedish norwegian
    danish finnish greek turkish russian ukrainian czech hungarian romanian chinese
    mandarin cantonese japanese korean arabic hebrew hindi bengali urdu persian farsi
    thai vietnamese indonesian malay swahili latin catalan basque irish welsh"""
)

# Nouns that name a number: inputs called this way get a numeric type.
INT_NOUNS = word_set(
    "count quantity age year years days hours minutes seconds items copies pages limit"
)
FLOAT_NOUNS = word_set(
    "number amount price budget rate percentage total temperature salary cost weight score"
)

# Words that only qualify the noun after them: "a short text" is a text.
ADJECTIVES = word_set(
    """short long brief detailed simple new good nice small big few several single whole
    full final original given provided input incoming user's users customer's plain raw
    english concise clear formal informal friendly professional funny catchy witty
    one-sentence one-line two-sentence three-sentence main key important possible short-form
    long-form"""
)

INDEFINITE = frozenset({"a", "an", "some", "any", "another", "one"})
DEFINITE = frozenset(
    {"the", "this", "that", "these", "those", "its", "their", "his", "her", "our", "my", "your"}
)
PRONOUNS = frozenset({"it", "them", "this", "that", "these", "those", "everything", "both"})
# Nouns that mean "whatever the previous step produced".
RESULT_NOUNS = frozenset({"result", "results", "output", "outputs", "response"})
# "the user's question", "a given text": always something the user supplies.
SUPPLIED = frozenset({"user's", "users", "user", "given", "provided", "input", "incoming"})

PREPOSITIONS = (
    "based on",
    "according to",
    "about",
    "regarding",
    "concerning",
    "on",
    "for",
    "from",
    "to",
    "into",
    "in",
    "with",
    "by",
    "of",
    "as",
    "using",
    "against",
    "at",
)

_PERSON = (
    r"(?:a |an |the |my |our |some )?(?:human|person|people|manager|someone|somebody|colleague|"
    r"boss|editor|reviewer|team|lead|owner|me|us|user)"
)
# A review or check done by a person: a human approval step rather than an LLM review.
HUMAN_REVIEW = re.compile(
    rf"\b(?:have|ask|let|get|needs?|wait for|send it to|send to)\s+{_PERSON}\b.*\b(?:review|check|approve|look|sign)"
    rf"|\b(?:reviewed|checked|approved|signed off)\s+by\s+{_PERSON}\b"
    rf"|\b{_PERSON}\s+(?:reviews|checks|approves|signs off)\b"
    r"|\b(?:i|we)\s+(?:review|check|approve)\b"
    r"|\bmanual(?:ly)?\s+(?:review|check)|\b(?:review|check)\w*\s+(?:it\s+)?manually\b",
    re.IGNORECASE,
)

_NUMBER = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
NUMBER_PATTERN = _NUMBER

# Nouns that stand for "whatever the user gives": "write about a topic" takes the topic as
# an input, while "write about a dragon" is about dragons.
PLACEHOLDERS = word_set(
    """topic subject theme text document doc question query message email mail product
    company brand business person name customer client user url link file idea keyword
    keywords description brief notes note data article input language city country place
    location date event audience title prompt request task goal problem situation decision
    item items book movie film song job role position recipe ingredients list code snippet
    report paper essay letter review feedback complaint ticket issue draft content page
    website post tweet story transcript conversation chat speech question_text source
    words sentence paragraph statement claim argument job_description resume cv profile
    requirement requirements spec specification plan goal goals"""
)

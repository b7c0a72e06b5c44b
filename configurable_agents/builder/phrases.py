"""The request's words cut into verb phrases: tokens, where phrases start (a verb at a clause
boundary, a noun of an action, a passive), and what a phrase names (its object, where it comes
from and goes to, products, languages, listed labels). The words are tables in ``lexicon`` and
``patterns``; ``interpret`` turns the phrases into steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from configurable_agents.builder import lexicon, patterns
from configurable_agents.builder.text import field_name

BOUNDARY = frozenset(
    {
        ",",
        ";",
        "(",
        "and",
        "then",
        "to",
        "also",
        "before",
        "after",
        "finally",
        "next",
        "or",
        "plus",
        "&",
        "first",
        "lastly",
        "afterwards",
        "that",
        "which",
        "who",
        "it",
        "they",
        ":",
        "can",
        "could",
        "will",
        "would",
        "should",
        "must",
        "may",
        "might",
    }
)
# Words before a past participle that make it a step said in the passive.
PASSIVE = frozenset({"is", "are", "was", "were", "be", "been", "being", "gets", "get", "then"})
# Roles of a label that names what its branch does ("a search path", "escalation" does not:
# a router in a branch of its own router would never end).
BRANCH_ACTIONS = frozenset({"lookup", "fetch", "transform", "create", "review", "calculate"})
# Words that make a review one done by a person.
BY_PEOPLE = frozenset({"human", "manual", "person", "people", "editorial", "team"})
# Every way of saying e-mail posts to one mail address.
MAIL = dict.fromkeys(("email", "emails", "mail", "inbox", "gmail", "outlook", "smtp"), "mail")
# Words after which a noun of an action starts a step ("moves through ideation, editing").
NOMINAL_AFTER = frozenset({"through", "by", "with", "including", "includes", "plus", "via", "for"})
TOKEN = re.compile(r"https?://[^\s,;]+|[\w][\w'\-./]*[\w]|[\w]|[,;:()&]")
PUNCT = frozenset({",", ";", ":", "(", ")", "&"})
OBJECT_PRONOUNS = frozenset({"it", "them", "this", "these", "those"})
SUBJECT_DETERMINERS = frozenset({"the", "a", "an", "each", "every", "this", "our", "your", "its"})


@dataclass
class Phrase:
    """A verb and the words that follow it up to the next phrase."""

    verb: lexicon.Verb
    word: str
    tokens: list[str]  # after the verb
    sentence: str

    @property
    def text(self) -> str:
        """The phrase as written (tokens joined by spaces)."""
        return " ".join([self.word, *self.tokens])

    @property
    def lowered(self) -> list[str]:
        """The words after the verb, lower-case."""
        return [token.lower() for token in self.tokens]

    def object_tokens(self) -> list[str]:
        """The direct object: the words up to the first preposition or punctuation."""
        found: list[str] = []
        lowered = self.lowered
        for at, token in enumerate(lowered):
            if token in PUNCT or token in lexicon.PREPOSITIONS:
                break
            following = lowered[at + 1] if at + 1 < len(lowered) else ""
            if found and token in ("every", "each") and following in lexicon.TIME_WORDS:
                break  # "check my email every morning": when, not what
            found.append(token)
        return found

    def preposition_phrases(self) -> list[tuple[str, list[str]]]:
        """(preposition, words) after the object."""
        pairs: list[tuple[str, list[str]]] = []
        for token in self.lowered[len(self.object_tokens()) :]:
            if token in lexicon.PREPOSITIONS:
                pairs.append((token, []))
            elif token in PUNCT:
                continue
            elif pairs:
                pairs[-1][1].append(token)
        return pairs

    def mentions(self, words: frozenset[str], *, verb: bool = True) -> bool:
        """Whether any of ``words`` is said in the phrase (also as a part of a hyphenated
        word: "multi-file reading"); the verb itself counts unless ``verb`` is False."""
        said = [*([self.word.lower()] if verb else []), *self.lowered]
        lowered = {token.strip(".") for token in said}
        lowered |= {part for token in lowered if "-" in token for part in token.split("-")}
        return bool(lowered & words)

    def names_a_product(self) -> bool:
        """Whether the words name a product or site ("Trustpilot", "FT.com"): a service."""
        return any(is_product(token) for token in self.tokens)

    def destination_words(self) -> list[str]:
        """The words after "to", "into", "on", "via", "through" (where something goes)."""
        found: list[str] = []
        taking = False
        for token in self.tokens:
            lowered = token.lower()
            if lowered in ("and", "or"):
                continue  # "via email and Telegram": both are where it goes
            if lowered in lexicon.PREPOSITIONS or lowered == "through":
                taking = lowered in ("to", "into", "onto", "on", "via", "through", "in")
            elif taking and token not in PUNCT:
                found.append(token)
        return found

    def names_a_destination(self) -> bool:
        """Whether the words send the result to a product ("... back to Airtable")."""
        into = ""
        for token in self.tokens:
            lowered = token.lower()
            if lowered in lexicon.PREPOSITIONS:
                into = lowered
            else:
                kept = lowered in lexicon.STORAGE and (
                    into == "into" or lowered in lexicon.FILE_PLACES
                )
                sent = into in ("to", "into", "onto") and (is_product(token) or kept)
                if sent or (into in ("in", "on") and lowered in lexicon.SERVICES):
                    return True
        return False

    def makes_content(self) -> bool:
        """Whether the object is something to write ("a report"), not a record to store."""
        return any(word in lexicon.CONTENT_NOUNS for word in self.object_tokens())

    def source_words(self) -> list[str]:
        """The words that say where the object comes from: the object and what follows
        "from", "of", "in", "on" (not "to" or "into": those say where it goes)."""
        found: list[str] = []
        taking = True
        for token in self.tokens:
            lowered = token.lower()
            if lowered in lexicon.PREPOSITIONS:
                taking = lowered in ("from", "of", "in", "on", "about", "for")
            elif taking and token not in PUNCT:
                found.append(token)
        return found


def table_verb(base: str) -> lexicon.Verb:
    """The table's verb for a base form that is known to be there."""
    found = lexicon.verb(base)
    assert found is not None, base
    return found


def is_product(token: str) -> bool:
    lowered = token.lower().strip(".")
    if patterns.DOMAIN.fullmatch(token.strip(".")):
        return True
    known = lexicon.VENDORS | lexicon.LANGUAGES | lexicon.STORAGE | lexicon.PEOPLE
    if re.match(r"(?:ai|llm|gpt)-", lowered):
        return False  # "AI-enhanced", "LLM-powered": how it is made, not where it goes
    return (
        token[:1].isupper()
        and not token.isupper()
        and lowered not in known
        and lowered not in lexicon.NOT_A_NAME
        and lowered not in lexicon.ADJECTIVES
        and lexicon.verb(lowered) is None
        and lowered not in lexicon.NOUN_VERBS
    ) or lowered in lexicon.SERVICES


def holds(condition: str, mentioned: dict[str, bool]) -> bool:
    """A word of a ROLE_STEPS condition: "web", "!storage" (not mentioned), or "" (always)."""
    if not condition:
        return True
    if condition.startswith("!"):
        return not mentioned[condition[1:]]
    return mentioned[condition]


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "news")) and len(word) > 3:
        return word[:-1]
    return word


def head_noun(words: list[str]) -> str | None:
    """The field-like name of a noun phrase ("incoming Gmail messages" -> message), or
    None when it names nothing (a pronoun, a vendor, only adjectives)."""
    kept = [
        word
        for word in words
        if word not in lexicon.ADJECTIVES
        and word not in lexicon.VENDORS
        and word not in lexicon.NOT_A_NAME
        and word not in lexicon.CONDITIONS
        and word not in lexicon.LANGUAGES
        and not word.isdigit()
        # "respond politely to emails": an adverb never names what a step works on.
        and not (word.endswith("ly") and word not in lexicon.NOUNS_IN_LY)
        # "feedback collected through forms": a participle says how, not what.
        and not (word.endswith("ed") and lexicon.verb(word) is not None)
        and word not in lexicon.IRREGULAR  # "a concise written summary"
        and re.fullmatch(r"[a-z][a-z0-9-]*(?:'s)?", word)
    ]
    kept = [
        word.removesuffix("'s")
        for word in kept
        if word not in lexicon.SERVICES or word in {"email", "emails", "message"}
    ]
    if not kept:
        return None
    head = singular(kept[-1])
    if len(kept) >= 2 and kept[-2] not in lexicon.STORAGE and len(kept[-2]) > 2:
        head = f"{singular(kept[-2]) if kept[-2].endswith('ies') else kept[-2]}_{head}"
    return field_name(head)


def split_sentences(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    items = [match.group(1) for line in lines if (match := patterns.ITEM.match(line))]
    if len(items) >= 2:
        return items
    parts = [part.strip() for part in patterns.SENTENCE.split(text) if part and part.strip()]
    return [item for part in parts for item in _run_on_items(part)]


def _run_on_items(text: str) -> list[str]:
    """ "Generates book outlines Writes chapters in parallel Compiles final manuscript": a
    list whose bullets were dropped; each capitalised verb said in the third person after a
    lower-case word starts an item."""
    cuts = [
        match.start(1)
        for match in re.finditer(r"(?<=[a-z0-9)])\s+([A-Z][a-z]+s)\b", text)
        if lexicon.verb(match.group(1)) is not None
    ]
    if not cuts:
        return [text]
    bounds = [0, *cuts, len(text)]
    return [text[a:b].strip() for a, b in pairwise(bounds) if text[a:b].strip()]


def is_start(tokens: list[str], index: int) -> bool:
    found = lexicon.verb(tokens[index])
    if found is None:
        return False
    before = index - 1
    while (
        before >= 0
        and tokens[before].lower().endswith("ly")
        and tokens[before].lower() not in ("only", "early", "daily", "weekly", "monthly")
    ):
        before -= 1
    if before < 0:
        return True
    previous = tokens[before].lower()
    word = tokens[index].lower()
    following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
    if word in ("get", "gets", "got") and following.endswith("ed"):
        return False  # "gets added to a sheet": the participle is the verb
    if tokens[index][:1].isupper() and in_listed_brackets(tokens, index):
        return False  # "(Engineering, Product, Design)": a listed label, not a verb
    if (
        word.endswith("ed")
        and previous in ("or", "and")
        and before > 0
        and tokens[before - 1].lower() in lexicon.ADJECTIVES
        and lexicon.verb(tokens[before - 1]) is None
    ):
        return False  # "new or updated bug reports": an adjective
    if (
        previous == ","
        and word in lexicon.NOUN_TOO
        and following not in lexicon.DETERMINERS | OBJECT_PRONOUNS
        and in_source_list(tokens, index)
    ):
        return False  # "from surveys, support tickets": a listed source
    if previous == "," and index + 1 < len(tokens) and tokens[index + 1] in (",", "or", "and"):
        # "to a cache, search, or clarification path": a bare word between list commas,
        # among nouns, is a listed noun ("fetch, summarize, and send" lists verbs).
        after = index + 1
        while after < len(tokens) and tokens[after].lower() in (",", "or", "and"):
            after += 1
        near = [
            tokens[before - 1] if before > 0 else "",
            tokens[after] if after < len(tokens) else "",
        ]
        if all(lexicon.verb(w) is None for w in near if w):
            return False
    approving = lexicon.verb(previous)
    if word.endswith("ing") and approving is not None and approving.role == "approve":
        return True  # "approves sending the newsletter": what is approved is a step
    if previous == "to" and word.endswith("s") and word != found.base:
        return False  # "in addition to tags": an infinitive is never plural
    if word.endswith("ing") and approving is not None and approving.base in lexicon.GENERIC:
        return True  # "automates analyzing source code": the gerund is the step
    if previous == "by" and word.endswith("ing"):
        return True  # "by comparing the spreadsheets"
    participle = word.endswith(("ed", "en")) or word in lexicon.IRREGULAR
    if participle and previous in PASSIVE:
        return True  # "the data is then formatted", "is written into a sheet"
    # "AI classifies emails": a vendor is a subject only of a verb said in the third person.
    subject = previous in lexicon.VENDORS and word.endswith("s")
    # "the drafter generates output", "a Claude prompt returns one of ...": a noun phrase
    # before a verb said in the third person is its subject.
    # A verb that is also a noun ("reviews") is a verb here only when an object follows.
    objected = index + 1 < len(tokens) and tokens[index + 1].lower() in lexicon.DETERMINERS
    # "a writer drafts copy, an editor reviews tone": after a doer, it is the doer's verb.
    objected = objected or is_doer(previous)
    named = (
        word.endswith("s")
        and (found.base not in lexicon.NOUN_TOO or objected)
        and previous not in lexicon.ADJECTIVES
        and subject_before(tokens, before)
    )
    if previous in BOUNDARY or subject or named:
        if (
            previous in ("that", "which", "it", "they")
            and index + 1 < len(tokens)
            and tokens[index].lower() in lexicon.NOUN_TOO
        ):
            return False
        return not (
            previous == "to"
            and tokens[index].lower() in lexicon.NOUN_TOO
            and not tokens[index].lower().endswith("e")
        )
    return False


def _subject_start(tokens: list[str], index: int) -> int:
    """Where the clause of the verb at tokens[index] starts: at its doer's determiner when
    a doer says it ("..., an editor reviews tone": the clause before ends at the comma)."""
    if index == 0 or not is_doer(tokens[index - 1]):
        return index
    at = index - 1
    while at > 0 and index - at < 3 and tokens[at - 1].lower() not in BOUNDARY | PUNCT:
        if tokens[at - 1].lower() in lexicon.DETERMINERS:
            return at - 1
        at -= 1
    return index


def is_doer(word: str) -> bool:
    """Whether a noun names who does something: a person, or an agent noun ("writer",
    "editor", "analyst", "assistant", "bot")."""
    word = word.lower()
    if word in lexicon.PEOPLE or word in lexicon.DOERS:
        return True
    return len(word) > 4 and word.endswith(lexicon.DOER_ENDINGS) and lexicon.verb(word) is None


def in_source_list(tokens: list[str], index: int) -> bool:
    """Whether tokens[index] is listed among where something comes from ("feedback from
    surveys, tickets, reviews, and social mentions"): a source, not a step."""
    at = index - 1
    listed = False
    while at >= 0 and index - at <= 12:
        word = tokens[at].lower()
        if word == "from":
            return listed
        if word in (",", "and", "or"):
            listed = True
        elif (
            word in BOUNDARY
            or word in PUNCT
            or (lexicon.verb(word) is not None and word not in lexicon.NOUN_TOO)
        ):
            return False
        at -= 1
    return False


def in_listed_brackets(tokens: list[str], index: int) -> bool:
    """Whether tokens[index] is inside an open bracket that lists labels ("(Blog, LinkedIn,
    Research)")."""
    opened = max((i for i in range(index) if tokens[i] == "("), default=-1)
    if opened < 0 or ")" in tokens[opened:index]:
        return False
    inside = [t.lower() for t in tokens[opened + 1 :]]
    inside = inside[: inside.index(")")] if ")" in inside else inside
    return "," in inside or "or" in inside


def nominal_start(tokens: list[str], index: int) -> int | None:
    """Where a phrase said as a noun starts ("AI-based receipt matching", "sentiment
    analysis"): the index of its first modifier, or None when the noun is only an object."""
    if tokens[index].lower() not in lexicon.NOUN_VERBS or in_listed_brackets(tokens, index):
        return None
    if in_source_list(tokens, index):
        return None
    start = index
    while start > 0 and index - start < 2:
        previous = tokens[start - 1].lower()
        if previous in BOUNDARY or previous in PUNCT or previous in NOMINAL_AFTER:
            break
        found = lexicon.verb(previous)
        if (found is not None and found.role == "noise") or previous in lexicon.GENERIC:
            break
        if previous in lexicon.DETERMINERS or is_start(tokens, start - 1):
            return None
        start -= 1
    if start == 0:
        return 0
    previous = tokens[start - 1].lower()
    found = lexicon.verb(previous)
    noise = found is not None and (found.role == "noise" or found.base in lexicon.GENERIC)
    if previous in BOUNDARY or previous in PUNCT or previous in NOMINAL_AFTER or noise:
        return start
    return None


def passive_subject(tokens: list[str], at: int) -> list[str]:
    """The noun phrase before "is/are (then) <participle>", or [] when the verb is active."""
    before = at - 1
    while before >= 0 and tokens[before].lower() in ("then", "also", "automatically", "now"):
        before -= 1
    if before < 0 or tokens[before].lower() not in PASSIVE - {"then"}:
        return []
    words: list[str] = []
    index = before - 1
    while index >= 0 and len(words) < 4:
        word = tokens[index].lower()
        if word in BOUNDARY or word in PUNCT or lexicon.verb(word) is not None:
            break
        words.insert(0, tokens[index])
        index -= 1
    return words


def subject_before(tokens: list[str], end: int) -> bool:
    """Whether tokens[..end] end with a noun phrase that opens the sentence or a determiner."""
    at, seen = end, 0
    while at >= 0 and seen < 5:
        word = tokens[at].lower()
        if word in SUBJECT_DETERMINERS:
            return True
        # "a second LLM call reviews": a verb that is also a noun, after a modifier, is
        # the head of the subject's noun phrase.
        noun_head = (
            at == end
            and word in lexicon.NOUN_TOO
            and at > 0
            and tokens[at - 1].lower() not in BOUNDARY
            and tokens[at - 1].lower() not in PUNCT
            and lexicon.verb(tokens[at - 1]) is None
        )
        # "a research employee gathers": a verb right after a determiner is a modifier.
        modifier = at > 0 and tokens[at - 1].lower() in SUBJECT_DETERMINERS
        if word == ")" and "(" in tokens[:at]:
            # "a prioritization system (P0-P3) distributes": skip what is in brackets.
            at = max(i for i in range(at) if tokens[i] == "(") - 1
            continue
        if not (noun_head or modifier) and (
            word in BOUNDARY or word in PUNCT or lexicon.verb(word) is not None
        ):
            return False
        at, seen = at - 1, seen + 1
    return at < 0


def phrases_of(text: str) -> list[Phrase]:
    """The verb phrases of a sentence, in order: each starts at a verb at a clause
    boundary, or at a noun of an action ("performs sentiment analysis on feedback")."""
    tokens = TOKEN.findall(text)
    starts: list[tuple[int, int]] = []  # (first token, the verb's token)
    verbal: set[int] = set()  # the starts at a verb (the others are nouns of actions)
    for index in range(len(tokens)):
        if is_start(tokens, index):
            starts.append((_subject_start(tokens, index), index))
            verbal.add(index)
            continue
        nominal = nominal_start(tokens, index)
        if nominal is not None and (not starts or nominal > starts[-1][1]):
            if starts and nominal <= starts[-1][1]:
                continue
            starts.append((nominal, index))
    found: list[Phrase] = []
    for number_, (start, at) in enumerate(starts):
        end = starts[number_ + 1][0] if number_ + 1 < len(starts) else len(tokens)
        rest = tokens[at + 1 : end]
        while rest and rest[-1].lower() in BOUNDARY:
            rest = rest[:-1]
        if at not in verbal:
            # A noun of an action: its object follows "of"/"on", else its modifiers are.
            verb = lexicon.verb(lexicon.NOUN_VERBS[tokens[at].lower()])
            modifiers = {t.lower() for t in tokens[start:at]}
            if verb is not None and verb.role == "review" and modifiers & BY_PEOPLE:
                verb = lexicon.verb("approve")  # "human review": a person approves
            if rest and rest[0].lower() in ("of", "on", "for"):
                rest = rest[1:]
            else:
                rest = tokens[start:at] + rest
        else:
            verb = lexicon.verb(tokens[at])
            subject = passive_subject(tokens, at)
            if subject:
                # "Obvious spam is dropped": what the verb acts on is said before it.
                rest = [*subject, *rest]
        assert verb is not None
        found.append(Phrase(verb, tokens[at], rest, text))
    listed: list[Phrase] = []
    # "After the agent generates a portfolio, these analysts assess it": the comma ends the
    # opening clause; it lists nothing.
    opening = re.match(r"\s*(?:after|when|once|before|while|as soon as|if)\b[^,]*,", text, re.I)
    for phrase in found:
        items = per_item(phrase) if phrase.verb.base in lexicon.GENERIC else [phrase]
        if opening and text.find(phrase.word) < opening.end():
            items = [phrase]
        if phrase.verb.base in ("write", "draft", "compose"):
            # "writes sales emails and call scripts": each piece is written on its own.
            pieces = per_item(phrase)
            if all(set(p.lowered) & lexicon.CONTENT_NOUNS for p in pieces):
                items = pieces
        if phrase.verb.role == "fetch" and phrase.verb.base not in lexicon.WEAK:
            # "pulls receipt emails and payment transactions": each kind from where it is.
            pieces = per_item(phrase)
            if len(pieces) >= 2 and all(_names_things(p) for p in pieces):
                items = pieces
        if len(items) < 2:
            listed.append(phrase)
            continue
        for item in items:
            # "Creates meeting summaries, ClickUp tasks, and ...": each listed thing is
            # made on its own; one named with a product is made there.
            words = item.object_tokens()
            products = [t for t in item.tokens[: len(words)] if is_product(t)]
            if products and not lexicon.NOUN_VERBS.get(words[-1] if words else ""):
                rest = [t for t in item.tokens if t not in products]
                item = Phrase(item.verb, item.word, [*rest, "in", *products], item.sentence)
            listed.append(item)
    found = listed
    for index, phrase in enumerate(found):
        words = phrase.object_tokens()
        action = lexicon.NOUN_VERBS.get(words[-1]) if words else None
        # "create a response in Gmail": a record made there, not a step said as a noun.
        made_there = phrase.verb.base in ("create", "make") and phrase.names_a_destination()
        if phrase.verb.base in lexicon.GENERIC and action and not made_there:
            # "creates meeting summaries": the step summarizes the meeting.
            found[index] = Phrase(
                lexicon.verb(action) or phrase.verb,
                phrase.word,
                [t for t in phrase.tokens if t.lower() != words[-1]],
                phrase.sentence,
            )
    # "shares videos on Discord along with AI-generated summaries of them": what goes
    # along is made first, from what is shared.
    for index in range(len(found) - 1):
        tail = [t.lower() for t in found[index].tokens[-2:]]
        if tail in (["along", "with"], ["together", "with"]):
            sent, made = found[index], found[index + 1]
            sent.tokens = sent.tokens[:-2]
            made.tokens = [w for w in sent.tokens if w.lower() not in lexicon.PREPOSITIONS][
                : len(sent.object_tokens())
            ]
            found[index], found[index + 1] = made, sent
    # "scrapes and summarizes content": the first verb shares the second one's object.
    for index in range(len(found) - 1):
        if not found[index].tokens and found[index + 1].tokens:
            found[index].tokens = list(found[index + 1].tokens)
    return found


def spell_ranges(text: str) -> str:
    """ "P0-P3" -> "P0, P1, P2, P3": a range of numbered labels, spelled out."""

    def spell(match: re.Match[str]) -> str:
        prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
        if not 0 < last - first < 10:
            return match.group(0)
        return ", ".join(f"{prefix}{n}" for n in range(first, last + 1))

    return re.sub(r"\b([A-Za-z]{1,3})(\d)\s*[-\u2013]\s*\1?(\d)\b", spell, text)


def quoted_labels(text: str) -> list[str]:
    """The labels of a quoted list after a colon (': "Quote Requests," "FAQs," and "Others."')."""
    quoted = patterns.QUOTED_LIST.search(text)
    items = patterns.QUOTED.findall(quoted.group(1)) if quoted else []
    return list(dict.fromkeys(field_name(item, "value") for item in items))


def listed_labels(text: str) -> list[str]:
    """The labels a list in the words names ("as bug, feature or question", "(A, B)")."""
    text = spell_ranges(text)
    match = patterns.LABELS.search(text)
    if not match:
        return quoted_labels(text)
    parts = patterns.LIST_SEPARATOR.split(match.group("list"))
    values = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        part = re.sub(r"\b(?:etc|and so on)\b", "", part, flags=re.I).strip(" .'\"")
        # "Spam categories without writing code": the label ends at the word for labels.
        part = patterns.LABEL_NOUNS.split(part)[0]
        part = re.sub(r"^(?:an?|the|either)\s+", "", part.strip(), flags=re.I)
        words = part.split()
        if last and len(values) >= 2 and len(words) > 1 and lexicon.verb(words[0].lower()):
            continue  # "bug, feature or question and route it to ...": the next step
        if len(words) > 3 and last:
            # "noise plus a severity 1-4": the last label ends where the list's words do.
            cut = next(
                (i for i, w in enumerate(words) if w.lower() in lexicon.NOT_A_NAME | {"plus"}),
                len(words),
            )
            words = words[:cut]
            part = " ".join(words)
        if not words or len(words) > 3:
            continue
        values.append(field_name(part, "value"))
    values = list(dict.fromkeys(values))
    return values if len(values) >= 2 else []


def alternative_label(text: str) -> str:
    """A label for one alternative of a decision: its noun of an action when it ends with
    one ("flag for human review" -> review), else its verb ("send it" -> send)."""
    words = [w.lower() for w in TOKEN.findall(text)]
    said = re.search(r"\b(?:is|are)\s+(?:an?\s+)?([\w-]+)\s*$", text, re.I)
    if said:
        return field_name(said.group(1))  # "whether a task is simple or complex" -> simple
    if words and words[-1] in lexicon.NOUN_VERBS:
        return field_name(words[-1])
    found = lexicon.verb(words[0]) if words else None
    return field_name(found.base if found else (words[0] if words else "other"))


def _names_things(phrase: Phrase) -> bool:
    """Whether a listed object names things of a kind (a plural noun or a product), not a
    part of one thing ("the title")."""
    words = phrase.object_tokens()
    head = words[-1] if words else ""
    plural = head.endswith("s") and not head.endswith("ss") and singular(head) != head
    return plural or any(is_product(t) for t in phrase.tokens[: len(words)])


def per_item(phrase: Phrase) -> list[Phrase]:
    """One phrase per item of a listed object: "analyze the tone, the topics and the
    entities of a text" -> three phrases, each with the words after the list."""
    words = phrase.tokens
    if ":" in words:
        # "produces two deliverables: a concise summary of the discussion and a list of
        # action items": the things listed after the colon, each whole.
        pieces: list[list[str]] = [[]]
        listed = words[words.index(":") + 1 :]
        for at, token in enumerate(listed):
            following = listed[at + 1].lower() if at + 1 < len(listed) else ""
            # "a summary and a list of items with owners and due dates": "and" starts a
            # thing of its own only before "a", "an" or "the".
            if token == "," or (token in ("and", "&") and following in ("a", "an", "the")):
                if pieces[-1]:
                    pieces.append([])
            elif token not in ("and", "&") or pieces[-1]:
                pieces[-1].append(token)
        pieces = [piece for piece in pieces if piece]
        if len(pieces) >= 2:
            return [Phrase(phrase.verb, phrase.word, piece, phrase.sentence) for piece in pieces]
    end = next(
        (
            i
            for i, t in enumerate(words)
            # "a WordPress draft, then a person": "then" ends the list.
            if (t.lower() in lexicon.PREPOSITIONS and t.lower() not in ("and", "or"))
            or t.lower() == "then"
        ),
        len(words),
    )
    items: list[list[str]] = [[]]
    for token in words[:end]:
        if token in (",", "and", "or", "&"):
            if items[-1]:
                items.append([])
        else:
            items[-1].append(token)
    items = [item for item in items if item]
    if len(items) < 2:
        return [phrase]
    tail = words[end:]
    return [Phrase(phrase.verb, phrase.word, [*item, *tail], phrase.sentence) for item in items]


def languages_of(phrase: Phrase) -> list[str]:
    """The languages a phrase translates into ("from English to Japanese": Japanese)."""
    lowered = phrase.lowered
    return [
        word.capitalize()
        for at, word in enumerate(lowered)
        if word in lexicon.LANGUAGES and (at == 0 or lowered[at - 1] != "from")
    ]


def branch_labels(text: str) -> list[str]:
    """Labels of branches the words name outside a label list: paths ("to the approved
    path"), a quoted list after a colon, and "everything else" (other)."""
    found = [field_name(m.group(1), "value") for m in patterns.PATH_LABEL.finditer(text)]
    found += [field_name(m.group(1), "value") for m in patterns.LABEL_LED.finditer(text)]
    for match in patterns.EITHER.finditer(text):
        found += [field_name(match.group(1), "value"), field_name(match.group(2), "value")]
    found = [name for name in found if name not in lexicon.NOT_A_NAME]
    found += quoted_labels(text)
    if patterns.REST.search(text):
        found.append("other")
    return list(dict.fromkeys(found))

"""The one interpreter of the request's language: words in, a Plan out, by the tables in
``lexicon`` and ``patterns`` (no model).

    plan = interpret("Given a URL, fetch the page and summarize it")
    [(s.id, s.kind) for s in plan.steps()]  # [('fetch', 'http_request'), ('summarize', 'llm')]

How it reads: take out what is said about the whole workflow (loop bounds, "until",
"in parallel", "Given X,"), cut the rest into sentences, cut each sentence into verb
phrases (a phrase starts at a verb of the table that stands at a clause boundary), and
give each phrase the step its verb's role and its words call for: a language step, an
HTTP call, a file read or write, a calculation, an approval, a router. What a step reads
is what an earlier step wrote, or an input named after the phrase's noun. Everything the
interpreter had to assume goes into ``plan.guessed``; a guess that changes the graph also
becomes ``plan.question``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from configurable_agents.builder import cues, lexicon, patterns
from configurable_agents.builder.phrases import (
    BRANCH_ACTIONS,
    MAIL,
    TOKEN,
    Phrase,
    alternative_label,
    head_noun,
    holds,
    is_doer,
    is_product,
    languages_of,
    listed_labels,
    per_item,
    phrases_of,
    singular,
    split_sentences,
    table_verb,
)
from configurable_agents.builder.plan import (
    Block,
    Choice,
    Field,
    Loop,
    Parallel,
    Plan,
    Question,
    Route,
    Router,
    Step,
    steps_of,
)
from configurable_agents.builder.text import field_name, label, node_id, number, sentence, unique

# Where a research step searches the web when the words name no site (an HTML page of
# results that needs no key).
WEB_SEARCH = "https://html.duckduckgo.com/html/?q="
DEFAULT_ROUNDS = 3
DEFAULT_THRESHOLD = 7
MAX_ROUNDS = 1000
# The tokens after which a verb starts a new phrase.


@dataclass
class _Reader:
    """What the phrases read so far have left: the plan being built and the last output."""

    plan: Plan
    previous: str | None = None
    # The classify step the last router can choose on.
    labels_field: str | None = None
    triggered: list[str] = field(default_factory=list)
    # Label fields whose values were guessed: labels named later replace them.
    guessed_labels: set[str] = field(default_factory=set)

    # --- fields ---------------------------------------------------------------------------

    def input(self, name: str, description: str, *, kind: str = "str", guessed: bool = True) -> str:
        """An input field (declared once: a second mention reuses it, never name_2)."""
        existing = self.plan.fields.get(name)
        if existing is not None:
            return name
        if name in lexicon.INT_NOUNS:
            kind = "int"
        elif name in lexicon.FLOAT_NOUNS or name.split("_")[-1] in lexicon.FLOAT_NOUNS:
            kind = "float"
        self.plan.fields[name] = Field(name, kind, description, required=True)
        if guessed:
            self.plan.guessed.append(f"I guessed the input '{name}'")
        return name

    def output(self, name: str, spec: Field) -> str:
        """A field a step writes; a second writer gets a name of its own."""
        name = unique(name, self.plan.fields) if name in self.plan.fields else name
        spec.name = name
        self.plan.fields[name] = spec
        return name

    def step_id(self, wanted: str, detail: str | None = None) -> str:
        """A node id from the verb; a second step with the verb is told apart by what it
        works on ("analyze_topic") before it is numbered."""
        taken = self.plan.ids()
        if detail and node_id(wanted) in taken:
            wanted = f"{wanted}_{detail}"
        return unique(node_id(wanted), taken)

    def add(self, step: Step) -> Step:
        """Put a step at the end of the plan."""
        self.plan.blocks.append(step)
        return step

    def model_step(
        self, wanted_id: str, does: str, instruction: str, reads: list[str], output: str, about: str
    ) -> Step:
        """A model step, not yet placed, that reads ``reads`` and writes one text field."""
        step = Step(self.step_id(wanted_id), "llm", does, instruction, reads=list(reads))
        step.writes = [self.output(output, Field(output, "str", about))]
        return step

    def post(self, place: str, body: str, said: str) -> Step:
        """An HTTP POST of ``body`` to the address input of ``place``, not yet placed."""
        address = self.input(f"{place}_url", f"The address of {place.replace('_', ' ')}")
        step = Step(
            self.step_id(f"send_{place}"),
            "http_request",
            "send",
            sentence(said),
            reads=[body, address],
            args={"url": f"{{{address}}}", "method": "POST", "body": f"{{{body}}}"},
        )
        step.writes = [self.output("sent", Field("sent", "str", "The service's answer"))]
        return step

    def place(
        self, step: Step, output: str, description: str, *, kind: str = "str", then: str = ""
    ) -> Step:
        """Add a step that writes one field; the next step works on ``then`` (the step's
        own output when not given: a save or a send passes on what it saved or sent)."""
        step.writes = [self.output(output, Field(output, kind, description))]
        self.add(step)
        self.previous = then or step.writes[0]
        return step

    def source(self, phrase: Phrase, *, create: bool = False) -> str | None:
        """The field a phrase works on: an earlier output, a field it names, or a new input."""
        words = phrase.object_tokens()
        head = head_noun(words)
        named = [w for w in words if w not in lexicon.DETERMINERS]
        if head in lexicon.ASPECTS or (named and named[0] in lexicon.SORTED_BY):
            # "the sentiment of a review": the step reads the review; "determines the
            # intent - support, sales or general": it reads what came before.
            about = [w for p, ws in phrase.preposition_phrases() if p in ("of", "in") for w in ws]
            if about:
                words = about
                head = head_noun(words)
            elif named and named[0] in lexicon.SORTED_BY:
                words, head = [], None
        supplied = any(word in lexicon.SUPPLIED for word in words)
        pronoun = not words or words[0] in lexicon.PRONOUNS
        if head and head in self.plan.fields:
            return head
        if head in lexicon.THE_LABEL and self.labels_field:
            return self.labels_field  # "post the classification to Slack": the label given
        if head and head.split("_")[-1] in self.plan.fields:
            return head.split("_")[-1]
        if self.previous and (pronoun or not supplied or create):
            return self.previous
        if create:
            for preposition, others in phrase.preposition_phrases():
                other = head_noun(others)
                # "about a topic" is an input; "about the sea" is part of the instruction.
                given = any(word in lexicon.SUPPLIED for word in others)
                placeholder = other and other.split("_")[-1] in lexicon.PLACEHOLDERS
                about = preposition in ("about", "on", "from", "for", "of", "to", "based")
                if about and other and (placeholder or given):
                    return self.input(other, f"The {label(other).lower()}")
            return None
        if self.triggered and (pronoun or head is None):
            return self.triggered[-1]
        name = head or "text"
        return self.input(name, f"The {label(name).lower()} to {phrase.verb.base}")


def _after_product(words: list[str], product: str) -> str:
    """The word after a product's name, lower-case ("WordPress draft" -> draft)."""
    at = words.index(product)
    return words[at + 1].lower().strip(".") if at + 1 < len(words) else ""


def _names_a_kind_of_file(words: list[str], product: str) -> bool:
    """Whether a product's name only says what kind of file follows it ("Swift files",
    "Excel sheets")."""
    return _after_product(words, product) in lexicon.STORAGE


def _choices_read(match: re.Match[str]) -> str:
    """What the reader reads for the choices a person is offered: an approval, unless the
    words say one already ("a person approves it with Approve and Reject buttons")."""
    before = match.string[: match.start()]
    sentence_start = max(before.rfind(". "), before.rfind("\n"), 0)
    said = patterns.APPROVAL.search(before[sentence_start:])
    return "the choices" if said else "an approval"


def _replace_read(step: Step, old: str, new: str) -> None:
    """Make ``step`` read ``new`` where it read ``old`` (its reads, instruction, arguments)."""
    step.reads = list(dict.fromkeys(new if name == old else name for name in step.reads))
    step.instruction = step.instruction.replace(f"{{{old}}}", f"{{{new}}}")
    for key, value in step.args.items():
        if isinstance(value, str):
            step.args[key] = value.replace(f"{{{old}}}", f"{{{new}}}")
    step.node = None


def _made_for(words: list[str], product: str) -> bool:
    """Whether a product's name says what a piece of content is for ("a WordPress draft",
    "a LinkedIn post")."""
    following = _after_product(words, product)
    return singular(following) in lexicon.CONTENT_NOUNS or following in lexicon.CONTENT_NOUNS


def _clean(request: str) -> str:
    text = " ".join(request.replace("\r", "").replace("{", "").replace("}", "").split(" "))
    for pattern in patterns.PREAMBLES:
        text = pattern.sub("", text.strip(), count=1)
    return text.strip()


@dataclass
class Modifiers:
    """What a request says about repeating: a bound, a score to reach, or just "again"."""

    bound: int | None = None
    threshold: float | None = None
    repeat: bool = False


def take_loop(text: str) -> tuple[str, Modifiers]:
    """The request without its loop words ("at most 3 rounds", "until it is good"), and
    what they said."""
    found = Modifiers()
    for pattern in patterns.LOOP_BOUNDS:
        match = pattern.search(text)
        if match:
            found.bound = number(match.group(1))
            text = text[: match.start()] + text[match.end() :]
            break
    match = patterns.UNTIL.search(text)
    if match:
        found.repeat = True
        score = match.group(1) or match.group(2)
        found.threshold = float(score) if score else None
        text = text[: match.start()] + text[match.end() :]
    match = patterns.REPEATEDLY.search(text)
    if match:
        found.repeat = True
        text = text[: match.start()] + text[match.end() :]
    # "human in the loop" names a person's part, not a loop.
    if patterns.REPEAT_CUE.search(re.sub(r"\bin[- ]the[- ]loop\b", "", text, flags=re.I)):
        found.repeat = True
    return text, found


class Interpreter:
    """Reads one request (or one added phrase, for refinements) into a plan."""

    def __init__(self, plan: Plan) -> None:
        self.reader = _Reader(plan)
        # Inside a guarded branch a condition word does not guard again.
        self._guarding = False
        self._intent_fields: set[str] = set()  # the fields that say what a person wants
        self._last_fetch_sentence = ""  # where the last fetch of a `url` input was said
        # What the fetches of one list wrote ("pulls receipts and transactions"): the model
        # step after them reads them all.
        self._fetched_together: list[str] = []
        # A condition on what starts a run ("captures positive feedback") guards the first
        # step that keeps or sends it.
        self._pending_condition: str | None = None
        # Parts of a chain of arrows read already with the node before them ("condition ->
        # sales alert or nurture sequence": the alternatives are the condition's branches).
        self._read_ahead: set[str] = set()
        steps = plan.steps()
        if steps:
            last = steps[-1]
            self.reader.previous = _main_output(last, plan)

    @property
    def plan(self) -> Plan:
        """The plan being read into."""
        return self.reader.plan

    # --- phrases to steps -------------------------------------------------------------------

    def read_sentence(self, text: str) -> list[Step]:
        """Add the steps of a sentence to the plan; the steps added."""
        if text in self._read_ahead:
            return []
        for_whom = patterns.FOR_WHOM.match(text)
        if for_whom:
            text = text[for_whom.end() :]
            if not text.strip(" ."):
                return []
        led = self._label_led(text)
        if led is not None:
            return led
        otherwise = patterns.OTHERWISE.match(text)
        last = self.plan.blocks[-1] if self.plan.blocks else None
        if otherwise and isinstance(last, Router) and last.routes and not last.otherwise:
            # "if qualified, write an invitation; otherwise, write a rejection": the
            # sentence after the condition's is what the router does otherwise.
            return self._otherwise(last, text[otherwise.end() :])
        gate = patterns.APPROVED_BY_MODEL.match(text)
        judged = any(s.kind in ("review", "classify") for s in self.plan.steps())
        if gate and judged and not any(s.kind == "approval" for s in self.plan.steps()):
            # "The AI evaluates the translation. Approved content is published, while any
            # falling below standards are flagged": the model's verdict is a router.
            parts = re.split(r",?\s*\bwhile\b\s*", text, maxsplit=1)
            other = parts[1] if len(parts) > 1 else ""
            return self._guarded(phrases_of(parts[0][gate.end() :]), "approved", orelse=other)
        wants = list(patterns.WANTS.finditer(text))
        if wants:
            return self._intents(text, wants)
        decide = patterns.DECIDE.search(text)
        if decide:
            before = self.read_phrases(text[: decide.start()])
            return before + self._decide(decide) + self.read_phrases(text[decide.end() :])
        whether = patterns.WHETHER.search(text)
        if whether and " or " not in f" {whether.group('condition')} ":
            before = self.read_phrases(text[: whether.start()])
            condition, rest = _condition_and_rest(whether.group("condition"))
            rest += text[whether.end() :]
            return before + self.gate(condition) + self.read_phrases(rest)
        approval = patterns.APPROVAL.search(text)
        if approval and not patterns.APPROVAL.match(text.strip()):
            # "drafts replies for review before sending": a person approves in between.
            before = self.read_sentence(text[: approval.start()])
            after_text = text[approval.end() :]
            between = patterns.BETWEEN.search(after_text)
            if not before and (
                (between and lexicon.verb(between.group("first")))
                or patterns.DRAFTED.search(text[: approval.start()])
            ):
                # "a drafted e-mail waits for my approval", "a gate between the draft
                # and the send": a model writes what the person approves.
                before = [self._implied("draft", text[: approval.start()])]
            replying = patterns.BEFORE_REPLYING.match(after_text)
            if replying:
                # "ask before replying": the reply is written, approved, then sent.
                before.append(self._implied("draft", "a reply"))
                after_text = after_text[replying.end() :]
            step = self.approval(None)
            second = lexicon.verb(between.group("second")) if between else None
            sends: list[Step] = []
            guards = patterns.GUARDS_SEND.search(after_text) or (second and second.role == "send")
            # "before it leaves": what the person approves is sent next, unless the words
            # say how ("before sending it to Slack" makes its own send).
            guards = guards or replying
            if guards and not any(p.verb.role == "send" for p in phrases_of(after_text)):
                sends = self.send(Phrase(table_verb("send"), "send", [], text))
            return [*before, step, *sends, *self.read_sentence(after_text)]
        condition = next(
            (
                found
                for found in patterns.CONDITION.finditer(text)
                # "if we ask", "when there are many", "when uploading PDFs": about the
                # person or the time, not a condition on what the workflow holds.
                if found.group("value").lower() not in lexicon.NOT_CONDITIONS
                and not found.group("value").lower().endswith("ing")
                and not _arrival(text, found)
            ),
            None,
        )
        parallel = patterns.PARALLEL.search(text)
        text = patterns.PARALLEL.sub("", text)
        if condition and condition.start() > 0 and not patterns.ROUTE.search(text):
            # "summarize the text unless it is short": the condition guards what comes
            # before, in its own clause ("check the status, calculate usage, send alerts
            # when thresholds are breached": only the alerts).
            head = text[: condition.start()]
            cut = max(head.rfind(","), head.rfind(";"))
            unguarded: list[Step] = []
            if cut > 0 and phrases_of(head[cut + 1 :]) and phrases_of(head[:cut]):
                unguarded, head = self.read_phrases(head[:cut]), head[cut + 1 :]
            before = self.read_phrases(head, guard=condition)
            return unguarded + before + self.read_phrases(text[condition.end() :])
        if condition and condition.start() == 0:
            rest = text[condition.end() :]
            cut = re.search(r",\s*|\bthen\b\s*", rest)
            guarded = rest[cut.end() :] if cut else ""
            otherwise = patterns.OTHERWISE.search(guarded)
            orelse = guarded[otherwise.end() :] if otherwise else ""
            guarded = guarded[: otherwise.start()] if otherwise else guarded
            return self.read_phrases(guarded, guard=condition, orelse=orelse)
        if parallel:
            return self._parallel_sentence(text, parallel.start(), parallel.group(0))
        added = self.read_phrases(text)
        tokens = TOKEN.findall(text.strip(" ."))
        last = lexicon.verb(tokens[-1]) if tokens else None
        chained = re.search(r"\u2192|->", self.plan.request) is not None
        if not added and chained and not phrases_of(text) and len(tokens) <= 6:
            # "Webhook -> IF validation -> Google Sheets -> Slack": a chain of node names.
            added = self._node(text)
        triggered = any(p.verb.role == "trigger" for p in phrases_of(text))
        short = len(tokens) <= 4 and not triggered  # "Receive emails." starts a run
        if not added and short and last is not None and last.role in ("save", "send"):
            # "... → complete audit log": a step of a chain said as a noun phrase.
            added = self.read_phrase(Phrase(last, tokens[-1], tokens[:-1], text))
        return added

    def _implied(self, base: str, words: str) -> Step:
        """A model step the words imply but do not say as a verb ("a drafted e-mail"):
        its object is the content noun they name, else the text."""
        nouns = [t for t in TOKEN.findall(words.lower()) if t in lexicon.CONTENT_NOUNS]
        return self.language(Phrase(table_verb(base), base, nouns[-1:], words))

    def _decide(self, match: re.Match[str]) -> list[Step]:
        """ "decides whether to send it or flag it for review": a model step chooses one of
        the alternatives (named by their verbs), a router takes the branch."""
        reader = self.reader
        alternatives = [match.group("first"), match.group("second")]
        values = [alternative_label(text) for text in alternatives]
        decide, router = self._choice(
            f"Decide whether to {alternatives[0]} or {alternatives[1]}", values
        )
        subject = decide.reads[0]
        for value, text in zip(values, alternatives, strict=True):
            if re.search(r"\b(?:is|are)\s", f"{alternatives[0]} "):
                # "whether a task is simple or complex": each case is handled as it is.
                handle = reader.model_step(
                    f"handle_{value}",
                    "handle",
                    sentence(
                        f"Handle the {label(subject).lower()} as a {value.replace('_', ' ')} case"
                    ),
                    [subject],
                    f"{value}_result",
                    f"The {value.replace('_', ' ')} case's result",
                )
                router.routes.append(Route(value, [handle]))
                continue
            self._branch(
                router, value, f"to {text}" if lexicon.verb(text.split()[0]) is None else text
            )
        self.plan.understood.append(
            f"I made '{router.id}' a router with branches {' / '.join(values)}"
        )
        return [decide]

    def gate(self, condition: str) -> list[Step]:
        """ "determines whether an email needs a reply": a model step answers yes or no, and
        a router goes on for yes and stops for no."""
        gate, router = self._choice(f"Decide whether {condition}", ["yes", "no"])
        router.routes += [Route("yes", []), Route("no", [], stop=True)]
        self.plan.understood.append(
            f"I made '{router.id}' a router: the run goes on when {condition}, else it stops"
        )
        return [gate]

    def _node(self, text: str) -> list[Step]:
        """The step a node's name in a chain says: a trigger starts the run, a switch or an
        IF branches, code that scores or counts calculates, an AI agent is a model step (its
        bracketed job says which), a sheet or database keeps the result, a product is read
        first or posted to."""
        words = TOKEN.findall(text)
        lowered = {w.lower() for w in words}
        started = bool(self.plan.steps())
        if patterns.NODE_TRIGGER.search(text) and not started:
            return []
        if patterns.NODE_BRANCH.search(text):
            alternatives = self._next_in_chain(text)
            if alternatives:
                return self._branch_to(alternatives)
            if self.reader.labels_field:
                self.route(Phrase(table_verb("route"), "route", ["it"], text))
                return []
            rest = " ".join(w for w in words if not patterns.NODE_BRANCH.fullmatch(w))
            return self.gate(f"it passes the {rest or 'check'}".strip())
        if patterns.NODE_CODE.search(text) and re.search(
            r"scor|calcul|comput|sum|total|count", text, re.I
        ):
            return [self.calculate(Phrase(table_verb("calculate"), "calculate", words, text))]
        if patterns.NODE_MODEL.search(text):
            job = re.search(r"\(([^)]*)\)", text)
            said = job.group(1).strip().lower() if job else ""
            found = lexicon.verb(said) or lexicon.verb_of_noun(said) if said else None
            if found is None and said in lexicon.CONTENT_NOUNS:
                return [self.language(Phrase(table_verb("draft"), "draft", [said], text))]
            # "AI score": the verb said beside the model names the step.
            said_verb = next((v for w in words if (v := lexicon.verb(w)) is not None), None)
            verb = found or said_verb or table_verb("process")
            return self.read_phrase(Phrase(verb, verb.base, ["it"], text))
        if lowered & lexicon.FILE_PLACES or lowered & {"database", "postgres", "table"}:
            base = "save" if started else "read"
            return self.read_phrase(Phrase(table_verb(base), base, ["to", *words], text))
        if any(is_product(w) for w in words) or lowered & lexicon.SERVICES:
            if not started:
                return [self.fetch(Phrase(table_verb("fetch"), "fetch", words, text))]
            return self.send(Phrase(table_verb("send"), "send", ["to", *words], text))
        return []

    def _next_in_chain(self, text: str) -> list[str]:
        """The alternatives of the chain's next part after ``text`` ("-> sales alert or
        nurture sequence"), which is then read here; [] when it names none."""
        at = self.plan.request.find(text)
        after = re.split(r"\s*(?:\u2192|->)\s*", self.plan.request[at + len(text) :])
        following = after[1].strip(" .") if at >= 0 and len(after) > 1 else ""
        either = re.fullmatch(r"(?:either\s+)?([\w -]{2,40}?)\s+or\s+([\w -]{2,40})", following)
        if not either:
            return []
        self._read_ahead.add(following)
        self._read_ahead.add(following + ".")
        return [either.group(1).strip(), either.group(2).strip()]

    def _branch_to(self, alternatives: list[str]) -> list[Step]:
        """A model step chooses one of ``alternatives``; a router takes each: one that names
        something sent ("sales alert") posts it, else a model step handles it."""
        reader = self.reader
        values = [field_name(a, "value") for a in alternatives]
        choose, router = self._choice(
            f"Decide which comes next: {' or '.join(alternatives)}", values
        )
        subject = choose.reads[0]
        for value, words in zip(values, alternatives, strict=True):
            if set(words.lower().split()) & lexicon.SENT_THINGS:
                router.routes.append(
                    Route(value, [reader.post(value, subject, f"Send the {words}")])
                )
            else:
                handle = reader.model_step(
                    f"handle_{value}",
                    "handle",
                    sentence(f"Handle the {label(subject).lower()} as {words}"),
                    [subject],
                    f"{value}_result",
                    f"The {words} result",
                )
                router.routes.append(Route(value, [handle]))
        self.plan.understood.append(
            f"I made '{router.id}' a router with branches {' / '.join(values)}"
        )
        return [choose]

    def labels_from_what_follows(self, sentences: list[str]) -> None:
        """ "classified by intent ... Tasks become tasks. Customer replies update CRM
        records. Noise becomes a Friday digest.": two or more sentences in a row, each led by
        what it is about, name the labels of a classification that named none."""
        field_ = self.reader.labels_field
        if field_ is None:
            return
        # Labels guessed before ("routed to the right system") give way to these.
        if self.plan.fields[field_].values and field_ not in self.reader.guessed_labels:
            return
        led = []
        for sentence_ in sentences:
            said = patterns.LABEL_START.match(sentence_)
            if said is None or said.group(1).lower() in lexicon.NOT_A_NAME:
                break
            led.append(field_name(singular(said.group(1).lower()), "value"))
        led = list(dict.fromkeys(led))
        if len(led) >= 2:
            self.set_labels(field_, led)
            self.reader.guessed_labels.discard(field_)
            self.plan.guessed = [
                g for g in self.plan.guessed if not g.startswith("I guessed the labels")
            ]
            for block in self.plan.blocks:
                empty = isinstance(block, Router) and not any(r.steps for r in block.routes)
                if empty and block.field == field_:  # type: ignore[union-attr]
                    block.routes = []  # type: ignore[union-attr]
                    said = f"I made '{block.id}' a router with branches"
                    self.plan.understood = [
                        u for u in self.plan.understood if not u.startswith(said)
                    ]
            self.plan.understood.append(
                f"the sentences that follow name the labels {' / '.join(led)}"
            )

    def _otherwise(self, router: Router, text: str) -> list[Step]:
        """The steps of ``text`` as what ``router`` does when no route is taken."""
        first = next((r.steps[0] for r in router.routes if r.steps), None)
        self.reader.previous = first.reads[0] if first and first.reads else self.reader.previous
        start = len(self.plan.blocks)
        for phrase in phrases_of(text):
            self.read_phrase(phrase)
        router.otherwise = [b for b in self.plan.blocks[start:] if isinstance(b, Step)]
        del self.plan.blocks[start:]
        if router.otherwise:
            self.plan.understood.append(
                f"'{router.id}' otherwise → {', '.join(s.id for s in router.otherwise)}"
            )
        return []

    def _choice(self, instruction: str, values: list[str]) -> tuple[Step, Router]:
        """A model step that answers with one of ``values`` about what came before, and the
        router on its answer."""
        reader = self.reader
        subject = reader.previous or reader.input("text", "What to decide about")
        step = Step(
            reader.step_id("decide"),
            "classify",
            "decide",
            sentence(instruction) + f" Answer with one of: {', '.join(values)}.",
            reads=[subject],
        )
        spec = Field("decision", "enum", f"One of: {', '.join(values)}", values=values)
        step.writes = [reader.output("decision", spec)]
        reader.add(step)
        reader.previous = subject
        return step, self._router_for(step.writes[0])

    def heads_a_branch(self, text: str) -> bool:
        """Whether a text starts with a label of the last classification and a colon."""
        field_ = self.reader.labels_field
        values = self.plan.fields[field_].values if field_ else None
        said = _led_by(text, values) if values else None
        return said is not None and ":" in TOKEN.findall(text)[: said[1] + 1]

    def _label_led(self, text: str) -> list[Step] | None:
        """ "Bugs become Linear issues. Questions get a Slack reply.": a sentence that
        starts with a label of the last classification is that label's branch."""
        field_ = self.reader.labels_field
        values = self.plan.fields[field_].values if field_ else None
        if not values or not field_:
            return None
        # "Invoices go to a Google Sheet, support emails are posted to Slack, others are
        # ignored": one branch per part when every part starts with a label.
        parts = [p for p in re.split(r",\s*(?:and\s+|while\s+)?|;\s*", text) if p.strip()]
        led = [_led_by(part, values) for part in parts]
        if len(parts) < 2 or None in led:
            parts, led = [text], [_led_by(text, values)]
        if led[0] is None:
            return None
        router = self._router_for(field_)
        for value in values:
            if not any(route.value == value for route in router.routes):
                router.routes.append(Route(value, []))
        for part, (said, size) in zip(parts, led, strict=True):  # type: ignore[misc]
            rest = " ".join(TOKEN.findall(part)[size:])
            if patterns.DROPPED.fullmatch(rest.strip(" .")):
                next(r for r in router.routes if r.value == said).stop = True
                continue
            self._branch(router, said, rest)
        return []

    def _parallel_sentence(self, text: str, at: int, cue: str = "") -> list[Step]:
        """ "A and B in parallel, then C": the phrases before the cue run at once (one
        phrase over a list, "analyze the sentiment, the topics and the entities", runs
        once per item); those after it come after the join."""
        phrases = phrases_of(text[:at]) or phrases_of(text)
        rest = phrases_of(text[at:]) if phrases_of(text[:at]) else []
        added: list[Step] = []
        prior: list[Step] = []
        if len(phrases) >= 2 and re.match(r"\W*each\b", cue, re.I):
            # "breaks the topic into subtopics, researches each of them": only the phrase
            # that says "each" runs at once, once per item; the ones before come first.
            for phrase in phrases[:-1]:
                prior += self.read_phrase(phrase)
            phrases = phrases[-1:]
        if len(phrases) == 1:
            phrases = per_item(phrases[0])
        before = self.reader.previous
        for phrase in phrases:
            # Every branch works on what came before the group, not on another branch.
            self.reader.previous = before or self.reader.previous
            added += self.read_phrase(phrase)
        self._make_parallel(added)
        for phrase in rest:
            added += self.read_phrase(phrase)
        return prior + added

    def read_phrases(
        self, text: str, guard: re.Match[str] | None = None, orelse: str = ""
    ) -> list[Step]:
        """The steps of the verb phrases of ``text``, under a condition when ``guard``."""
        phrases = phrases_of(text)
        if guard is not None:
            negative = guard.group("word").lower() == "unless" or " not " in guard.group(0).lower()
            subject = guard.group("subject") or ""
            # "when thresholds are breached": the check asks it in the words' own terms.
            said = guard.group(0)[len(guard.group("word")) :].strip() if subject else None
            if subject.lower() in ("it", "they"):
                said = None
            return self._guarded(
                phrases, guard.group("value"), negative=negative, orelse=orelse, said=said
            )
        added: list[Step] = []
        last: Phrase | None = None
        before = self.reader.previous
        for phrase in phrases:
            same = last is not None and (phrase.word, phrase.sentence) == (last.word, last.sentence)
            if same and phrase.verb.base in ("write", "draft", "compose"):
                # "writes sales emails and call scripts": each piece from the same source.
                self.reader.previous = before
            else:
                before = self.reader.previous
            last = phrase
            optional = re.search(rf"\boptionally\s+{re.escape(phrase.word)}\b", text, re.I)
            if optional and not self._guarding:
                # "optionally ingests an uploaded file": only when there is one.
                added += self._guarded([phrase], "provided")
                continue
            added += self.read_phrase(phrase)
        return added

    def read_phrase(self, phrase: Phrase) -> list[Step]:
        """The steps one phrase makes (none for noise and triggers): the first row of
        ``lexicon.ROLE_STEPS`` for the verb's role whose condition the words meet."""
        mentioned = {
            # "search for hotels" is not on the web; "search the web" is.
            "web": phrase.mentions(lexicon.WEB, verb=phrase.verb.role != "lookup")
            or bool(patterns.URL.search(phrase.text)),
            "service": phrase.mentions(lexicon.SERVICES | lexicon.CHANNELS)
            or phrase.names_a_product(),
            "storage": phrase.mentions(lexicon.STORAGE)
            or bool(patterns.FILENAME.search(phrase.text)),
            "strong": phrase.verb.base not in lexicon.WEAK,
            "labels": bool(listed_labels(phrase.text)),
            "destination": phrase.names_a_destination(),
            "content": phrase.makes_content(),
            "model": phrase.mentions(lexicon.MODELS),
            "bare": not phrase.tokens,
            # "finds the open PRs in a repository, reads the diff of each": from there too.
            "fetched": any(
                s.kind == "http_request" and s.args.get("method") == "GET"
                for s in self.plan.steps()
            ),
            # "generates a PDF using Gotenberg": a named service makes it.
            "by_service": any(
                p in ("using", "via") and any(is_product(w) for w in words)
                for p, words in phrase.preposition_phrases()
            ),
            "file": phrase.mentions(frozenset({"file", "files"}))
            or bool(patterns.FILENAME.search(phrase.text))
            or any(re.fullmatch(r"\.\w{2,4}", t) for t in phrase.tokens),
            "notice": phrase.verb.base in ("notify", "alert", "remind", "inform")
            and bool(set(phrase.object_tokens()) & (lexicon.PEOPLE | lexicon.RECIPIENTS))
            and any(p in ("about", "of") for p, _ in phrase.preposition_phrases()),
        }
        approval = patterns.APPROVAL.search(phrase.text)
        if approval and approval.start() == 0:
            return [self.approval(phrase)]
        # "... and gets added to a sheet": what is done to the person is the workflow's.
        passive = phrase.word.lower().endswith("ed") or bool(
            re.search(rf"\b{re.escape(phrase.word)}\s+\w+ed\b", phrase.sentence)
        )
        person = _person_subject(phrase.sentence, phrase.word) and not passive
        purpose = phrase.verb.base in ("design", "build", "create", "make") and re.search(
            rf"\b(?:is|are|was|were)\s+(?:\w+\s+)?{re.escape(phrase.word)}\s+(?:for|to)\b",
            phrase.sentence,
            re.I,
        )
        if purpose:
            return []  # "It is designed for support triage where ...": what it is for
        if phrase.verb.base == "schedule" and phrase.word.lower().endswith("ed"):
            return []  # "Execution is scheduled daily at 22:00": when runs start, no step
        made = {singular(w) for w in phrase.object_tokens()[:6]}
        building = phrase.verb.role == "create" or phrase.verb.base in ("add", "deploy")
        if building and made & lexicon.THE_WORKFLOW:
            # "We will build an automation agent that ...", "Add GitHub Actions workflow
            # that ...": the thing itself
            return []
        if phrase.verb.base == "call" and phrase.mentions(lexicon.MODELS):
            return []  # "a script that calls the LLM to: ...": the model steps that follow
        if person and phrase.verb.base in ("email", "message", "text"):
            # "When a customer emails support@company.com": the email starts a run.
            said = Phrase(phrase.verb, phrase.word, [phrase.verb.base], phrase.sentence)
            return self.trigger(said)
        if person and phrase.verb.role == "send":
            # "a user submits a resume", "a prospect fills out a form": what starts a run.
            return self.trigger(phrase)
        if person and phrase.verb.base in ("receive", "get"):
            # "Client submits a form, receives a welcome email": sent to the person.
            return self.send(Phrase(table_verb("send"), "send", phrase.tokens, phrase.sentence))
        role = phrase.verb.role if phrase.verb.role in lexicon.ROLE_STEPS else "language"
        if phrase.verb.base in lexicon.RECEIVING and not phrase.makes_content():
            # "receives support tickets through an HTTP webhook": the input ("receive a
            # weekly digest" is what the workflow sends).
            role = "arrive"
        if role == "trigger" and _agent_subject(phrase):
            role = "research"  # "a researcher gathers facts": the agent's work, not an input
        owned = phrase.object_tokens()[:1] in (["my"], ["our"], ["the"], ["your"])
        mailbox = head_noun(phrase.object_tokens()) in lexicon.MAILBOXES
        if phrase.verb.base in ("check", "scan") and owned and mailbox:
            # "Check my email every morning": the mailbox is read, not judged.
            role, mentioned["service"] = "fetch", True
        if phrase.verb.role == "review" and set(phrase.lowered) & lexicon.QUANTITIES:
            role = "calculate"  # "validate and cross-check totals": arithmetic
        if phrase.verb.base in lexicon.POSTED_TO and mentioned["service"]:
            role = "send"  # "flagged in Slack": a post there
        record = head_noun(phrase.object_tokens())
        if phrase.verb.base in ("create", "update", "open", "close") and record in lexicon.RECORDS:
            # "creating or updating tickets": a record kept in the tracker, over HTTP.
            role, mentioned["service"], mentioned["strong"] = "send", True, True
        condition = next((w for w in phrase.lowered if w in lexicon.CONDITIONS), None)
        labelled = None
        if (
            condition is None
            and not self._guarding
            and role in lexicon.GUARDABLE_ROLES | {"create"}
        ):
            # "Auto-archives anything classified as noise", "drafts replies for the
            # reply-needed threads": only what has that label.
            condition = labelled = self._label_named(phrase)
        if role in ("send", "save") and condition is None and self._pending_condition:
            # "Captures positive feedback ... and adds it to Notion": only the positive ones.
            condition, self._pending_condition = self._pending_condition, None
        guardable = role in lexicon.GUARDABLE_ROLES or labelled is not None
        guardable = guardable and phrase.verb.role != "classify"
        if condition and guardable and not self._guarding:
            # "notifies HR of qualified candidates": only the qualified ones.
            return self._guarded([phrase], condition)
        based = patterns.BASED_ON.search(phrase.text)
        if based and role in ("send", "save") and not self._guarding:
            # "sends alerts to Slack based on sentiment analysis": a model judges the
            # basis first, a router lets through only what calls for the step.
            return self._based_on(phrase, based)
        make = next(
            make
            for condition, make in lexicon.ROLE_STEPS[role]
            if all(holds(part, mentioned) for part in condition.split())
        )
        added = self._makers()[make](phrase)
        if phrase.mentions(lexicon.GUARDRAILS) and not self._guarding and added:
            # "screens the input with AI guardrails": what fails the check goes no further.
            field_, wanted = self._condition_field("unsafe", negative=False)
            router = self._router_for(field_, "guard")
            router.routes.append(Route(wanted, [], stop=True))
            self.plan.understood.append(f"'{router.id}' stops the run when the check fails")
        if make == "fetch" and phrase.mentions(lexicon.VENDORS) and phrase.verb.role != "lookup":
            # "scrapes the reviews using DeepSeek": a model takes what matters from the page.
            extract = lexicon.verb("extract")
            assert extract is not None
            added.append(self.language(Phrase(extract, "extract", ["it"], phrase.sentence)))
        if approval and added:
            added.append(self.approval(phrase))
        return added

    def _makers(self) -> dict[str, Callable[[Phrase], list[Step]]]:
        return {
            "language": lambda p: (
                self.languages(p)
                if p.verb.base == "translate" and len(languages_of(p)) > 1
                else [self.language(p)]
            ),
            "fetch": lambda p: [self.fetch(p)],
            "search_then_language": self._search_then_language,
            "search": lambda p: [self.web_search(p)],
            "send": self._send_with,
            "write_then_send": lambda p: [self.language(p), *self.send(p)],
            "write_then_save": lambda p: [self.language(p), self.file_write(p)],
            "file_write": lambda p: [self.file_write(p)],
            "file_read": lambda p: [self.file_read(p)],
            "calculate": lambda p: [self.calculate(p)],
            "approval": lambda p: [self.approval(p)],
            "input": self.trigger,
            "route": self.router_phrase,
            "nothing": lambda p: [],
            "classify": lambda p: [
                self.language(
                    Phrase(lexicon.Verb("classify", "classify", "category"), "classify", [], p.text)
                )
            ],
            "create": lambda p: [
                self.language(
                    Phrase(
                        lexicon.Verb(p.verb.base, "transform", field_name(f"{p.verb.base}_result")),
                        p.word,
                        p.tokens,
                        p.sentence,
                    )
                )
            ],
        }

    def router_phrase(self, phrase: Phrase) -> list[Step]:
        """A router is a block of its own: its branch steps are inside it, none are added."""
        self.route(phrase)
        return []

    def trigger(self, phrase: Phrase) -> list[Step]:
        """What starts a run ("monitors incoming emails"): its noun is an input."""
        head = head_noun(phrase.object_tokens())
        said = [w for w in phrase.object_tokens() if w in lexicon.CONDITIONS]
        if said:
            self._pending_condition = said[0]
        if head:
            name = self.reader.input(head, f"The {label(head).lower()} that starts a run")
            self.reader.triggered.append(name)
            self.reader.previous = self.reader.previous or name
        return []

    def _guarded(
        self,
        phrases: list[Phrase],
        value: str,
        *,
        negative: bool = False,
        orelse: str = "",
        said: str | None = None,
    ) -> list[Step]:
        """Steps that run only when a condition holds: a check (or an earlier label) and a
        router whose branch holds them."""
        value = field_name(value)
        previous = self.reader.previous
        router_field, wanted = self._condition_field(value, negative, said)
        last = self.plan.blocks[-1] if self.plan.blocks else None
        if (
            isinstance(last, Router)
            and last.field == router_field
            and not orelse.strip()
            and not last.otherwise
            and all(route.value != wanted for route in last.routes)
        ):
            # "drafts replies for the reply-needed ones. Archives the noise": one router
            # on the labels, a branch for each, each reading what the first one read.
            router = last
            read = next((r.steps[0].reads for r in router.routes if r.steps), None)
            if read:
                self.reader.previous = read[0]
        else:
            router = Router(self.reader.step_id("route"), router_field)
            self.plan.blocks.append(router)
        start = len(self.plan.blocks)
        steps: list[Step] = []
        self._guarding = True
        try:
            for phrase in phrases:
                steps += self.read_phrase(phrase)
        finally:
            self._guarding = False
        branch = [block for block in self.plan.blocks[start:] if isinstance(block, Step)]
        del self.plan.blocks[start:]
        router.routes.append(Route(wanted, branch))
        if orelse.strip():
            self.reader.previous = previous
            start = len(self.plan.blocks)
            for phrase in phrases_of(orelse):
                steps += self.read_phrase(phrase)
            other = [block for block in self.plan.blocks[start:] if isinstance(block, Step)]
            del self.plan.blocks[start:]
            router.otherwise = other
        self.plan.understood.append(
            f"I made '{router.id}' a router on `{router_field}`: "
            + " / ".join(
                f"{route.value} \u2192 {', '.join(s.id for s in route.steps) or 'on'}"
                for route in router.routes
            )
            + (
                f" / otherwise \u2192 {', '.join(s.id for s in router.otherwise)}"
                if router.otherwise
                else ""
            )
        )
        return steps

    def _based_on(self, phrase: Phrase, based: re.Match[str]) -> list[Step]:
        """A step taken depending on a judgement the words name ("based on sentiment
        analysis"): the judgement, then a router whose "yes" branch holds the step."""
        reader = self.reader
        basis = " ".join(
            w for w in based.group("basis").split() if w.lower() not in lexicon.DETERMINERS
        )
        subject = reader.previous or reader.input("text", "The text to judge")
        cut = phrase.text.lower().find(based.group(0).lower())
        kept = TOKEN.findall(phrase.text[:cut] if cut > 0 else phrase.text)[1:]
        step_words = " ".join([phrase.word, *kept]).strip(" ,")
        short = Phrase(phrase.verb, phrase.word, kept, phrase.sentence)
        targets = [
            t for t in short.destination_words() if is_product(t) or t.lower() in lexicon.CHANNELS
        ]
        if len(targets) >= 2 and "or" in short.lowered:
            # "delivers reports via WhatsApp or SMS based on their preferred channel": the
            # judgement picks one of the alternatives, a branch sends through each.
            return self._choose_target(short, basis, subject, targets)
        judge = Step(
            reader.step_id("judge", head_noun(basis.lower().split())),
            "classify",
            "judge",
            sentence(
                f"Judge the {label(subject).lower()} by its {basis}: does it call for this "
                f"step ({step_words})? Answer yes or no"
            ),
            reads=[subject],
        )
        name = reader.output(
            f"{phrase.verb.base}_needed",
            Field(f"{phrase.verb.base}_needed", "enum", "Whether to go on", values=["yes", "no"]),
        )
        judge.writes = [name]
        reader.add(judge)
        reader.previous = subject
        router = Router(reader.step_id("route"), name)
        self.plan.blocks.append(router)
        start = len(self.plan.blocks)
        self._guarding = True
        try:
            self.read_phrase(Phrase(phrase.verb, phrase.word, kept, phrase.sentence))
        finally:
            self._guarding = False
        branch = [block for block in self.plan.blocks[start:] if isinstance(block, Step)]
        del self.plan.blocks[start:]
        router.routes.append(Route("yes", branch))
        reader.previous = subject
        self.plan.understood.append(
            f"'{judge.id}' judges the {basis}; '{router.id}' goes on only when it says yes"
        )
        return [judge]

    def _choose_target(
        self, phrase: Phrase, basis: str, subject: str, targets: list[str]
    ) -> list[Step]:
        """One of several ways to send, chosen by what the words name: a classification
        among them and a branch per way."""
        reader = self.reader
        values = list(dict.fromkeys(field_name(t) for t in targets))
        choose = Step(
            reader.step_id("choose", "channel"),
            "classify",
            "choose",
            sentence(
                f"Choose how to {phrase.verb.base} the {label(subject).lower()} by its "
                f"{basis}. Answer with one of: {', '.join(values)}"
            ),
            reads=[subject],
        )
        spec = Field("channel", "enum", f"One of: {', '.join(values)}", values=values)
        choose.writes = [reader.output("channel", spec)]
        reader.add(choose)
        reader.previous = subject
        router = self._router_for(choose.writes[0])
        for value, target in zip(values, dict.fromkeys(targets), strict=False):
            self._branch(router, value, f"{phrase.verb.base} it to {target}")
        self.plan.understood.append(
            f"I made '{router.id}' a router with branches {' / '.join(values)}"
        )
        return [choose]

    def _label_named(self, phrase: Phrase) -> str | None:
        """A label of the last classification that the phrase's words name, if any."""
        field_ = self.reader.labels_field
        values = self.plan.fields[field_].values if field_ else None
        if not values or phrase.verb.role == "classify":
            return None
        said = re.sub(r"[^a-z0-9]+", "_", " ".join(phrase.tokens).lower())
        return next((v for v in values if re.search(rf"(?:^|_){v}(?:_|$)", said)), None)

    def _condition_field(
        self, value: str, negative: bool, said: str | None = None
    ) -> tuple[str, str]:
        """The field a condition is about and the value that takes the branch (``said``:
        the condition in the words' own terms, for the check's question)."""
        for spec in self.plan.fields.values():
            if spec.values and value in spec.values:
                if negative:
                    others = [v for v in spec.values if v != value]
                    return spec.name, others[0] if others else value
                return spec.name, value
        subject = self.reader.previous or self.reader.input("text", "The text to check")
        check = Step(
            self.reader.step_id(f"check_{value}"),
            "classify",
            "check",
            sentence(
                f"Check whether {said} in the {label(subject).lower()}. Answer yes or no"
                if said
                else f"Is the {label(subject).lower()} {value.replace('_', ' ')}? Answer yes or no"
            ),
            reads=[subject],
        )
        name = self.reader.output(
            f"is_{value}",
            Field(f"is_{value}", "enum", f"Whether it is {value}", values=["yes", "no"]),
        )
        check.writes = [name]
        self.reader.add(check)
        self.reader.previous = subject
        return name, "no" if negative else "yes"

    def language(self, phrase: Phrase) -> Step:
        """A step the model answers."""
        bracketed = re.search(r"\(([^)]*)\)", phrase.text)
        if (
            phrase.verb.role == "transform"
            and phrase.verb.base != "translate"
            and bracketed
            and listed_labels(f"({bracketed.group(1)})")
        ):
            # "a prioritization system (P0-P3)": answering with one of the labels listed.
            phrase = Phrase(
                lexicon.Verb(phrase.verb.base, "classify", phrase.verb.output),
                phrase.word,
                phrase.tokens,
                phrase.sentence,
            )
        if _sorts(phrase):
            # "determines the intent", "identify the priority": answering with a label.
            phrase = Phrase(
                lexicon.Verb(phrase.verb.base, "classify", phrase.verb.output),
                phrase.word,
                phrase.tokens,
                phrase.sentence,
            )
        verb = phrase.verb
        reader = self.reader
        create = verb.role == "create"
        origin = self._implied_source(phrase) if reader.previous is None else None
        drawn = self._drawn_from(phrase) if reader.previous is not None else None
        source = reader.source(phrase, create=create)
        if source is None and verb.base in lexicon.TAKES_FROM:
            # "Extract the candidate's key information": taken from something given.
            source = reader.input(
                head_noun(phrase.object_tokens()) if not create else "text",
                f"What to {verb.base} from",
            )
        about = next(
            (head_noun(ws) for p, ws in phrase.preposition_phrases() if p in ("about", "on")),
            None,
        )
        answering = singular(head_noun(phrase.object_tokens()) or "") in lexicon.ANSWERS
        if source is None and create and answering and not self.plan.steps():
            # "an AI drafts a reply": to the message the run is given.
            source = reader.input("message", "The message to answer")
        elif source is None and create and (about or "topic") in self.plan.fields:
            source = about or "topic"  # "writes a blog post, a newsletter ...": each on it
        elif source is None and create and not self.plan.steps():
            # "Generates content", "Write a tweet": about what the person running it says;
            # "a post about our launch": about the launch, which the person says.
            source = reader.input(about or "topic", "What to write about")
        reads = [source] if source else []
        if drawn and drawn not in reads:
            reads.append(drawn)
        if len(self._fetched_together) > 1 and source in self._fetched_together:
            reads += [f for f in self._fetched_together if f not in reads]
            self._fetched_together = []
        words = phrase.object_tokens()
        head = head_noun(words)
        tokens = list(phrase.tokens)
        if source and not create and (not words or words[0] in lexicon.PRONOUNS):
            # "summarize it": say what it is.
            what = ["the", label(source).lower()]
            tokens = what + tokens[1:] if words else what + tokens
        instruction = sentence(" ".join([phrase.word.capitalize(), *tokens]))
        instruction = re.sub(
            r"\b(?:using|with|via|by)\s+(?:\w+\s+){0,3}?(?:ai|openai|gpt[\w.-]*|claude|ollama|llm)\b\S*",
            "",
            instruction,
            flags=re.I,
        )
        instruction = sentence(instruction)
        step = Step(reader.step_id(verb.base, head), "llm", verb.base, instruction, reads=reads)
        if verb.role == "review":
            step.kind = "review"
            score = reader.output("score", Field("score", "int", "Review score from 1 to 10"))
            feedback = reader.output("feedback", Field("feedback", "str", "What to improve"))
            step.writes = [score, feedback]
            step.instruction += (
                " Give a score from 1 to 10 (10 is best) and say briefly what to improve."
            )
            reader.add(step)
            if reader.previous is None and source:
                # "Review the draft. Then improve the tone.": what comes next works on it.
                reader.previous = source
            self._post_back(origin, feedback)
            return step
        if verb.role == "revise":
            target = source or reader.input(head or "text", "The text to revise")
            others = [r for r in reads if r != target]  # fetched with it ("and transactions")
            step.reads = [target, *others] + (
                ["feedback"] if "feedback" in self.plan.fields else []
            )
            step.writes = [target]
            reader.add(step)
            reader.previous = target
            self._post_back(origin, target)
            return step
        if verb.role == "classify":
            step.kind = "classify"
            # Labels said anywhere after the verb ("classify it. Urgent, normal or low"),
            # never before it ("from either an email inbox or a webhook, classifies").
            at = phrase.sentence.find(phrase.word)
            values = listed_labels(phrase.text) or listed_labels(phrase.sentence[max(at, 0) :])
            topic = next(
                (
                    w
                    for w in (
                        "sentiment",
                        "priority",
                        "urgency",
                        "intent",
                        "toxicity",
                        "language",
                        "topic",
                        "category",
                    )
                    if w in phrase.text.lower()
                ),
                None,
            )
            name = topic or (verb.output or "category")
            spec = Field(
                name,
                "enum" if values else "str",
                f"One of: {', '.join(values)}" if values else f"The {name}",
                values=values or None,
            )
            output = reader.output(name, spec)
            step.writes = [output]
            if values:
                cut = patterns.LABELS.search(step.instruction) or re.search(
                    rf"\s+{re.escape(values[0])}\b", step.instruction, re.I
                )
                base = step.instruction[: cut.start()] if cut else step.instruction
                step.instruction = sentence(base) + f" Answer with one of: {', '.join(values)}."
                self.plan.understood.append(f"'{step.id}' sorts into {' / '.join(values)}")
            step.args["values"] = values
            reader.labels_field = output
            reader.add(step)
            reader.previous = source or reader.previous
            if values and patterns.INTO_PLACES.search(phrase.text):
                # "classifies bug reports into teams (A, B, C)": the labels are where each
                # one goes, so each is a branch.
                router = self._router_for(output)
                router.routes += [Route(value, []) for value in values]
                self.plan.understood.append(
                    f"I made '{router.id}' a router with branches {' / '.join(values)}"
                )
            return step
        if create:
            name = head if head and head not in self.plan.fields else (verb.output or "result")
            description = f"The {label(name).lower()}"
        else:
            name = verb.output or "result"
            if name in self.plan.fields and head:
                name = f"{head}_{name}"
            description = f"The {label(name).lower()} of the {label(source or 'text').lower()}"
        languages = languages_of(phrase)
        if verb.base == "translate" and languages:
            name = field_name(languages[0])
            description = f"The {label(source or 'text').lower()} in {languages[0]}"
            step.instruction = (
                sentence(f"Translate the {label(source or 'text').lower()} into {languages[0]}")
                + " Answer with the translation only."
            )
        output = reader.output(name, Field(name, "str", description))
        step.writes = [output]
        reader.add(step)
        reader.previous = output
        return step

    def _drawn_from(self, phrase: Phrase) -> str | None:
        """ "enhances the summary with information from Wikipedia": a later step that draws
        on the web or a product gets that first; the field it comes in, or None."""
        found = patterns.DRAWN_FROM.search(phrase.text)
        if not found:
            return None
        words = found.group("where").split()
        if not (any(is_product(w) for w in words) or {w.lower() for w in words} & lexicon.WEB):
            return None
        previous = self.reader.previous
        step = self.fetch(Phrase(table_verb("fetch"), "fetch", words, phrase.sentence))
        self.plan.guessed.append(f"I added '{step.id}' to get what '{phrase.word}' draws on")
        self.reader.previous = previous
        return step.writes[0] if step.writes else None

    def _implied_source(self, phrase: Phrase) -> str | None:
        """A first step about something on the web, in a product or in a file ("summarizes
        Umami analytics data", "extracts news from FT.com") gets it first; the product it
        came from, if one is named."""
        # "Classifies incoming mail (Urgent, Newsletter, FYI)": labels are no product.
        labels = set(listed_labels(phrase.text))
        words = [w for w in phrase.source_words() if field_name(w, "value") not in labels]
        lowered = {word.lower().strip(".") for word in words}
        where = "the web"
        product = next((word for word in words if is_product(word)), None)
        if product and _names_a_kind_of_file(words, product):
            product = None  # "source code (e.g., Swift files)": a kind of file, read locally
        if product and phrase.verb.role == "create" and _made_for(words, product):
            return None  # "generates a WordPress draft": made for the product, not from it
        if product or lowered & lexicon.WEB:
            step = self.fetch(
                Phrase(lexicon.Verb("fetch", "fetch"), "fetch", words, phrase.sentence)
            )
        elif lowered & lexicon.STORAGE:
            step = self.file_read(
                Phrase(lexicon.Verb("read", "read"), "read", words, phrase.sentence)
            )
            where = "a file"
        else:
            return None
        self.plan.guessed.append(f"I added '{step.id}' to get it from {where} first")
        return product

    def _post_back(self, product: str | None, field_: str) -> None:
        """A review or a revision of something taken from a product goes back to it
        ("automates code reviews in GitLab merge requests": the review is posted there)."""
        if product is None:
            return
        kept = self.reader.previous
        self.reader.previous = field_
        (step,) = self.send(Phrase(lexicon.Verb("update", "send"), "update", ["to", product], ""))
        self.reader.previous = kept
        self.plan.guessed.append(f"I added '{step.id}' to put the result back into {product}")

    def languages(self, phrase: Phrase) -> list[Step]:
        """ "Translate the text into German and Spanish": one step per language."""
        source = self.reader.source(phrase)
        added = []
        for language in languages_of(phrase):
            self.reader.previous = source
            tokens = [
                token
                for token in phrase.tokens
                if token.lower() not in lexicon.LANGUAGES
                and token.lower() not in ("and", "or", ",")
            ]
            one = Phrase(phrase.verb, phrase.word, [*tokens, language], phrase.sentence)
            step = self.language(one)
            step.id = f"translate_{step.writes[0]}"
            added.append(step)
        self.reader.previous = source
        self.plan.understood.append(
            "one translation step per language: " + ", ".join(s.writes[0] for s in added)
        )
        return added

    def _tool(
        self,
        kind: str,
        wanted_id: str,
        does: str,
        phrase: Phrase,
        reads: list[str],
        args: dict[str, object],
    ) -> Step:
        """A tool step said in the phrase's words."""
        step_id = self.reader.step_id(wanted_id)
        return Step(step_id, kind, does, sentence(phrase.text), reads=reads, args=args)

    def _search_then_language(self, phrase: Phrase) -> list[Step]:
        """ "research a topic": a web search, then the model writes up what it found."""
        search = self.web_search(phrase)
        step = self.language(phrase)
        if search.writes and search.writes[0] not in step.reads:
            step.reads.append(search.writes[0])
        return [search, step]

    def web_search(self, phrase: Phrase) -> Step:
        """A web search for what the phrase researches (the last result, else the topic
        it names, an input); the model step after it reads the results and the subject."""
        reader = self.reader
        subject = reader.previous or reader.source(phrase)
        subject = subject or reader.input("topic", "The topic to research")
        step = self._tool(
            "http_request",
            "search",
            "search",
            phrase,
            [subject],
            {"url": f"{WEB_SEARCH}{{{subject}}}", "method": "GET"},
        )
        reader.place(step, "search_results", "What the web search found", then=subject)
        return step

    def fetch(self, phrase: Phrase) -> Step:
        """An HTTP GET: of the URL in the words, else of a `url` input."""
        found = patterns.URL.search(phrase.text)
        reader = self.reader
        if found:
            url = found.group(0)
        head = head_noun([w for w in phrase.object_tokens() if w not in lexicon.WEB]) or None
        if not found:
            name = "url"
            fetched = any(
                s.kind == "http_request" and "url" in s.reads and s.args.get("method") == "GET"
                for s in self.plan.steps()
            )
            together = fetched and head and phrase.sentence == self._last_fetch_sentence
            if together:
                # "pulls receipt emails and payment transactions": each from its own address.
                name = f"{head}_url"
            else:
                self._fetched_together = []
            if name not in self.plan.fields:
                reader.input(
                    name,
                    f"The address to fetch{f' the {label(head).lower()} from' if name != 'url' else ''}",
                )
            url = f"{{{name}}}"
            self._last_fetch_sentence = phrase.sentence
        output_name = (
            "page"
            if phrase.mentions(
                frozenset({"page", "pages", "webpage", "website", "site", "webpages", "websites"})
            )
            else "response"
        )
        if head and head not in self.plan.fields and output_name == "response":
            output_name = head
        step = self._tool(
            "http_request", "fetch", phrase.verb.base, phrase, [], {"url": url, "method": "GET"}
        )
        step.reads = [url.strip("{}")] if not found else []
        placed = reader.place(step, output_name, "What the request returned")
        if not found and placed.writes:
            self._fetched_together.append(placed.writes[0])
        return placed

    def _send_with(self, phrase: Phrase) -> list[Step]:
        """A send of something from the web ("shares new YouTube videos on Discord") gets
        it first."""
        added: list[Step] = []
        words = {w.strip(".") for w in phrase.object_tokens()}
        if self.reader.previous is None and words & lexicon.WEB:
            got = Phrase(table_verb("fetch"), "fetch", phrase.object_tokens(), phrase.sentence)
            added.append(self.fetch(got))
        return [*added, *self.send(phrase)]

    def send(self, phrase: Phrase) -> list[Step]:
        """An HTTP POST of the last result to each service the words name ("sends them
        via email and Telegram": two posts), or to the URL they give."""
        reader = self.reader
        body = reader.previous or reader.input("message", "The message to send")
        if head_noun(phrase.object_tokens()) in lexicon.THE_LABEL and reader.labels_field:
            body = reader.labels_field  # "post the classification to Slack"
        found = patterns.URL.search(phrase.text)
        if found:
            targets = [found.group(0)]
        else:
            # Where it goes is named after "to", "on", "via" ... ("shares YouTube videos on
            # Discord" posts to Discord), else anywhere in the words.
            where = phrase.destination_words() or phrase.tokens
            named = [
                MAIL.get(t.lower().strip("."), t.lower().strip("."))
                for t in where
                if is_product(t) or t.lower() in lexicon.CHANNELS
            ]
            if any(is_product(t) for t in where):
                # "to a Slack channel": the product is where it goes, "channel" says no more.
                named = [n for n in named if n not in lexicon.PLACES_IN_A_PRODUCT]
            targets = list(dict.fromkeys(named)) or ["webhook"]
        steps = []
        for target in targets:
            if found:
                url, reads = target, [body]
            else:
                generic = target in ("api", "webhook", "endpoint", "server", "service", "backend")
                name = "webhook_url" if generic else f"{field_name(target)}_url"
                if name not in self.plan.fields:
                    reader.input(name, f"The {target} address to post to")
                url, reads = f"{{{name}}}", [body, name]
            verb = phrase.verb.base
            step = self._tool(
                "http_request",
                verb if len(targets) == 1 else f"{verb}_{field_name(target)}",
                verb,
                phrase,
                reads,
                {"url": url, "method": "POST", "body": f"{{{body}}}"},
            )
            steps.append(reader.place(step, "sent", "The service's answer", then=body))
        return steps

    def file_write(self, phrase: Phrase) -> Step:
        """Write the last result to the file the words name (else outputs/<field>.md)."""
        reader = self.reader
        subject = reader.previous or reader.input(
            head_noun(phrase.object_tokens()) or "text", "The text to save"
        )
        found = patterns.FILENAME.search(phrase.text)
        path = found.group(1) if found else f"outputs/{subject}.md"
        verb = phrase.verb.base if phrase.verb.role in ("save", "send") else "save"
        step = self._tool(
            "file_write",
            verb,
            verb,
            phrase,
            [subject],
            {"path": path, "content": f"{{{subject}}}\n"},
        )
        return reader.place(step, "saved_to", "Where the file was saved", then=subject)

    def file_read(self, phrase: Phrase) -> Step:
        """Read the file the words name, else the one a `path` input names."""
        reader = self.reader
        found = patterns.FILENAME.search(phrase.text)
        if found:
            path = found.group(1)
            reads: list[str] = []
        else:
            name = reader.input("path", "A file inside the workspace folder")
            path, reads = f"{{{name}}}", [name]
        head = head_noun([w for w in phrase.object_tokens() if w not in lexicon.STORAGE])
        output_name = head if head and head not in self.plan.fields else "file_text"
        step = self._tool("file_read", "read", phrase.verb.base, phrase, reads, {"path": path})
        return reader.place(step, output_name, "The text of the file")

    def calculate(self, phrase: Phrase, *, from_data: bool = True) -> Step:
        """A calculation over the numbers the phrase names: taken by a model step from what
        came before when something did (``from_data``), else inputs, numeric."""
        reader = self.reader
        names = [
            singular(w)
            for w in phrase.lowered
            if singular(w) in lexicon.FLOAT_NOUNS | lexicon.INT_NOUNS
        ]
        names = list(dict.fromkeys(name for name in names if name != "total"))
        if len(names) < 2:
            names = [*names, *[n for n in ("price", "quantity") if n not in names]][:2]
        missing = [name for name in names if name not in self.plan.fields]
        source = reader.previous
        written = source is not None and any(source in s.writes for s in self.plan.steps())
        if from_data and written and missing:
            # "extracts the invoice, then calculates the total": the numbers are in what was
            # extracted, not asked of the person running it.
            numbers = Step(
                reader.step_id("extract_numbers"),
                "llm",
                "extract",
                sentence(
                    f"Take from the {label(source).lower()} the numbers for "
                    + ", ".join(label(n).lower() for n in missing)
                )
                + " Answer with each as a number.",
                reads=[source],  # type: ignore[list-item]
            )
            numbers.writes = [
                reader.output(n, Field(n, "int" if n in lexicon.INT_NOUNS else "float", f"The {n}"))
                for n in missing
            ]
            reader.add(numbers)
            names = [numbers.writes[missing.index(n)] if n in missing else n for n in names]
            reader.previous = source
            self.plan.guessed.append(
                f"I added '{numbers.id}' to take the numbers from the {label(source).lower()}"
            )
        for name in names:
            if name not in self.plan.fields:
                reader.input(name, f"The {name}", kind="float")
        operator = " + " if phrase.verb.base in ("sum", "add") else " * "
        expression = operator.join(names)
        if phrase.verb.base == "average":
            expression = f"({' + '.join(names)}) / {len(names)}"
        step = self._tool(
            "calculator", "calculate", phrase.verb.base, phrase, names, {"expression": expression}
        )
        self.plan.guessed.append(f"I guessed the calculation `{expression}`")
        return reader.place(step, "total", "The calculated value", kind="float")

    def approval(self, phrase: Phrase | None) -> Step:
        """A person approves the last result before the workflow goes on."""
        reader = self.reader
        subject = reader.previous or reader.input("text", "The text to approve")
        step = Step(
            reader.step_id("approve"),
            "approval",
            "approve",
            f"Approve the {label(subject).lower()}?",
            reads=[subject],
        )
        step.writes = [
            reader.output(
                "approval_comment", Field("approval_comment", "str", "The approver's comment")
            )
        ]
        reader.add(step)
        reader.previous = subject
        return step

    def route(self, phrase: Phrase) -> Router | None:
        """A router on the labels of the last classification ("routes them to the right
        team", "route bugs to an engineer"; "filters spam" stops some)."""
        if phrase.verb.role == "filter":
            return self._filter(phrase)
        reader = self.reader
        match = patterns.ROUTE.search(phrase.text)
        labels = listed_labels(phrase.text)
        if not labels and not reader.labels_field:
            # "routes it based on the verdict: PASS: ... BLOCK: ...": the labels head the
            # sentences that follow.
            start = self.plan.request.find(phrase.sentence.strip()[:40])
            after = self.plan.request[max(start, 0) :]
            heads = re.findall(r"(?:^|[.:\n]\s*)([A-Z][A-Z_]{1,20}|[A-Z][a-z]+ [A-Z0-9]):", after)
            heads = _without_shared_word(list(dict.fromkeys(heads)))
            labels = [field_name(h) for h in heads] if len(set(heads)) >= 2 else []
        field_ = reader.labels_field or self._classify_for_route(phrase, labels, bool(match))
        if field_ is None:
            return None
        routed = next(
            (
                b
                for b in self.plan.blocks
                if isinstance(b, Router) and b.field == field_ and any(r.steps for r in b.routes)
            ),
            None,
        )
        if routed is not None and not match and not labels:
            # "... and direct the flow accordingly": said of the router there already.
            return routed
        spec = self.plan.fields[field_]
        if not labels and not spec.values and not match:
            # "classify it and route it to the right team": the labels are a guess to ask about.
            self.set_labels(field_, self._guess_labels(field_))
        elif labels and (field_ in reader.guessed_labels or not spec.values):
            # Labels named now replace labels guessed before (or give a free label some).
            self._relabel(field_, labels)
        router = self._router_for(field_)
        values = spec.values or []
        # "Routes requests to specialized crews (Blog, LinkedIn, Research)": the labels
        # listed where it goes are the branches, not what is routed.
        listed_target = match is not None and bool(listed_labels(match.group("target")))
        if match and not listed_target:
            value = _match_label(match.group("value"), values)
            if values and value not in values:
                values.append(value)
            self._branch(router, value, match.group("target").strip(" ."))
        elif labels and len(labels) == len(values) and set(labels) != set(values):
            # "categorizes (A, B, C) and routes them to the department (X, Y, Z)": in order.
            for value, target in zip(values, labels, strict=True):
                self._branch(router, value, target.replace("_", " "))
        else:
            # "routes them by category": a branch per label, each going on for now; a label
            # that names an action ("to a cache, search, or clarification path") does it.
            for value in values:
                if any(route.value == value for route in router.routes):
                    continue
                last = value.split("_")[-1]
                acts = next(
                    (
                        found
                        for word in dict.fromkeys([value, last])
                        if (found := lexicon.verb(word) or lexicon.verb_of_noun(word))
                    ),
                    None,
                )
                if acts and acts.role in BRANCH_ACTIONS:
                    self._branch(router, value, acts.base)
                elif acts and acts.base == "escalate":
                    # "an escalation path": the case is handed to a person.
                    self._branch(router, value, "send it to the escalation team")
                else:
                    router.routes.append(Route(value, []))
        if not router.routes:
            router.routes.append(Route("other", []))
        self.plan.understood.append(
            f"I made '{router.id}' a router with branches "
            + " / ".join(values or [r.value for r in router.routes])
        )
        return router

    def _filter(self, phrase: Phrase) -> Router:
        """ "filters spam": a router that ends the run for that label."""
        reader = self.reader
        value = head_noun(phrase.object_tokens()) or "irrelevant"
        if reader.labels_field is None:
            field_, wanted = self._condition_field(value, negative=False)
        else:
            field_, wanted = reader.labels_field, value
            spec = self.plan.fields[field_]
            if spec.values and value not in spec.values:
                spec.values.append(value)
        router = self._router_for(field_, "filter")
        router.routes.append(Route(wanted, [], stop=True))
        self.plan.understood.append(f"'{router.id}' stops the run when `{field_}` is {wanted}")
        return router

    def _intents(self, text: str, wants: list[re.Match[str]]) -> list[Step]:
        """ "if the user wants to roll a die, route to a dice agent; if they want to check
        for primes, route to a prime agent": a classification of what the person wants,
        a router with a branch per intent doing what follows it."""
        # The intents said in later sentences are labels from the first.
        every = patterns.WANTS.finditer(self.plan.request)
        labels = list(dict.fromkeys(_intent_label(m.group("action")) for m in every))
        before = self.read_phrases(text[: wants[0].start()])
        router = next(
            (
                b
                for b in self.plan.blocks
                if isinstance(b, Router) and b.field in self._intent_fields
            ),
            None,
        )
        if router is None:
            trigger = Phrase(table_verb("route"), "route", ["the", "request"], text)
            field_ = self._classify_for_route(trigger, labels, True)
            assert field_ is not None
            self._relabel(field_, labels)
            self._intent_fields.add(field_)
            router = self._router_for(field_)
            self.plan.understood.append(
                f"I made '{router.id}' a router on what is wanted: {' / '.join(labels)}"
            )
        source = self.reader.previous
        for match in wants:
            value = _intent_label(match.group("action"))
            target = re.sub(
                r"^(?:it|we|you|the \w+)\s+(?:should|will|must|can)\s+",
                "",
                match.group("then").strip(),
            )
            target = re.sub(r"^(?:route|send|forward|pass|hand)\w*\s+(?:it\s+)?to\s+", "", target)
            if not any(route.value == value for route in router.routes):
                self.reader.previous = source
                self._branch(router, value, target)
        self.reader.previous = source
        return before

    def _classify_for_route(self, phrase: Phrase, labels: list[str], named: bool) -> str | None:
        """The classification a router needs when none came before it."""
        if not (named or labels):
            return None
        reader = self.reader
        source = reader.previous or reader.input(
            head_noun(phrase.object_tokens()) or "text", "What to route"
        )
        values = labels or ["urgent", "normal"]
        classify = Step(
            reader.step_id("classify"),
            "classify",
            "classify",
            sentence(f"Classify the {label(source).lower()}")
            + f" Answer with one of: {', '.join(values)}.",
            reads=[source],
        )
        spec = Field("category", "enum", f"One of: {', '.join(values)}", values=values)
        classify.writes = [reader.output("category", spec)]
        reader.add(classify)
        reader.previous = source
        field_ = reader.labels_field = classify.writes[0]
        if not labels:
            self._guess_labels(field_)
        return field_

    def _guess_labels(self, field_: str) -> list[str]:
        """Labels for a router when none were named: a guess, and a question to ask."""
        values = ["urgent", "normal"]
        self.reader.guessed_labels.add(field_)
        self.plan.guessed.append(f"I guessed the labels {' / '.join(values)}")
        self.plan.question = self.plan.question or Question(
            "Which labels should the router choose between?",
            [
                Choice(" / ".join(v), f"classify as {', '.join(v)}")
                for v in (values, ["bug", "feature", "question"], ["sales", "support", "other"])
            ],
        )
        return values

    def _relabel(self, field_: str, labels: list[str]) -> None:
        """Labels named now replace labels guessed before: the guess and its question go."""
        self.set_labels(field_, labels)
        self.reader.guessed_labels.discard(field_)
        self.plan.guessed = [
            g for g in self.plan.guessed if not g.startswith("I guessed the labels")
        ]
        self.plan.question = None

    def set_labels(self, field_: str, labels: list[str]) -> None:
        """The field is one of ``labels``; the step that writes it says so."""
        spec = self.plan.fields[field_]
        spec.type, spec.values = "enum", list(labels)
        spec.description = f"One of: {', '.join(labels)}"
        said = f"Answer with one of: {', '.join(labels)}."
        for step in self.plan.steps():
            if field_ in step.writes:
                if "Answer with one of:" in step.instruction:
                    step.instruction = re.sub(r"Answer with one of: .*", said, step.instruction)
                else:
                    step.instruction = f"{step.instruction} {said}"

    def _branch(self, router: Router, value: str, target: str) -> None:
        """The steps of the route for ``value``: what the target words say to do, or a
        hand-over note to the person or team they name."""
        reader = self.reader
        before = reader.previous
        start = len(self.plan.blocks)
        inner = phrases_of(target)
        guarding, self._guarding = self._guarding, True  # the route is the condition
        for one in inner:
            self.read_phrase(one)
        self._guarding = guarding
        words = TOKEN.findall(target)
        if not inner and any(w.lower() in lexicon.FILE_PLACES for w in words):
            # "Invoices go to a Google Sheet": kept there.
            self.read_phrase(Phrase(table_verb("save"), "save", words, target))
        elif not inner and any(is_product(w) for w in words[1:]):
            # "Bugs become Linear issues": a record made in the product the words name.
            self.read_phrase(Phrase(table_verb("create"), "create", ["to", *words[1:]], target))
        elif not inner:
            name = head_noun([w.lower() for w in target.split()]) or "handler"
            subject = before or router.field
            step = reader.model_step(
                f"to_{name}",
                "hand over",
                sentence(
                    f"Write a short note handing the {label(subject).lower()} over to {target}"
                ),
                [subject],
                f"{name}_note",
                f"The note for {target}",
            )
            reader.add(step)
        branch = [b for b in self.plan.blocks[start:] if isinstance(b, Step)]
        del self.plan.blocks[start:]
        existing = next((r for r in router.routes if r.value == value), None)
        if existing is not None:
            existing.steps += branch
        else:
            router.routes.append(Route(value, branch))
        reader.previous = before

    def _router_for(self, field_: str, wanted_id: str = "route") -> Router:
        """The router on a field: the last block when it is one, else a new one here (a
        router on the field that has no branch steps yet moves here)."""
        last = self.plan.blocks[-1] if self.plan.blocks else None
        if isinstance(last, Router) and last.field == field_:
            return last
        for block in list(self.plan.blocks):
            empty = isinstance(block, Router) and not any(r.steps for r in block.routes)
            if empty and block.field == field_:  # type: ignore[union-attr]
                self.plan.blocks.remove(block)
                self.plan.blocks.append(block)
                return block  # type: ignore[return-value]
        router = Router(self.reader.step_id(wanted_id), field_)
        self.plan.blocks.append(router)
        return router

    def _make_parallel(self, added: list[Step]) -> None:
        """The steps of one sentence said to run at once become a parallel group; a join
        verb among them ("merge the responses") is the join; with fewer than two steps
        to run at once, two branches of the one step (or of the task) are guessed."""
        singles: list[Step] = []
        for step in added:
            written = {name for single in singles for name in single.writes}
            independent = not set(step.reads) & written
            # A step that reads what a step between it and the group writes cannot move up.
            between = (
                self.plan.blocks[self.plan.blocks.index(singles[0]) : self.plan.blocks.index(step)]
                if singles and singles[0] in self.plan.blocks and step in self.plan.blocks
                else []
            )
            written_between = {
                name
                for block in between
                if isinstance(block, Step) and block not in singles
                for name in block.writes
            }
            independent = independent and not set(step.reads) & written_between
            if step in self.plan.blocks and step.does not in lexicon.JOIN_VERBS and independent:
                singles.append(step)
        if len(singles) < 2:
            singles = self._guess_branches(singles)
        at = self.plan.blocks.index(singles[0]) if singles[0] in self.plan.blocks else None
        for step in singles:
            if step in self.plan.blocks:
                self.plan.blocks.remove(step)
        source = singles[0].reads[:1]
        for step in singles:
            if (
                step.kind in ("llm", "classify", "review")
                and source
                and step.reads
                and step.reads[0] in [s.writes[0] for s in singles if s.writes]
            ):
                step.reads[0] = source[0]
        group = Parallel(self.reader.step_id("parallel"), singles)
        joins = [s for s in added if s.does in lexicon.JOIN_VERBS and s in self.plan.blocks]
        if at is None:
            at = self.plan.blocks.index(joins[0]) if joins else len(self.plan.blocks)
        self.plan.blocks.insert(at, group)
        self.plan.understood.append(f"{', '.join(s.id for s in singles)} run at the same time")

    def _guess_branches(self, singles: list[Step]) -> list[Step]:
        reader = self.reader
        model = singles[0] if singles else None
        join = next(
            (
                b
                for b in reversed(self.plan.blocks)
                if isinstance(b, Step) and b.does in lexicon.JOIN_VERBS
            ),
            None,
        )
        before = join.reads[:1] if join is not None else []
        if join is not None and reader.previous in join.writes:
            # What the join writes cannot be what the branches read.
            reader.previous = next(iter(before), None)
        source = (
            (model.reads[:1] if model else [])
            or before
            or [reader.previous or reader.input("task", "The task to split")]
        )
        does = model.does if model else "work"
        branches = []
        for part in ("a", "b"):
            name = f"{(model.writes[0] if model and model.writes else 'part')}_{part}"
            step = reader.model_step(
                f"{does}_{part}",
                does,
                sentence(
                    f"{(model.instruction if model else 'Work on the task').rstrip('.')}: part {part.upper()}"
                ),
                source,
                name,
                f"Part {part.upper()}",
            )
            branches.append(step)
        if model is not None and model in self.plan.blocks:
            self.plan.blocks[self.plan.blocks.index(model)] = branches[0]
            self.plan.blocks.insert(self.plan.blocks.index(branches[0]) + 1, branches[1])
        self.plan.guessed.append("I guessed two branches to run at the same time")
        return branches

    # --- the whole request -----------------------------------------------------------------

    def branching(self, text: str, *, cued: bool = False) -> None:
        """ "a gate determines which path to take": when the words branch but no router was
        read, the first model step's result chooses between two guessed paths (``cued``:
        the caller found the branching words)."""
        if "router" in self.plan.features() or not (cued or patterns.BRANCHING.search(text)):
            return
        classified = next(
            (
                step
                for step in self.plan.blocks
                if isinstance(step, Step)
                and step.kind == "classify"
                and step.writes
                and self.plan.fields[step.writes[0]].values
            ),
            None,
        )
        if classified is not None:
            # "classifies priority (high/medium/low) ... routes": a branch per label.
            self._route_labels(classified)
            return
        language = [
            b for b in self.plan.blocks if isinstance(b, Step) and b.kind in ("llm", "classify")
        ]
        if not language:
            return
        first = language[0]
        at = self.plan.blocks.index(first) + 1
        tail, self.plan.blocks = self.plan.blocks[at:], self.plan.blocks[:at]
        self.reader.previous = _main_output(first, self.plan)
        self.reader.labels_field = None
        phrase = Phrase(lexicon.Verb("route", "route"), "route", ["it", "to", "a", ",", "b"], "")
        router = self.route(phrase)
        if router is not None:
            subject = self.reader.previous or router.field
            for route in router.routes:
                step = self.reader.model_step(
                    f"path_{route.value}",
                    "handle",
                    sentence(f"Handle the {label(subject).lower()} on path {route.value}"),
                    [subject],
                    f"path_{route.value}_result",
                    "The path's answer",
                )
                route.steps.append(step)
            paths = " / ".join(r.value for r in router.routes)
            self.plan.guessed.append(f"I guessed the paths {paths}")
        self.plan.blocks += tail

    def _route_labels(self, classified: Step) -> None:
        """A router right after a classification, with a branch per label (each goes on)."""
        field_ = classified.writes[0]
        values = self.plan.fields[field_].values or []
        router = Router(self.reader.step_id("route"), field_, [Route(v, []) for v in values])
        self.plan.blocks.insert(self.plan.blocks.index(classified) + 1, router)
        self.plan.understood.append(
            f"I made '{router.id}' a router with branches {' / '.join(values)}"
        )

    def knowledge(self, text: str) -> None:
        """ "answers questions using the company's knowledge base": when no step reads it,
        a first step does, and every model step gets it too."""
        said = lexicon.KNOWLEDGE.search(text)
        steps = self.plan.steps()
        reads = any(s.kind == "file_read" or s.args.get("method") == "GET" for s in steps)
        if not said or reads or not steps:
            return
        blocks, self.plan.blocks = self.plan.blocks, []
        previous, self.reader.previous = self.reader.previous, None
        words = said.group(0).split()
        step = self.file_read(Phrase(lexicon.Verb("read", "read"), "read", ["the", *words], ""))
        self.plan.blocks = [step, *blocks]
        self.reader.previous = previous
        for other in self.plan.steps():
            if other.kind in ("llm", "classify", "review") and step.writes[0] not in other.reads:
                other.reads.append(step.writes[0])
        self.plan.guessed.append(f"I added '{step.id}' to read the {said.group(0)} for the model")

    def finish(self, modifiers: Modifiers) -> None:
        """Joins, loops and questions: what needs every step to be known."""
        plan = self.plan
        reader = self.reader
        self._independent_analyses()
        if plan.blocks and isinstance(plan.blocks[-1], Parallel):
            branches = plan.blocks[-1].branches
            join = reader.model_step(
                "combine",
                "combine",
                "Combine the results below into one answer.",
                [s.writes[0] for s in branches if s.writes],
                "combined",
                "The combined result",
            )
            plan.blocks.append(join)
            plan.guessed.append(f"I added '{join.id}' to join the parallel steps")
        for index, block in enumerate(plan.blocks[:-1]):
            following = plan.blocks[index + 1]
            if (
                isinstance(block, Parallel)
                and isinstance(following, Step)
                and following.kind in ("llm", "classify", "review")
            ):
                for step in block.branches:
                    if step.writes and step.writes[0] not in following.reads:
                        following.reads.append(step.writes[0])
                following.node = None
        self._keep_last()
        self._read_what_every_branch_has()
        self._send_after_the_writing()
        self._nothing_twice_in_a_row()
        if modifiers.bound is not None or modifiers.repeat:
            self.add_loop(modifiers)
        if plan.question is None:
            sends = [
                s
                for s in plan.steps()
                if s.kind == "http_request" and s.args.get("method") == "POST"
            ]
            approvals = [s for s in plan.steps() if s.kind == "approval"]
            if sends and not approvals:
                plan.question = Question(
                    f"Should a person approve before '{sends[0].id}' sends it?",
                    [
                        Choice("Yes, ask me before sending", "ask me before sending"),
                        Choice("No, send it directly", "keep it as it is"),
                    ],
                )

    def _read_what_every_branch_has(self) -> None:
        """A step after a router reads what every branch has: a field only some branches
        write (the run may not have taken them) is replaced by what those branches worked on
        ("routes to path a or b, then posts to Notion": the post sends what they read)."""
        plan = self.plan
        written = {spec.name for spec in plan.inputs}
        branch_only: dict[str, str] = {}
        for block in plan.blocks:
            if isinstance(block, Step):
                for name in [r for r in block.reads if r in branch_only and r not in written]:
                    _replace_read(block, name, branch_only[name])
                written |= set(block.writes)
            elif isinstance(block, Router):
                branches = [r.steps for r in block.routes if not r.stop] + [block.otherwise]
                for step in [step for steps in branches for step in steps]:
                    for name in [r for r in step.reads if r in branch_only and r not in written]:
                        _replace_read(step, name, branch_only[name])
                shared = self._one_result(block, later=plan.blocks[plan.blocks.index(block) + 1 :])
                if shared is not None:
                    branch_only.update(shared)
                    written.add(next(iter(shared.values())))
                    continue
                outs = [{w for step in steps for w in step.writes} for steps in branches]
                every = set.intersection(*outs) if outs else set()
                for steps in branches:
                    source = steps[0].reads[0] if steps and steps[0].reads else None
                    for name in {w for step in steps for w in step.writes} - every:
                        if source is not None and source not in branch_only:
                            branch_only[name] = source
                written |= every
            else:
                written |= {w for step in block.branches for w in step.writes}

    def _one_result(self, router: Router, later: list[Block]) -> dict[str, str] | None:
        """When every way through a router writes something and a later step reads what one
        branch wrote ("Bugs: write a report. Questions: draft an answer. Then post it"), each
        branch's last result is one field, the one the later step reads: {old: shared}."""
        spec = self.plan.fields[router.field]
        routed = {route.value for route in router.routes}
        covered = bool(router.otherwise) or bool(spec.values and set(spec.values) <= routed)
        ways = [r.steps for r in router.routes if not r.stop] + (
            [router.otherwise] if router.otherwise else []
        )
        if not covered or len(ways) < 2 or not all(ways) or not all(w[-1].writes for w in ways):
            return None
        lasts = {way[-1].writes[0] for way in ways}
        reading = [s for b in later for s in steps_of(b) if set(s.reads) & lasts]
        subject = ways[0][0].reads[0] if ways[0][0].reads else None
        following = later[0] if later else None
        sends = isinstance(following, Step) and (
            following.kind == "file_write" or following.args.get("method") == "POST"
        )
        if not reading and sends and subject in following.reads:  # type: ignore[union-attr]
            # "Bugs: write a report. Questions: draft an answer. Then post it": what was
            # written is posted, not what it was written from.
            _replace_read(following, subject, ways[0][-1].writes[0])  # type: ignore[arg-type]
            reading = [following]  # type: ignore[list-item]
        if len(lasts) < 2 or not reading:
            return None
        shared = self.reader.output("result", Field("result", "str", "What the branch taken wrote"))
        renamed: dict[str, str] = {}
        for way in ways:
            old = way[-1].writes[0]
            way[-1].writes = [shared, *way[-1].writes[1:]]
            way[-1].node = None
            renamed[old] = shared
        for step in reading:
            for old in set(step.reads) & lasts:
                _replace_read(step, old, shared)
        self.plan.understood.append(
            f"each branch of '{router.id}' writes `{shared}`, which the steps after it read"
        )
        return renamed

    def _send_after_the_writing(self) -> None:
        """ "send personalized notifications by generating content with GPT": a post said
        first, of something given, goes after the model steps and sends what they wrote
        (a call to an API that answers, "send the audio to the transcription API", stays)."""
        blocks = self.plan.blocks
        first = blocks[0] if blocks else None
        if not isinstance(first, Step) or first.args.get("method") != "POST":
            return
        body = first.reads[0] if first.reads else None
        called = re.search(
            rf"\bapi|ocr|transcri|extract|convert|endpoint|{cues.TOOL_APIS}",
            first.instruction,
            re.I,
        )
        if body is None or not self.plan.fields[body].is_input or called:
            return
        if any(
            name in s.reads for s in self.plan.steps() if s is not first for name in first.writes
        ):
            return
        writers = [
            b
            for b in blocks[1:]
            if isinstance(b, Step) and b.kind in ("llm", "classify") and b.writes
        ]
        if not writers or any(not isinstance(b, Step) for b in blocks):
            return
        last = writers[-1]
        blocks.remove(first)
        blocks.insert(blocks.index(last) + 1, first)
        first.reads = [last.writes[0], *first.reads[1:]]
        first.args["body"] = f"{{{last.writes[0]}}}"
        self.plan.forget_if_unread(body)
        self.plan.understood.append(f"'{first.id}' sends what '{last.id}' wrote, at the end")

    def _nothing_twice_in_a_row(self) -> None:
        """ "a human reviews it, and only the approved version is sent": one approval, not
        two in a row (the second would ask the same person the same thing again); likewise
        one post, not two in a row of the same thing to the same address."""
        blocks = self.plan.blocks
        for index in range(len(blocks) - 1, 0, -1):
            this, before = blocks[index], blocks[index - 1]
            if not isinstance(this, Step) or not isinstance(before, Step):
                continue
            same_post = (
                this.kind == before.kind == "http_request"
                and this.args.get("method") == before.args.get("method") == "POST"
                and this.args.get("url") == before.args.get("url")
                and this.args.get("body") == before.args.get("body")
            )
            if same_post or this.kind == before.kind == "approval":
                del blocks[index]
                for name in this.writes:
                    self.plan.forget_if_unread(name)

    def _keep_last(self) -> None:
        """A request that opens with where the result is kept ("Logs calls to a sheet.
        Captures ... and a transcript summary.") keeps the last result, at the end."""
        blocks = self.plan.blocks
        first = blocks[0] if blocks else None
        saves = lexicon.verb(first.does) if isinstance(first, Step) else None
        keeps = saves is not None and saves.role == "save"
        later = [b for b in blocks[1:] if isinstance(b, Step) and b.kind in ("llm", "classify")]
        if not keeps or not later or not isinstance(first, Step):
            return
        subject = first.reads[0] if first.reads else None
        if subject is None or not self.plan.fields[subject].is_input:
            return
        blocks.remove(first)
        blocks.append(first)
        result = _main_output(later[-1], self.plan) or subject
        first.reads = [result, *first.reads[1:]]
        for key in ("content", "body"):
            if key in first.args:
                first.args[key] = first.args[key].replace(f"{{{subject}}}", f"{{{result}}}")
        self.plan.understood.append(f"'{first.id}' keeps the result at the end")

    def _independent_analyses(self) -> None:
        """Two or more model steps that read the same thing and are then combined
        ("analyze the sentiment, the topics and the entities, then merge them") run at once."""
        blocks = self.plan.blocks
        for end, block in enumerate(blocks):
            if not (isinstance(block, Step) and block.does in lexicon.JOIN_VERBS):
                continue
            start = end
            while (
                start > 0
                and isinstance(blocks[start - 1], Step)
                and blocks[start - 1].kind in ("llm", "classify")
                and blocks[start - 1].does not in lexicon.JOIN_VERBS
            ):
                start -= 1
            run = [b for b in blocks[start:end] if isinstance(b, Step)]
            sources = {tuple(step.reads[:1]) for step in run}
            written = {name for step in run for name in step.writes}
            if len(run) >= 2 and len(sources) == 1 and not (set(run[0].reads) & written):
                blocks[start:end] = [Parallel(self.reader.step_id("parallel"), run)]
                self.plan.understood.append(f"{', '.join(s.id for s in run)} run at the same time")
                return

    def add_loop(self, modifiers: Modifiers) -> None:
        """The bounded loop the words ask for: back to what a review scores (a review is
        added when none was said), else over the last step."""
        plan = self.plan
        reader = self.reader
        steps = [block for block in plan.blocks if isinstance(block, Step)]
        if not steps:
            return
        bound = modifiers.bound if modifiers.bound is not None else DEFAULT_ROUNDS
        if modifiers.bound is None:
            plan.guessed.append(
                f"No limit was given for the repeat, so it stops after {bound} rounds"
            )
            plan.question = Question(
                "How many rounds at most?",
                [Choice(f"{n} rounds", f"loop at most {n} times") for n in (3, 5, 10)],
            )
        bound = min(max(bound, 1), MAX_ROUNDS)
        reviews = [s for s in steps if s.kind == "review"]
        language = [s for s in steps if s.kind in ("llm", "classify")]
        joins = lexicon.JOIN_VERBS | {"summarize", "synthesize", "select", "compile", "write"}
        if not reviews and patterns.PER_ITEM.search(plan.request) and not modifiers.threshold:
            # "process each document separately, and finally aggregate the results": the
            # step per item repeats; what joins them runs once, after. No review is added:
            # going over items is no judging of a result.
            joined = len(language) >= 2 and language[-1].does in joins
            item = language[-2] if joined else (language or steps)[-1]
            if item.does in ("split", "break", "list", "outline", "divide") and item.writes:
                # "split it into sections ... apply a workflow to each section": what is
                # done per item is a step of its own after the split.
                each = reader.model_step(
                    "process_item",
                    "process",
                    sentence(f"Work on one item of the {label(item.writes[0]).lower()}"),
                    [item.writes[0]],
                    "item_result",
                    "The result for one item",
                )
                plan.blocks.insert(plan.blocks.index(item) + 1, each)
                plan.guessed.append(f"I added '{each.id}' that works on each item")
                item = each
            plan.loop = Loop(item.id, item.id, bound, id=reader.step_id("repeat"))
            plan.understood.append(
                f"'{item.id}' repeats per item, at most {bound} times"
                + (f"; '{language[-1].id}' then works on all of them" if joined else "")
            )
            return
        if not reviews and modifiers.repeat and language:
            # What is redone is what was written: a label read is no draft to improve (with
            # no step that writes, what the labels were read from is reviewed, and written
            # anew below).
            target = next((s for s in reversed(language) if s.kind == "llm"), language[-1])
            reviewed = target.writes[0]
            if target.kind != "llm" and target.reads:
                reviewed = target.reads[0]
            review = Step(
                reader.step_id("review"),
                "review",
                "review",
                sentence(f"Review the {label(reviewed).lower()}")
                + " Give a score from 1 to 10 (10 is best) and say briefly what to improve.",
                reads=[reviewed],
            )
            review.writes = [
                reader.output("score", Field("score", "int", "Review score from 1 to 10")),
                reader.output("feedback", Field("feedback", "str", "What to improve")),
            ]
            plan.blocks.insert(plan.blocks.index(target) + 1, review)
            steps = [block for block in plan.blocks if isinstance(block, Step)]
            plan.guessed.append(
                f"I added the review '{review.id}' that scores the result, to know when it is good enough"
            )
            reviews = [review]
        if reviews:
            review = reviews[-1]
            subject = review.reads[0] if review.reads else None
            producers = [s for s in steps[: steps.index(review)] if subject in s.writes]
            body = producers[-1] if producers else steps[0]
            if body.kind in ("classify", "approval") or body.args.get("method") == "POST":
                body = review  # nothing to redo there: what is reviewed is written anew
            if body is review and subject is not None:
                # "another provides evaluation and feedback in a loop": what is reviewed is
                # written first, and written again with the feedback.
                body = reader.model_step(
                    "generate",
                    "generate",
                    sentence(f"Write a response to the {label(subject).lower()}"),
                    [subject],
                    "draft",
                    "The response",
                )
                plan.blocks.insert(plan.blocks.index(review), body)
                review.reads = [body.writes[0], *review.reads[1:]]
                review.node = None
                plan.guessed.append(f"I added '{body.id}' that writes what '{review.id}' reviews")
            if body is review:
                return
            if body.kind == "llm" and "feedback" not in body.reads:
                body.reads.append("feedback")
                body.node = None
            threshold = (
                modifiers.threshold if modifiers.threshold is not None else DEFAULT_THRESHOLD
            )
            plan.loop = Loop(
                body.id, review.id, bound, review.writes[0], threshold, id=reader.step_id("repeat")
            )
            plan.understood.append(
                f"'{body.id}' is redone until `{review.writes[0]}` reaches {threshold:g}, at most {bound} times"
            )
        else:
            last = steps[-1]
            plan.loop = Loop(last.id, last.id, bound, id=reader.step_id("repeat"))
            plan.understood.append(f"'{last.id}' repeats at most {bound} times")


def _condition_and_rest(words: str) -> tuple[str, str]:
    """ "an email needs a reply and drafts it": the condition, and the steps said after it
    (from an "and"/"then" that a verb follows)."""
    tokens = words.split()
    for at, token in enumerate(tokens[1:-1], start=1):
        if token.lower() in ("and", "then") and lexicon.verb(tokens[at + 1]) is not None:
            return " ".join(tokens[:at]), " " + " ".join(tokens[at + 1 :])
    return words.strip(), ""


def _without_heading(text: str) -> str:
    """ "Summarize: Extracts the core intent", "Route: Moves the data where it belongs": a
    heading before a colon names the step the words after it say; only they are read."""
    heading = patterns.HEADING.match(text)
    if heading is None:
        return text
    rest = TOKEN.findall(text[heading.end() :])
    if rest and lexicon.verb(rest[0]) is not None:
        return text[heading.end() :]
    # "Dispatch: Formatted summary delivery to Discord": the step said as a noun.
    if any(token.lower() in lexicon.NOUN_VERBS for token in rest[:3]):
        return text[heading.end() :]
    return text


def _intent_label(action: str) -> str:
    """The label of what a person wants, from the words for it ("roll a die" -> roll_die,
    "check for prime numbers" -> check_prime_numbers)."""
    words = [
        w
        for w in TOKEN.findall(action.lower())
        if w not in lexicon.DETERMINERS and w not in lexicon.PREPOSITIONS
    ]
    return field_name(" ".join(words[:3]), "intent")


def _agent_subject(phrase: Phrase) -> bool:
    """Whether the word before a phrase's verb names an agent of the workflow that does it
    ("a researcher gathers", "a research agent collects"), not a person outside it."""
    tokens = TOKEN.findall(phrase.sentence)
    at = next((i for i, t in enumerate(tokens) if t == phrase.word), 0)
    before = tokens[at - 1].lower() if at > 0 else ""
    outside = lexicon.PEOPLE | lexicon.RECIPIENTS | lexicon.SENDERS
    return is_doer(before) and before not in outside


def _person_subject(sentence: str, word: str) -> bool:
    """Whether a sentence opens with a person outside the workflow doing the verb ``word``
    ("A user submits a resume", "Client submits a form, receives a welcome email"); after
    "when", only the verb of that clause ("When a customer emails support, classify ...")."""
    tokens = [t.lower() for t in TOKEN.findall(sentence)[:4]]
    clause = bool(tokens[:1]) and tokens[0] in ("when", "whenever", "once", "after")
    tokens = tokens[1:4] if clause else tokens[:3]
    if tokens[:1] and tokens[0] in lexicon.DETERMINERS:
        tokens = tokens[1:]
    people = lexicon.RECIPIENTS | lexicon.SENDERS
    opens = len(tokens) >= 2 and tokens[0] in people and lexicon.verb(tokens[1]) is not None
    return opens and (not clause or tokens[1] == word.lower())


def _without_shared_word(heads: list[str]) -> list[str]:
    """Headings that all start with the same word, less it ("Tier A", "Tier B" -> A, B)."""
    firsts = {h.split()[0] for h in heads if len(h.split()) == 2}
    if len(firsts) == 1 and all(len(h.split()) == 2 for h in heads):
        return [h.split()[1] for h in heads]
    return heads


def _led_by(text: str, values: list[str]) -> tuple[str, int] | None:
    """The label a text starts with ("Support emails are posted", "others are ignored",
    "Tier A: ...") and how many words say it, or None."""
    tokens = TOKEN.findall(text)
    if len(tokens) >= 3 and tokens[2] == ":" and field_name(tokens[1].lower()) in values:
        return field_name(tokens[1].lower()), 2  # "Tier A: SMS alert ...": headed by it
    for size in (2, 1):
        said = field_name(" ".join(singular(t.lower()) for t in tokens[:size]))
        if tokens[size - 1 : size] and said in values:
            # "support emails are posted": the label's items are not a step.
            items = tokens[size : size + 1]
            return said, size + (bool(items) and items[0].lower() in lexicon.ITEM_NOUNS)
    return None


def _arrival(text: str, found: re.Match[str]) -> bool:
    """Whether a "when" clause says what starts a run ("When a new email arrives in Gmail,
    classify it"): then it is a trigger, not a condition."""
    if found.group("word").lower() not in ("when", "whenever", "once", "as soon as"):
        return False
    clause = re.split(r"[,;:]", text[found.start() :], maxsplit=1)[0]
    if patterns.ARRIVAL.search(clause):
        return True
    # "When a customer emails support@company.com": a person writing in starts it.
    words = [w.lower() for w in TOKEN.findall(clause)[1:4]]
    words = words[1:] if words and words[0] in lexicon.DETERMINERS else words
    people = lexicon.RECIPIENTS | lexicon.SENDERS
    return len(words) >= 2 and words[0] in people and words[1] in lexicon.WRITING_IN


def _sorts(phrase: Phrase) -> bool:
    """Whether a phrase sorts its subject: a sorting verb over what things are sorted by."""
    if phrase.verb.base not in lexicon.SORTING_VERBS:
        return False
    words = [w for w in phrase.object_tokens() if w not in lexicon.DETERMINERS]
    return bool(words) and words[0] in lexicon.SORTED_BY


def _match_label(word: str, values: list[str]) -> str:
    name = field_name(word)
    for value in values:
        if value == name or singular(name) == singular(value) or value.startswith(singular(name)):
            return value
    return singular(name)


def _main_output(step: Step, plan: Plan) -> str | None:
    if step.kind in ("approval", "file_write") or (
        step.kind == "http_request" and step.args.get("method") == "POST"
    ):
        return step.reads[0] if step.reads else None
    if step.kind == "review":
        return step.reads[0] if step.reads else None
    if step.kind == "classify":
        return step.reads[0] if step.reads else step.writes[0]
    return step.writes[0] if step.writes else None


def interpret(request: str) -> Plan:
    """The plan of a request in words (deterministic; no model)."""
    plan = Plan(request=request.strip())
    text = _clean(request)
    text, modifiers = take_loop(text)
    interpreter = Interpreter(plan)
    given = patterns.GIVEN.match(text)
    if given and head_noun(given.group("what").lower().split()):
        name = head_noun(given.group("what").lower().split()) or "text"
        interpreter.reader.input(name, f"The {label(name).lower()}", guessed=False)
        interpreter.reader.triggered.append(name)
        text = text[given.end() :]
    # "three buttons: approve, reject, or edit": one approval whose choices are branches
    # (added by cues), not three verbs.
    parts = split_sentences(cues.APPROVAL_CHOICES.sub(_choices_read, text))
    for index, part in enumerate(parts):
        interpreter.labels_from_what_follows(parts[index:])
        # "Tier A: send an SMS alert": a heading that is a label says whose branch it is.
        read = part if interpreter.heads_a_branch(part) else _without_heading(part)
        interpreter.read_sentence(read)
        if read != part:
            # "Dispatch: Formatted summary delivery to Discord": a heading names the step
            # the words after it say; it is no cue of its own.
            text = text.replace(part, read, 1)
    interpreter.knowledge(text)
    interpreter.branching(text)
    if not plan.blocks:
        fallback = one_step(request, interpreter.reader.triggered[-1:])
        plan.blocks, plan.fields = fallback.blocks, plan.fields | fallback.fields
        plan.guessed += fallback.guessed
    cues.complete(interpreter, text)
    if cues.revises_after_approval(interpreter) and plan.loop is None:
        modifiers.repeat = True
    interpreter.finish(modifiers)
    plan.drop_unused_fields()
    cues.name_the_input(plan, request)
    plan.description = " ".join(_clean(request).split())
    return plan


def one_step(request: str, inputs: list[str] | None = None) -> Plan:
    """The plan of last resort: one model step that does what was asked, as written."""
    plan = Plan(request=request.strip(), description=" ".join(_clean(request).split()))
    reader = _Reader(plan)
    subject = (inputs or [None])[0] or reader.input(
        "text", "What the request is about", guessed=False
    )
    step = Step(
        "respond",
        "llm",
        "respond",
        sentence(plan.description[:300] or "Answer the request"),
        reads=[subject],
    )
    step.writes = [reader.output("answer", Field("answer", "str", "The answer"))]
    plan.blocks.append(step)
    plan.guessed.append(
        "I found no step I know in the words, so one model step does what you asked"
    )
    return plan

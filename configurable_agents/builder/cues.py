"""Features the request names that no phrase made: one table of cues per feature, one pass
that adds each missing feature where it belongs.

The phrase reader gives each verb phrase its step; a feature said around a verb it reads
otherwise ("the flow reads the whole thread", "everything gets logged to a Postgres audit
table", "Validation code checking if line items add up to the total") is then missing.
After the phrases are read, ``complete`` looks for each feature's cue in the words and,
where the plan lacks that feature, adds the step the cue's own clause says, through the
interpreter's makers (so inputs, names and wiring are the same as for a phrase):

    fetch_in     a service or the web is read from       -> an HTTP GET first
    file_in      a file, PDF, sheet or upload is read     -> a file read first
    calculate    arithmetic is named                      -> a calculator after the step
                                                             that gathers the numbers
    router       the words branch (route, escalate, if ... otherwise) -> a router on the
                                                             classification, else on the
                                                             first model step
    approval     a person approves or takes over          -> an approval before the first
                                                             send (else at the end)
    model step   a plan that only fetches and sends       -> a model step before the send
                 (or ends on what it fetched)                (or at the end)
    send_out     the result goes to a service or person   -> an HTTP POST at the end, one
                                                             per place named (at most 3)
    file_out     the result is kept in a sheet/file/table -> a file write at the end
    labels       branches named outside a label list      -> more branches on the router
    input name   a guessed `text` input                   -> named after what a run is given

What was added is said in ``plan.understood`` ("'fetch' fetches what the words read from"),
so the reply tells the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from configurable_agents.builder import lexicon, patterns
from configurable_agents.builder.phrases import TOKEN, Phrase, branch_labels, table_verb
from configurable_agents.builder.plan import Field, Plan, Route, Router, Step
from configurable_agents.builder.text import field_name, label, sentence


class Interpreter(Protocol):
    """What this pass uses of ``interpret.Interpreter`` (a protocol, so that the
    interpreter can call this module without an import circle)."""

    plan: Plan
    reader: Any

    def file_read(self, phrase: Phrase) -> Step: ...
    def fetch(self, phrase: Phrase) -> Step: ...
    def web_search(self, phrase: Phrase) -> Step: ...
    def calculate(self, phrase: Phrase) -> Step: ...
    def send(self, phrase: Phrase) -> list[Step]: ...
    def file_write(self, phrase: Phrase) -> Step: ...
    def approval(self, phrase: Phrase | None) -> Step: ...
    def language(self, phrase: Phrase) -> Step: ...
    def gate(self, condition: str) -> list[Step]: ...
    def branching(self, text: str, *, cued: bool = False) -> None: ...
    def set_labels(self, field_: str, labels: list[str]) -> None: ...


_I = re.IGNORECASE
# Services that search, read pages or scans, transcribe or enrich: a call to one answers.
TOOL_APIS = (
    r"tavily\w*|serp\w*|jina(?: reader)?|firecrawl|apify|textract|exa(?:\.ai)?|perplexity|"
    r"brave search|deepl|whisper|assemblyai|deepgram|wolfram\w*|google search|bing|apollo|"
    r"clearbit|zoominfo|hunter\.io|yfinance|ebay|etsy"
)
# Services a step talks to over HTTP (the annotation guide's "named service").
_SERVICE = (
    r"(?:slack|discord|telegram|whatsapp|notion|linear|jira|confluence|trello|asana|clickup|"
    r"hubspot|salesforce|pipedrive|zendesk|intercom|freshdesk|crm|cms|wordpress|ghost|shopify|"
    r"gmail|outlook|e-?mail|inbox|calendar|github|gitlab|twitter|x\.com|linkedin|"
    r"reddit|youtube|supabase|airtable|baserow|nocodb|webhook|apis?|endpoints?|rest|graphql|"
    r"channel|thread|server|backend|provider|service|" + TOOL_APIS + r")"
)
_WEB = r"web|website|websites|webpages?|pages?|internet|urls?|rss|feeds?|sites?|sources"
_FILES = (
    r"pdfs?|csv|csvs|xlsx|excel|files?|documents?|docs|attachments?|folders?|spreadsheets?|"
    r"google sheets?|sheets?|uploads?|jsonl?|markdown|txt|google drive|drive|dropbox|"
    r"data ?store|google docs?"
)
_STORE = (
    r"google sheets?|sheets?|spreadsheets?|excel|csv|jsonl?(?: file)?|files?|database|"
    r"db|table|postgres|mysql|sqlite|log|logs|archive|markdown|data ?store|google docs?|docx"
)


@dataclass(frozen=True)
class Cue:
    """One way the words name a feature: ``pattern`` over the whole request."""

    name: str
    feature: str
    pattern: re.Pattern[str]


CUES: tuple[Cue, ...] = (
    Cue(
        "fetch_in",
        "http_request",
        re.compile(
            r"\b(?:reads?|retriev\w*|pulls?|pulled|fetch\w*|gets?|loads?|downloads?|scrap\w*|"
            r"watch\w*|monitor\w*|quer(?:y|ies|ied)|calls?|called|look(?:s|ing)? up|lookups?|"
            r"search(?:es|ing)?|crawl\w*|screenshots?|collect\w*|gather\w*|takes? in)\b"
            rf"[^.;:]{{0,60}}?\b(?:{_SERVICE}|{_WEB})\b"
            r"|\b(?:via|over) https?\b|\bweb search\b|\bsearch the web\b|\bsearch tool\b|"
            r"\b(?:api|https?) (?:calls?|requests?)\b|\b(?:GET|POST) requests?\b"
            # "weather updates daily for a preferred location": data that lives on the web
            r"|\b(?:weather|forecasts?|exchange rates?|stock prices?|headlines|news feeds?)\b"
            # "summarizing weekly activity from a specified Slack channel"
            rf"|\bfrom (?:a |an |the |your |their )?(?:[\w-]+ ){{0,2}}?(?:{_SERVICE}|rss|feeds?)\b"
            # "using Amazon Textract", "based on TavilySearch and Jina"
            rf"|\b(?:using|with|via|based on|through|and) (?:the )?(?:amazon |aws )?(?:{TOOL_APIS})\b",
            _I,
        ),
    ),
    Cue(
        "file_in",
        "file_read",
        re.compile(
            r"\b(?:read\w*|load\w*|upload\w*|import\w*|open\w*|pars\w*|ingest\w*|process\w*|"
            r"source|sources|"
            r"submits?|drops?|extract\w* (?:\w+ )?from)\b"
            rf"[^.;:]{{0,50}}?\b(?:{_FILES})\b"
            r"|\bmulti-file\b|\bfile reading\b"
            # "a document loaded from local memory"
            rf"|\b(?:{_FILES}) (?:loaded|read|uploaded|imported|taken) from\b|\b(?:{_FILES}) rows\b"
            # "pulls the raw numbers from your database", "a folder of scientific articles"
            r"|\b(?:pull|fetch|get|retriev|load|look|grab)\w*(?: up)? [^.;:]{0,40}?\bfrom (?:the |a |an |"
            rf"your |their |our )?(?:(?!(?:{_SERVICE})\b)[\w-]+ ){{0,2}}?(?:{_STORE})\b"
            r"|\b(?:a|the|my|your|their) folders? (?:of|with|full of)\b",
            _I,
        ),
    ),
    Cue(
        "calculate",
        "calculator",
        re.compile(
            r"\b(?:add(?:s)? up|totals?|sums?|summed|averages?|percentages?|calculat\w*|"
            r"comput\w*|tax(?:es)?|arithmetic|subtotals?|how much (?:money|revenue|time)|"
            r"counts? the number)\b|\b(?:dropped|increased|decreased|grew|fell|rose|changed?) by "
            r"(?:more than |over |at least )?\d+\s*%",
            _I,
        ),
    ),
    Cue(
        "send_out",
        "http_request",
        re.compile(
            r"\b(?:post(?:s|ed|ing)?|send(?:s|ing)?|sent|notif(?:y|ies|ied|ication)|alert(?:s|ed)?|"
            r"append(?:s|ed)?|publish\w*|deliver\w*|shar(?:e|es|ed|ing)|forward\w*|push\w*|"
            r"creat(?:e|es|ed)|assign\w*|email(?:s|ed)?|messag(?:e|es|ed)|"
            r"page(?:s|d)?|sync\w*|returns?|escalat\w*|goes|go out|insert\w*|rout(?:e|es|ed|ing)|"
            r"dispatch\w*|moves?|reach(?:es)?)\b"
            # Where it goes is said after a preposition: "posted back into the thread".
            r"[^.;:]{0,40}?\b(?:to|into|onto|on|in|via|through|by)\s+(?:the\s+|a\s+|an\s+|their\s+|"
            rf"your\s+|its\s+)?(?:[\w-]+\s+){{0,2}}?(?:{_SERVICE}|customer|user|owner|manager)\b"
            rf"|\bbecomes? (?:a |an )?(?:[\w-]+ ){{0,2}}?(?:{_SERVICE})\b"
            # "before the actual tool execution", "the `schedule_meeting` tool"
            r"|\btools? (?:calls?|execution)\b|`?\b[a-z]+_[a-z_]+`? tool\b"
            # "an alert", "a nominated human gets pinged": someone is told
            r"|\balerts?\b|\bping(?:s|ed)?\b"
            # "only the approved version reaches the customer", "get an email back"
            r"|\breach(?:es)? (?:the |your |their )?(?:customers?|users?|clients?|recipients?)\b"
            r"|\b(?:an? )?e-?mail back\b|\bauto-?send\w*"
            # "Update the ticket status": a record in the service it lives in
            r"|\bupdat\w* (?:the |its |their )?(?:ticket|deal|contact|issue|card|crm)s?\b"
            # "a Telegram alert", "one tidy Slack digest", "a WordPress draft"
            rf"|\b(?:{_SERVICE}) (?:alerts?|messages?|notifications?|posts?|drafts?|digests?|"
            r"pages?|updates?|replies|tickets?|issues?|tasks?)\b"
            # "updating these fields in your PSA system"
            r"|\b(?:updat\w*|writ\w*|record\w*) [^.;:]{0,40}?\b(?:in|into|to|back to) (?:the |your |"
            r"their )?(?:[\w-]+ ){0,2}?(?:system|platform|ats|app)\b",
            _I,
        ),
    ),
    Cue(
        "file_out",
        "file_write",
        re.compile(
            # "the records in the CRM sheet" are no recording
            r"\b(?:log(?:s|ged|ging)?|sav(?:e|es|ed|ing)|stor(?:e|es|ed|ing)|(?<!the )record(?:s|ed)?|"
            r"append(?:s|ed)?|writ(?:e|es|ing)|written|sync\w*|export\w*|outputs?|archiv\w*|"
            r"keeps?|kept|add(?:s|ed)? (?:a )?rows?|synchroniz\w*|persist\w*|insert\w*|push\w*|"
            r"assembl\w*|puts?|placed|populat\w*|fill(?:s|ed)?|go(?:es)? (?:to|into)|lands? in|"
            r"updat\w*|materializ\w*)\b"
            rf"[^.;:]{{0,60}}?\b(?:{_STORE}|rows?)\b"
            # "outputs a clean XLSX ledger", "produce a multi-sheet Excel workbook", "a PDF
            # document is rendered": a file is made.
            r"|\b(?:outputs?|produc\w*|creat\w*|render\w*|generat\w*|build\w*|export\w*)\b "
            r"(?:(?:a|an|the|new|clean|single|polished|multi-sheet|[\w-]+)\s+){0,3}?"
            r"(?:xlsx|excel|workbook|pdf|notebook|csv|docx|google docs?|google sheets?|"
            r"spreadsheet|markdown file|json file|ledger)\b"
            r"|\b(?:pdf|xlsx|excel|docx|csv)(?: \w+)? (?:is |are )?(?:rendered|generated|created|produced)\b"
            r"|\b(?:db|database|sheet|file)\s+writes?\b"
            # "Outputs actions.csv": a file named by its name
            r"|\b(?:outputs?|writes?|saves?|produc\w*|creat\w*|exports?)\b[^;:]{0,20}?"
            r"\b[\w-]+\.(?:csv|md|json|jsonl|txt|xlsx|pdf|html|docx)\b"
            r"|\bstructured format like (?:excel|csv|json)\b",
            _I,
        ),
    ),
)


# Words that say the workflow takes one of several paths.
ROUTER_CUE = re.compile(
    r"\b(?:rout(?:e|es|ed|ing)|router|branch(?:es|ed|ing)?|dispatch\w*|delegat\w*|"
    r"escalat\w*|depending on|(?:corresponding|appropriate|respective|right|relevant) "
    r"(?:teams?|departments?|queues?|agents?|persons?|people|channels?|owners?|handlers?)|conditional(?:ly)?|(?<!file )paths?|if\b[^.]{1,80}\b(?:otherwise|else)|"
    r"only (?:the )?[\w-]+ (?:ones|items|emails|tickets|messages|leads|requests) (?:are|get|go)|"
    r"only (?:process|handle|answer|accept|respond|repl|forward|rewrite|keep|pass)\w*|"
    r"only (?:the ones|those)|flag\w* (?:anything|any|those|the ones)|discards?)\b",
    _I,
)


def _steps(interpreter: Interpreter) -> list[Step]:
    return interpreter.plan.steps()


def _has(interpreter: Interpreter, kind: str, method: str | None = None) -> bool:
    return any(
        step.kind == kind and (method is None or step.args.get("method") == method)
        for step in _steps(interpreter)
    )


def _phrase(base: str, clause: str) -> Phrase:
    """A phrase with the table's verb ``base`` over the words of the cue's clause."""
    tokens = TOKEN.findall(clause)
    return Phrase(table_verb(base), base, tokens[1:], clause)


def _clause(text: str, match: re.Match[str]) -> str:
    """The sentence part the cue was said in (to its next full stop)."""
    end = re.search(r"[.;:](?=\s|$)", text[match.start() :])  # not the dot of "actions.csv"
    return text[match.start() : match.start() + end.start() if end else len(text)]


def _main_output(interpreter: Interpreter) -> str | None:
    """What the plan's last model step wrote (else the last step's output)."""
    steps = _steps(interpreter)
    # What was written is the result; a label read from a reviewer's answer is not.
    for kinds in (("llm",), ("classify", "review")):
        for step in reversed(steps):
            if step.kind in kinds and step.writes:
                return step.writes[0]
    for step in reversed(steps):
        if step.writes:
            return step.writes[0]
    return None


def _first_at(interpreter: Interpreter, new: list[Step]) -> None:
    """Move the steps just added to the start; the first step that read a guessed input
    reads what they fetched instead (an input no step reads any more goes)."""
    plan = interpreter.plan
    for step in new:
        plan.blocks.remove(step)
    plan.blocks[0:0] = new
    fetched = new[-1].writes[0] if new[-1].writes else None
    if fetched is None:
        return
    # Only a model step is rewired: a tool's arguments name its inputs.
    following = [s for s in plan.steps() if s not in new and s.kind in ("llm", "classify")]
    for step in following:
        inputs = [name for name in step.reads if plan.fields[name].is_input]
        if not inputs:
            continue
        replaced = inputs[0]
        if replaced in new[-1].reads:
            break
        step.reads = [fetched if name == replaced else name for name in step.reads]
        step.instruction = step.instruction.replace(f"{{{replaced}}}", f"{{{fetched}}}")
        plan.forget_if_unread(replaced)
        break


def _where_numbers_are(interpreter: Interpreter, new: list[Step]) -> None:
    """Move the steps just added after the first model step that gathers numbers, else
    before the first model step (which then writes about the result)."""
    plan = interpreter.plan
    for step in new:
        plan.blocks.remove(step)
    models = [
        index
        for index, block in enumerate(plan.blocks)
        if isinstance(block, Step) and block.kind in ("llm", "classify")
    ]
    gathers = [i for i in models if plan.blocks[i].does in lexicon.GATHERS]  # type: ignore[union-attr]
    at = gathers[0] + 1 if gathers else (models[0] if models else len(plan.blocks))
    plan.blocks[at:at] = new


def _added(interpreter: Interpreter, before: int) -> list[Step]:
    return [b for b in interpreter.plan.blocks[before:] if isinstance(b, Step)]


def _approval_before_send(interpreter: Interpreter) -> None:
    """A person approves before the first top-level send, else at the end."""
    plan = interpreter.plan
    before = len(plan.blocks)
    step = interpreter.approval(None)
    plan.blocks.remove(step)
    sends = [
        index
        for index, block in enumerate(plan.blocks[:before])
        if isinstance(block, Step)
        and block.kind == "http_request"
        and block.args.get("method") == "POST"
    ]
    plan.blocks.insert(sends[0] if sends else len(plan.blocks), step)
    plan.understood.append(f"'{step.id}' asks a person to approve, as the words say")


def _model_step_for_results(interpreter: Interpreter) -> None:
    """Every workflow here has a model step: one that only fetches and sends gets one
    before its first send ("forwards user messages to GPT and returns AI-generated
    replies"), and a fetched result that no later step reads gets one at the end ("search
    the web, and return a detailed report")."""
    plan = interpreter.plan
    steps = plan.steps()
    if not steps:
        return
    model = [s for s in steps if s.kind in ("llm", "classify", "review")]
    last = plan.blocks[-1]
    fetched = (
        isinstance(last, Step)
        and last.kind in ("http_request", "file_read")
        and last.args.get("method", "GET") == "GET"
        and bool(last.writes)
    )
    tools = [s for s in steps if s.kind in ("http_request", "file_read", "file_write")]
    if (model or not tools) and not fetched:
        return
    sends = [
        s
        for s in plan.blocks
        if isinstance(s, Step) and s.kind == "http_request" and s.args.get("method") == "POST"
    ]
    target = sends[0] if sends and not model else None
    if fetched:
        subject: str | None = last.writes[0]  # type: ignore[union-attr]
    else:
        subject = (target.reads[0] if target and target.reads else None) or _main_output(
            interpreter
        )
    reader = interpreter.reader
    reader.previous = subject
    before = len(plan.blocks)
    words = plan.request.split(".")[0].strip() or plan.request
    step = interpreter.language(_phrase("answer", f"answer {words}"))
    if step not in plan.blocks[before:]:
        return
    about = label(subject).lower() if subject else "input"
    step.instruction = sentence(f"Work on the {about} as the request asks: {words}")
    if target is not None and step.writes and subject:
        plan.blocks.remove(step)
        plan.blocks.insert(plan.blocks.index(target), step)
        answer = step.writes[0]
        target.reads = [answer if name == subject else name for name in target.reads]
        for key in ("body", "content"):
            if key in target.args:
                target.args[key] = target.args[key].replace(f"{{{subject}}}", f"{{{answer}}}")
    plan.understood.append(f"I added '{step.id}', the model step that works on the result")


def revises_after_approval(interpreter: Interpreter) -> bool:
    """Whether a step after an approval reworks the result ("pauses for human approval,
    collects feedback, and revises"): the approval is asked again, a loop."""
    kinds = [(s.kind, s.does) for s in interpreter.plan.blocks if isinstance(s, Step)]
    approved = next((i for i, (kind, _) in enumerate(kinds) if kind == "approval"), None)
    return approved is not None and any(
        does in lexicon.REWORKS for _, does in kinds[approved + 1 :]
    )


# At most this many sends are added for the words (more is a list to ask about).
MAX_ADDED_SENDS = 3


def _sends(interpreter: Interpreter, text: str) -> None:
    """One send per place the words send to, in different clauses ("writes the score back
    to HubSpot, ... with a Telegram alert"), less the sends the phrases already made."""
    cue = next(c for c in CUES if c.name == "send_out")
    clauses = list(
        dict.fromkeys(
            _clause(text, m)
            for m in cue.pattern.finditer(text)
            # "a new message arrives in Slack": what starts the run
            if not patterns.ARRIVAL.search(m.group(0))
        )
    )
    posts = sum(
        1
        for s in _steps(interpreter)
        if s.kind == "http_request" and s.args.get("method") == "POST"
    )
    for clause in clauses[posts:][:MAX_ADDED_SENDS]:
        if _posted_there(interpreter, clause):
            continue  # "... are posted to Slack": a step posts there already
        interpreter.reader.previous = _main_output(interpreter)
        step = interpreter.send(_phrase("send", clause))[0]
        interpreter.plan.understood.append(
            f"I added '{step.id}' that sends the result where the words say"
        )


_FILE_WORDS = re.compile(rf"\b(?:{_FILES}|{_STORE})\b", _I)


# At most this many reads are added for the words.
MAX_ADDED_FETCHES = 2
_SERVICE_WORD = re.compile(rf"\b({_SERVICE}|rss|feeds?)\b", _I)


def _more_fetches(interpreter: Interpreter, text: str) -> None:
    """One read per service the words read from in different clauses ("gathers every merge
    request ..., reads each thread"), less the reads the plan has: each an HTTP GET of its
    own address input, before the first model step, which reads what they fetched."""
    plan = interpreter.plan
    cue = next(c for c in CUES if c.name == "fetch_in")
    services: list[str] = []
    for match in cue.pattern.finditer(text):
        named = _SERVICE_WORD.search(match.group(0))
        if named:
            services.append(field_name(named.group(1).lower()))
    services = list(dict.fromkeys(services))
    reads = [
        s
        for s in plan.steps()
        if s.kind in ("file_read",)
        or (s.kind == "http_request" and s.args.get("method", "GET") == "GET")
    ]
    if not reads:
        return
    taken = {name for s in reads for name in s.reads}
    # The reads the plan has cover the first services named.
    missing = [svc for svc in services[len(reads) :] if f"{svc}_url" not in taken]
    for service in missing[:MAX_ADDED_FETCHES]:
        _more_fetch(interpreter, service)


def _more_fetch(interpreter: Interpreter, service: str) -> None:
    """An HTTP GET of the ``service``'s own address input, before the first model step,
    which reads what it fetched."""
    plan = interpreter.plan
    name = f"{service}_url"
    if name in plan.fields:
        return
    first_model = next(
        (b for b in plan.blocks if isinstance(b, Step) and b.kind in ("llm", "classify")), None
    )
    interpreter.reader.input(name, f"The {service} address to read from")
    step = Step(
        interpreter.reader.step_id(f"fetch_{service}"),
        "http_request",
        "fetch",
        sentence(f"Fetch from {service}"),
        reads=[name],
        args={"url": f"{{{name}}}", "method": "GET"},
    )
    data = f"{service}_data"
    step.writes = [interpreter.reader.output(data, Field(data, "str", f"What {service} returned"))]
    at = plan.blocks.index(first_model) if first_model in plan.blocks else 0
    plan.blocks.insert(at, step)
    if first_model is not None:
        first_model.reads.append(step.writes[0])
        first_model.node = None
    plan.understood.append(f"'{step.id}' reads from {service}, as the words say")


# Products by name (not "email" or "an API"): a workflow that names one talks to it.
_PRODUCT = re.compile(
    r"\b(slack|discord|telegram|whatsapp|notion|linear|jira|confluence|trello|asana|clickup|"
    r"hubspot|salesforce|pipedrive|zendesk|intercom|freshdesk|wordpress|shopify|github|gitlab|"
    r"linkedin|supabase|airtable|baserow|nocodb|chatwoot|mattermost|twilio|stripe|"
    + TOOL_APIS
    + r")\b",
    _I,
)
# "When a new message arrives in Slack", "a Gmail trigger": the product starts the run.
_STARTS_IN = re.compile(
    r"\b(?:trigger\w*|arriv\w*|new|inbound|incoming|on each|watch\w*|monitor\w*)\W+(?:\w+\W+){0,3}$",
    _I,
)
_READS_FROM = re.compile(
    r"\b(?:from|pull\w*|fetch\w*|read\w*|quer\w*|search\w*|load\w*|using|via|with|based on|"
    r"connect\w* to)\W+(?:\w+\W+){0,2}$",
    _I,
)
MAX_PRODUCT_STEPS = 2


def _named_products(interpreter: Interpreter, text: str) -> None:
    """Each product the words name that no step talks to yet: read first when the words
    read from it or use it ("using Amazon Textract"), else the result is posted there at the
    end ("translating messages in Slack channels"); a product that only starts the run
    ("a new Intercom conversation") is the input. At most two are added."""
    plan = interpreter.plan
    talked = {name for s in plan.steps() if s.kind == "http_request" for name in s.reads}
    said = " ".join(s.instruction.lower() for s in plan.steps() if s.kind == "http_request")
    added = 0
    for match in _PRODUCT.finditer(text):
        product = field_name(match.group(1).lower())
        before = text[max(0, match.start() - 40) : match.start()]
        if f"{product}_url" in talked or match.group(1).lower() in said:
            continue
        if before.rfind("(") > before.rfind(")"):
            continue  # "(importable to Linear/Asana/Notion)": an aside, not a step
        after = text[match.end() : match.end() + 20]
        # "format them for LinkedIn", "write a LinkedIn post": made for it, not sent there.
        made_for = re.search(r"\bfor\W+$", before) or re.match(r"\s+(?:posts?|articles?)\b", after)
        if _STARTS_IN.search(before) or made_for or added >= MAX_PRODUCT_STEPS:
            continue
        talked.add(f"{product}_url")
        added += 1
        guessed = next(
            (
                b
                for b in plan.blocks
                if isinstance(b, Step)
                and b.args.get("method") == "POST"
                and "webhook_url" in b.reads
            ),
            None,
        )
        if _READS_FROM.search(before):
            _more_fetch(interpreter, product)
        elif guessed is not None:
            # A send to a guessed webhook goes to the product the words name.
            address = interpreter.reader.input(
                f"{product}_url", f"The {product} address to post to"
            )
            guessed.reads = [address if r == "webhook_url" else r for r in guessed.reads]
            guessed.args["url"] = f"{{{address}}}"
            plan.forget_if_unread("webhook_url")
            plan.understood.append(f"'{guessed.id}' posts to {product}, as the words say")
        else:
            interpreter.reader.previous = _main_output(interpreter)
            step = interpreter.send(_phrase("send", f"send to {match.group(1)}"))[0]
            plan.understood.append(f"I added '{step.id}' that posts the result to {product}")


def _read_files(interpreter: Interpreter) -> bool:
    """The first HTTP GET whose own words read a file, sheet or database ("pulls the raw
    numbers from your database or spreadsheets") becomes a file read; whether one did."""
    plan = interpreter.plan
    step = next(
        (
            s
            for s in plan.steps()
            if s.kind == "http_request"
            and s.args.get("method", "GET") == "GET"
            and _FILE_WORDS.search(s.instruction)
        ),
        None,
    )
    if step is None:
        return False
    before = list(step.reads)
    path = interpreter.reader.input("path", "A file inside the workspace folder")
    step.kind, step.args, step.reads, step.node = "file_read", {"path": f"{{{path}}}"}, [path], None
    for name in before:
        plan.forget_if_unread(name)
    plan.understood.append(f"'{step.id}' reads a file: the words read from a file or a sheet")
    return True


def _posted_there(interpreter: Interpreter, clause: str) -> bool:
    """Whether a step posts already to a service the clause names ("stores the data in a
    Notion database": kept in Notion by its post)."""
    named = {f"{field_name(m.group(1).lower())}_url" for m in _SERVICE_WORD.finditer(clause)}
    posted = {
        name
        for s in _steps(interpreter)
        if s.kind == "http_request" and s.args.get("method") == "POST"
        for name in s.reads
    }
    return bool(named) and named <= posted


def complete(interpreter: Interpreter, text: str) -> None:
    """Add each feature the words cue and the plan lacks (see the module's table)."""
    plan = interpreter.plan
    reader = interpreter.reader
    if not plan.blocks:
        return
    found = {cue.name: cue.pattern.search(text) for cue in CUES}
    start_reads = _has(interpreter, "http_request", "GET") or _has(interpreter, "file_read")
    converted = found["file_in"] and not _has(interpreter, "file_read") and _read_files(interpreter)
    if found["file_in"] and not _has(interpreter, "file_read") and not start_reads:
        reader.previous = None
        before = len(plan.blocks)
        interpreter.file_read(_phrase("read", _clause(text, found["file_in"])))
        new = _added(interpreter, before)
        _first_at(interpreter, new)
        plan.understood.append(f"'{new[0].id}' reads the file the words name")
    elif found["fetch_in"] and not start_reads and not converted:
        reader.previous = None
        before = len(plan.blocks)
        clause = _clause(text, found["fetch_in"])
        if re.search(r"\bsearch", clause, _I) and not re.search(_SERVICE, clause, _I):
            interpreter.web_search(_phrase("search", clause))
        else:
            interpreter.fetch(_phrase("fetch", clause))
        new = _added(interpreter, before)
        _first_at(interpreter, new)
        plan.understood.append(f"'{new[0].id}' fetches what the words read from")
    _more_fetches(interpreter, text)
    if found["calculate"] and not _has(interpreter, "calculator"):
        reader.previous = _main_output(interpreter)
        before = len(plan.blocks)
        clause = _clause(text, found["calculate"])
        word = found["calculate"].group(0).lower()
        base = "average" if word.startswith("average") else "sum" if "sum" in word else "calculate"
        # Moved next to the numbers' step below: there is no one output to take them from.
        interpreter.calculate(_phrase(base, clause), from_data=False)
        new = _added(interpreter, before)
        _where_numbers_are(interpreter, new)
        plan.understood.append(f"'{new[0].id}' does the arithmetic the words name")
    listed = (_destination_names(m.group("list")) for m in DESTINATIONS.finditer(text))
    places = next((p for p in listed if 2 <= len(p) <= MAX_DESTINATIONS), None)
    if places:
        _route_to_destinations(interpreter, places)
    choices = APPROVAL_CHOICES.search(text)
    if choices:
        _act_on_the_choice(interpreter, choices)
    filtered = FILTER.search(text)
    if filtered and not _has_labels(interpreter):
        _filter_gate(interpreter, text, filtered)
    if ROUTER_CUE.search(text):
        interpreter.branching(text, cued=True)
    _model_step_for_results(interpreter)
    reader.previous = _main_output(interpreter)
    if patterns.APPROVAL.search(text) and not _has(interpreter, "approval"):
        _approval_before_send(interpreter)
    _sends(interpreter, text)
    _named_products(interpreter, text)
    # "stores the data in a Notion database": kept by the post there ("push to Google Sheets
    # and Slack" still writes the sheet).
    clause = _clause(text, found["file_out"]) if found["file_out"] else ""
    sheet = any(w.lower() in lexicon.FILE_PLACES for w in re.findall(r"\w+", clause))
    kept = _posted_there(interpreter, clause) and not sheet
    if found["file_out"] and not _has(interpreter, "file_write") and not kept:
        clause = _clause(text, found["file_out"])
        step = interpreter.file_write(_phrase("save", clause))
        _before_later_sends(interpreter, text, found["file_out"], step)
        plan.understood.append("I added a step that keeps the result where the words say")
    reader.previous = _main_output(interpreter)
    _named_branches(interpreter, text)
    if BRANCH_WORK.search(text):
        _work_per_branch(interpreter)


# "filters out the noise", "select the top 10 articles", "posts non-approved cases": only
# some items go on, a yes/no gate.
FILTER = re.compile(
    r"\bfilter(?:s|ed|ing)?\b(?!\s+(?:by|on)\b)|\bselect(?:s|ed|ing)? (?:only |the )?(?:top|best)\b|"
    r"\bkeeps? only\b|\bnon-approved\b|\bonly (?:the )?(?:new|relevant|important|qualified)\b",
    _I,
)


# "routes the contact to one of four destinations: self-serve nurture, SDR queue or an ops
# alert", "Moves the data where it belongs (Task Manager, Slack, or Archive)": the places
# are the branches, and each branch sends there.
DESTINATIONS = re.compile(
    r"\b(?:rout(?:e|es|ed|ing)|mov(?:e|es|ed|ing)|dispatch\w*|direct(?:s|ed|ing)?|"
    r"forward\w*|deliver\w*|sends? (?:it|them|each \w+))\b(?!\s*:)"
    # "routes requests to specialized crews (Blog, Research)": agents, not places
    r"(?![^.;:()]{0,60}?\b(?:agents?|crews?|handlers?|speciali[sz]\w*|subgraphs?|experts?)\b)"
    r"[^.;:()]{0,60}?"
    r"(?::\s*|\(\s*|\bone of (?:\w+ )?(?:destinations|places|queues|teams|channels|paths)\s*:?\s*)"
    r"(?P<list>[^.;()]+)",
    _I,
)
MAX_DESTINATIONS = 6


def _destination_names(listed: str) -> list[str]:
    """ "self-serve nurture, SDR queue by territory, or an ops alert if anything looks
    wrong" -> self_serve_nurture, sdr_queue, ops_alert."""
    names = []
    for item in re.split(r",\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", listed):
        item = re.split(r"\s+(?:if|when|by|for|with|that|which|so)\b", item.strip(), maxsplit=1)[0]
        words = [w for w in TOKEN.findall(item) if w.lower() not in lexicon.DETERMINERS]
        if not words or len(words) > 4:
            return []
        names.append(field_name(" ".join(words), "place"))
    return list(dict.fromkeys(names))


def _route_to_destinations(interpreter: Interpreter, places: list[str]) -> None:
    """A branch per place the words route to, each an HTTP POST to that place: on the
    router whose branches do nothing yet (relabelled when its labels were guessed or are as
    many), else on a new step that chooses the place."""
    plan = interpreter.plan
    router = next(
        (b for b in plan.blocks if isinstance(b, Router) and not any(r.steps for r in b.routes)),
        None,
    )
    spec = plan.fields[router.field] if router is not None else None
    guessed = spec is not None and any(
        g.startswith("I guessed the labels") and all(v in g for v in spec.values or [])
        for g in plan.guessed
    )
    if router is None or not (guessed or len(router.routes) == len(places)):
        if any(isinstance(b, Router) for b in plan.blocks) and router is None:
            return  # the branches do their own work already
        subject = _main_output(interpreter) or interpreter.reader.input("text", "What to route")
        chooser = interpreter.reader.model_step(
            "choose_destination",
            "choose",
            "Choose where this goes.",
            [subject],
            "destination",
            "Where it goes",
        )
        chooser.kind = "classify"
        plan.blocks.append(chooser)
        router = Router(interpreter.reader.step_id("route"), chooser.writes[0])
        plan.blocks.append(router)
    interpreter.set_labels(router.field, places)
    plan.guessed = [g for g in plan.guessed if not g.startswith("I guessed the labels")]
    plan.understood = [u for u in plan.understood if not u.startswith(f"I made '{router.id}'")]
    body = next(
        (s.reads[0] for s in plan.steps() if router.field in s.writes and s.reads),
        router.field,
    )
    router.routes = [
        Route(
            place, [interpreter.reader.post(place, body, f"Send it to {place.replace('_', ' ')}")]
        )
        for place in places
    ]
    plan.understood.append(
        f"I made '{router.id}' a router with a branch per place the words name: "
        + " / ".join(places)
    )


def _has_labels(interpreter: Interpreter) -> bool:
    """Whether the plan routes already or sorts into labels (a router is made on those)."""
    plan = interpreter.plan
    return any(isinstance(b, Router) for b in plan.blocks) or any(
        s.kind == "classify" and s.writes and plan.fields[s.writes[0]].values for s in plan.steps()
    )


def _filter_gate(interpreter: Interpreter, text: str, match: re.Match[str]) -> None:
    """A yes/no gate where the words filter: before the first step whose verb is said after
    the filter (in the words' order), else at the end."""
    plan = interpreter.plan
    # From the start of the filter's clause: "posts non-approved cases" gates the post.
    opening = max(text.rfind(mark, 0, match.start()) for mark in (",", ".", ";", " and "))
    said = text[opening + 1 :]
    later = [
        index
        for index, block in enumerate(plan.blocks)
        if isinstance(block, Step)
        and block.does not in ("filter", "select", "keep")
        and re.search(rf"\b{re.escape(block.does[:5])}", said, _I)
    ]
    at = later[0] if later else len(plan.blocks)
    previous = [b for b in plan.blocks[:at] if isinstance(b, Step) and b.writes]
    interpreter.reader.previous = previous[-1].writes[0] if previous else None
    before = len(plan.blocks)
    words = re.split(r",|\band\b", _clause(text, match))[0].strip()
    interpreter.gate(f"it passes the filter the words name ({words})")
    new = plan.blocks[before:]
    del plan.blocks[before:]
    plan.blocks[at:at] = new


def _before_later_sends(
    interpreter: Interpreter, text: str, match: re.Match[str], step: Step
) -> None:
    """A file write goes before the first send to a service the words name after the file
    ("push to Google Sheets and Slack": the sheet, then Slack)."""
    blocks = interpreter.plan.blocks
    for index, block in enumerate(blocks):
        if block is step:
            return
        if not isinstance(block, Step) or block.args.get("method") != "POST":
            continue
        service = next((r[:-4] for r in block.reads if r.endswith("_url")), "webhook")
        said = re.search(rf"\b{re.escape(service.replace('_', ' '))}", text[match.end() :], _I)
        if service != "webhook" and said:
            blocks.remove(step)
            blocks.insert(index, step)
            return


# "three buttons: approve, reject, or edit", "a one-tap Approve / Edit / Discard": what the
# person chooses, each a branch after the approval.
_CHOICE = r"(?:approve|accept|reject|decline|discard|edit|revise|request changes|cancel|skip)"
APPROVAL_CHOICES = re.compile(
    rf"\b(?P<list>{_CHOICE}(?:\s*(?:\([^)]*\))?\s*(?:,|/|\bor\b|, or|\band\b)\s*{_CHOICE}){{1,3}})\b",
    _I,
)
_STOPS = frozenset({"reject", "decline", "discard", "cancel", "skip"})
_REWORKS = frozenset({"edit", "revise", "request_changes"})


def _act_on_the_choice(interpreter: Interpreter, match: re.Match[str]) -> None:
    """After the first approval, a model step reads which choice the person's answer makes
    and a router takes it: approving goes on, rejecting stops, editing revises the result
    with the comment."""
    plan = interpreter.plan
    approval = next((b for b in plan.blocks if isinstance(b, Step) and b.kind == "approval"), None)
    if approval is None or not approval.writes:
        return
    words = re.findall(_CHOICE, match.group("list"), _I)
    values = list(dict.fromkeys(field_name(w.lower()) for w in words))
    if len(values) < 2 or not any(v in ("approve", "accept") for v in values):
        return
    reader = interpreter.reader
    subject = approval.reads[0] if approval.reads else approval.writes[0]
    comment = approval.writes[0]
    choose = reader.model_step(
        "read_choice",
        "classify",
        sentence(f"Which did the reviewer choose: {', '.join(values)}? Read their answer"),
        [comment],
        "choice",
        "What the reviewer chose",
    )
    choose.kind = "classify"
    at = plan.blocks.index(approval) + 1
    plan.blocks.insert(at, choose)
    interpreter.set_labels(choose.writes[0], values)
    router = Router(reader.step_id("route"), choose.writes[0])
    for value in values:
        if value in _STOPS:
            router.routes.append(Route(value, [], stop=True))
        elif value in _REWORKS:
            revise = reader.model_step(
                "revise",
                "revise",
                sentence(f"Revise the {label(subject).lower()} as the reviewer asks"),
                [subject, comment],
                f"revised_{subject}",
                f"The revised {label(subject).lower()}",
            )
            router.routes.append(Route(value, [revise]))
        else:
            router.routes.append(Route(value, []))
    plan.blocks.insert(at + 1, router)
    plan.understood.append(
        f"I made '{router.id}' a router on what the reviewer chooses: {' / '.join(values)}"
    )


# A classification offers at most this many labels (more is a list, not a choice).
MAX_LABELS = 8


def _named_branches(interpreter: Interpreter, text: str) -> None:
    """The first router on a classification gets a branch for each label the words name
    elsewhere (see ``phrases.branch_labels``); each goes straight on."""
    plan = interpreter.plan
    for block in plan.blocks:
        if not isinstance(block, Router):
            continue
        spec = plan.fields[block.field]
        if not spec.values or set(spec.values) <= {"yes", "no"}:
            continue
        # "Classifies each as reply needed, fyi, noise, or action item. Drafts replies for
        # the reply-needed ones. Archives the noise": where sentences act on several labels,
        # the labels none acts on go straight on, each on its own branch.
        routed = {route.value for route in block.routes}
        if sum(1 for route in block.routes if route.steps) >= 2:
            block.routes += [Route(value, []) for value in spec.values if value not in routed]
        # "Sales leads get ..." names the label sales_lead already there, not a new one.
        added = [
            v
            for v in branch_labels(text)
            if not any(value == v or value.startswith(f"{v}_") for value in spec.values)
        ]
        added = added[: max(MAX_LABELS - len(spec.values), 0)]
        if added:
            interpreter.set_labels(block.field, [*spec.values, *added])
            block.routes += [Route(value, []) for value in added]
            plan.understood.append(f"'{block.id}' also has branches {' / '.join(added)}")
        return


# "routes to specialized agents", "each category connects to a different reply node": each
# branch does its own model work.
BRANCH_WORK = re.compile(
    r"\b(?:speciali[sz]ed|specialist|specific|different|dedicated|separate|own)\s+"
    r"(?:[\w-]+\s+){0,2}?(?:agents?|crews?|handlers?|nodes?|prompts?|chains?|flows?|"
    r"subgraphs?|replies|responses|handling)\b"
    r"|\b(?:appropriate|right|relevant|corresponding|matching)\s+(?:handlers?|agents?|specialists?)\b",
    _I,
)


def _work_per_branch(interpreter: Interpreter) -> None:
    """Each branch of a router whose branches do nothing yet gets a model step that handles
    the case as its label says."""
    plan = interpreter.plan
    reader = interpreter.reader
    for block in plan.blocks:
        if not isinstance(block, Router) or len(block.routes) < 2:
            continue
        if any(route.steps or route.stop for route in block.routes):
            continue
        chooser = next((s for s in plan.steps() if block.field in s.writes), None)
        subject = chooser.reads[0] if chooser and chooser.reads else block.field
        for route in block.routes:
            step = reader.model_step(
                f"handle_{route.value}",
                "handle",
                sentence(
                    f"Handle the {label(subject).lower()} as a "
                    f"{route.value.replace('_', ' ')} case and write the answer"
                ),
                [subject],
                f"{route.value}_reply",
                f"The {route.value} answer",
            )
            route.steps.append(step)
        plan.understood.append(f"each branch of '{block.id}' has its own model step")
        return


def name_the_input(plan: Plan, text: str) -> None:
    """A guessed input named `text` takes the name of what the request says a run is given
    (``lexicon.PAYLOADS``: "Analyzes suspicious emails" -> `email`), everywhere it is used."""
    spec = plan.fields.get("text")
    if spec is None or not spec.is_input:
        return
    words = [w.lower() for w in TOKEN.findall(text)]
    # A request about "the text" keeps the name it gave.
    if "text" in words:
        return
    name = next((lexicon.PAYLOADS[w] for w in words if w in lexicon.PAYLOADS), None)
    if name is None or name in plan.fields:
        return
    plan.rename_field("text", name)
    plan.guessed = [
        f"I guessed the input '{name}'" if g == "I guessed the input 'text'" else g
        for g in plan.guessed
    ]


def cued(text: str) -> list[str]:
    """The features the words cue (for tests and the benchmark's report)."""
    return sorted({cue.feature for cue in CUES if cue.pattern.search(text)})

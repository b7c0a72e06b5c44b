"""The language of requests, as tables: what each verb does, which words name services,
files, the web, conditions and people, what is noise. ``interpret`` is the one reader of
these tables; a new phrasing is a new row here, not a new branch there.

Every table is data: sets of words kept as prose (``word_set``) or dicts. The corpus test
(tests/unit/builder/test_corpus.py) measures what they cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from configurable_agents.builder.text import NUMBER_WORDS, STOPWORDS, word_set


@dataclass(frozen=True)
class Verb:
    """A verb and its role.

    Roles of language steps (an llm node): ``create`` (the object is what the step
    produces), ``transform`` (the object is read, the answer is ``output``), ``review``
    (scored, with feedback), ``revise`` (rewritten in place), ``classify`` (one of some
    labels). Roles that are not language: ``fetch`` (an HTTP GET when the object is on the
    web), ``send`` (an HTTP POST to a service), ``save`` (a file write), ``read`` (a file
    read), ``calculate``, ``approve``, ``route`` (a router on a label), ``filter`` (a
    router that stops some labels), ``trigger`` (what starts a run: its object is an
    input), ``repeat`` (a loop), ``noise`` (says nothing about the graph).
    """

    base: str
    role: str
    output: str | None = None


# base: (role, output field of a language step)
VERB_TABLE: dict[str, tuple[str, str | None]] = {
    # create: the direct object is the output
    "write": ("create", "draft"),
    "draft": ("create", "draft"),
    "compose": ("create", "draft"),
    "create": ("create", "result"),
    "generate": ("create", "result"),
    "produce": ("create", "result"),
    "prepare": ("create", "result"),
    "make": ("create", "result"),
    "build": ("create", "result"),
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
    "find": ("lookup", "findings"),
    "scour": ("lookup", "findings"),
    "browse": ("lookup", "findings"),
    "explore": ("lookup", "findings"),
    "pick": ("create", "choice"),
    "select": ("create", "choice"),
    "choose": ("create", "choice"),
    "personalize": ("create", "result"),
    "enrich": ("create", "enriched"),
    "enhance": ("revise", None),
    "augment": ("revise", None),
    # transform: the direct object is read, the answer has a fixed name
    "summarize": ("transform", "summary"),
    "summarise": ("transform", "summary"),
    "condense": ("transform", "summary"),
    "digest": ("transform", "summary"),
    "shorten": ("transform", "short_version"),
    "translate": ("transform", "translation"),
    "explain": ("transform", "explanation"),
    "clarify": ("transform", "clarification"),
    "describe": ("transform", "explanation"),
    "analyze": ("transform", "analysis"),
    "analyse": ("transform", "analysis"),
    "examine": ("transform", "analysis"),
    "interpret": ("transform", "analysis"),
    "understand": ("transform", "analysis"),
    "qualify": ("transform", "qualification"),
    "screen": ("transform", "screening"),
    "answer": ("transform", "answer"),
    "reply": ("transform", "reply"),
    "respond": ("transform", "reply"),
    "paraphrase": ("transform", "paraphrase"),
    "rephrase": ("transform", "paraphrase"),
    "repurpose": ("transform", "posts"),
    "simplify": ("transform", "simplified"),
    "compare": ("transform", "comparison"),
    "format": ("transform", "formatted"),
    "convert": ("transform", "converted"),
    "transform": ("transform", "converted"),
    "turn": ("transform", "converted"),
    "correct": ("transform", "corrected"),
    "expand": ("transform", "expanded"),
    "research": ("research", "research"),
    "investigate": ("research", "research"),
    "estimate": ("transform", "estimate"),
    "predict": ("transform", "prediction"),
    "forecast": ("transform", "forecast"),
    "rank": ("transform", "ranking"),
    "prioritize": ("transform", "priorities"),
    "prioritise": ("transform", "priorities"),
    "score": ("transform", "score"),
    "decide": ("transform", "decision"),
    "process": ("transform", "processed"),
    "determine": ("transform", "decision"),
    "moderate": ("classify", "verdict"),
    "parse": ("transform", "parsed"),
    "structure": ("transform", "structured"),
    "match": ("transform", "match"),
    "transcribe": ("transform", "transcript"),
    "sanitize": ("revise", None),
    "clean": ("revise", None),
    "standardize": ("revise", None),
    "normalize": ("revise", None),
    "deduplicate": ("revise", None),
    "dedupe": ("revise", None),
    # review: an LLM scores the object and says what to improve
    "review": ("review", None),
    "evaluate": ("review", None),
    "assess": ("review", None),
    "grade": ("review", None),
    "rate": ("review", None),
    "critique": ("review", None),
    "judge": ("review", None),
    "verify": ("review", None),
    "check": ("review", None),
    "validate": ("review", None),
    "audit": ("review", None),
    # revise: the object is rewritten in place
    "revise": ("revise", None),
    "proofread": ("revise", None),
    "rewrite": ("revise", None),
    "improve": ("revise", None),
    "edit": ("revise", None),
    "polish": ("revise", None),
    "refine": ("revise", None),
    "fix": ("revise", None),
    "optimize": ("revise", None),
    # classify: the answer is one of some labels
    "classify": ("classify", "category"),
    "discern": ("classify", "category"),
    "distinguish": ("classify", "category"),
    "categorize": ("classify", "category"),
    "categorise": ("classify", "category"),
    "label": ("classify", "label"),
    "tag": ("classify", "tag"),
    "sort": ("route", None),
    "detect": ("classify", "category"),
    "flag": ("classify", "flag"),
    "triage": ("route", None),
    # tools and control
    "fetch": ("fetch", None),
    "scrape": ("fetch", None),
    "crawl": ("fetch", None),
    "download": ("fetch", None),
    "retrieve": ("fetch", None),
    "pull": ("fetch", None),
    "grab": ("fetch", None),
    "get": ("fetch", None),
    "call": ("fetch", None),
    "query": ("fetch", None),
    "search": ("lookup", "findings"),
    "visit": ("fetch", None),
    "look": ("fetch", None),
    "send": ("send", None),
    "post": ("send", None),
    "notify": ("send", None),
    "alert": ("send", None),
    "publish": ("send", None),
    "push": ("send", None),
    "submit": ("send", None),
    "email": ("send", None),
    "message": ("send", None),
    "forward": ("send", None),
    "share": ("send", None),
    "deliver": ("send", None),
    "schedule": ("send", None),
    "add": ("send", None),
    "update": ("send", None),
    "upload": ("send", None),
    "sync": ("send", None),
    "save": ("save", None),
    "store": ("save", None),
    "log": ("save", None),
    "record": ("save", None),
    "export": ("save", None),
    "append": ("save", None),
    "persist": ("save", None),
    "keep": ("save", None),
    "archive": ("save", None),
    "dump": ("save", None),
    "read": ("read", None),
    "load": ("read", None),
    "open": ("read", None),
    "import": ("read", None),
    "calculate": ("calculate", None),
    "compute": ("calculate", None),
    "sum": ("calculate", None),
    "total": ("calculate", None),
    "average": ("calculate", None),
    "multiply": ("calculate", None),
    "approve": ("approve", None),
    "confirm": ("approve", None),
    "route": ("route", None),
    # "Switches on the AI classification": a switch node branches.
    "switch": ("route", None),
    "dispatch": ("route", None),
    "distribute": ("route", None),
    "assign": ("route", None),
    "escalate": ("route", None),
    "direct": ("route", None),
    "filter": ("filter", None),
    "drop": ("filter", None),
    "block": ("filter", None),
    "discard": ("filter", None),
    "skip": ("filter", None),
    "ignore": ("filter", None),
    "monitor": ("trigger", None),
    "ingest": ("trigger", None),
    "accept": ("trigger", None),
    "watch": ("trigger", None),
    "listen": ("trigger", None),
    "receive": ("trigger", None),
    # "Enter multiple documents at once": what a person gives a run.
    "enter": ("trigger", None),
    "trigger": ("trigger", None),
    "capture": ("trigger", None),
    "collect": ("trigger", None),
    "gather": ("trigger", None),
    "repeat": ("repeat", None),
    "regenerate": ("repeat", None),
    "rerun": ("repeat", None),
    "rewind": ("repeat", None),
    "retry": ("repeat", None),
    "iterate": ("repeat", None),
    "loop": ("repeat", None),
    "use": ("noise", None),
    "do": ("noise", None),
    "perform": ("noise", None),
    "conduct": ("noise", None),
    "give": ("noise", None),
    "offer": ("noise", None),
    "handle": ("noise", None),
    "utilize": ("noise", None),
    "facilitate": ("noise", None),
    "implement": ("noise", None),
    "demonstrate": ("noise", None),
    "orchestrate": ("noise", None),
    "apply": ("noise", None),
    "move": ("noise", None),
    "start": ("noise", None),
    "leverage": ("noise", None),
    "help": ("noise", None),
    "enable": ("noise", None),
    "allow": ("noise", None),
    "simplify_process": ("noise", None),
    "streamline": ("noise", None),
    "automate": ("noise", None),
    "run": ("noise", None),
    "require": ("noise", None),
    "need": ("noise", None),
    "provide": ("noise", None),
    "return": ("noise", None),
    "ensure": ("noise", None),
    "support": ("noise", None),
    "save_time": ("noise", None),
    "integrate": ("noise", None),
    "connect": ("noise", None),
    "combine": ("create", "combined"),
    "synthesize": ("create", "synthesis"),
    "style": ("revise", None),
    "merge": ("create", "combined"),
    "aggregate": ("create", "combined"),
    "consolidate": ("create", "combined"),
    "compile": ("create", "report"),
    "break": ("create", "parts"),
    "split": ("create", "parts"),
    "divide": ("create", "parts"),
    "report": ("create", "report"),
}

# Irregular forms and the past participles people write in descriptions.
IRREGULAR = {
    "wrote": "write",
    "written": "write",
    "made": "make",
    "chose": "choose",
    "chosen": "choose",
    "sent": "send",
    "built": "build",
    "got": "get",
    "kept": "keep",
    "found": "find",
    "read": "read",
}

# Words that are verbs in the table but, right after "a", "the" or an adjective, are
# nouns: they never start a step there ("a draft", "the summary").
NOUN_TOO = word_set(
    """draft list plan design outline report post message email query search call record
    log total average sum answer reply score review tag label flag filter update alert
    forecast structure format schedule store keep look turn use help run need support
    sort design research estimate check edit import export share trigger loop repeat
    process"""
)


# What a verb's role makes of a phrase: the first row whose condition the phrase's words
# meet. A condition is words that must all hold: "web" (a URL, page, feed, API...),
# "service" (Slack, Notion, mail...), "storage" (a file, sheet, document...), "strong"
# (a verb that sends on its own, unlike "add" or "update"), "!x" (x is not mentioned),
# "" (always). Makes: language (a model step), fetch (HTTP GET), send (HTTP POST),
# file_write, file_read, calculate, approval, input (the phrase names what starts a run),
# route (a router), create (a model step with a result of its own), search (a web search
# for the subject), search_then_language (a web search, then the model step), nothing.
# Conditions besides those: "model" (a language model is named), "bare" (no words after the
# verb), "file" (a file is named), "notice" (people are told about something),
# "by_service" (made using a named product), "fetched" (an earlier step fetched from the
# web).
ROLE_STEPS: dict[str, list[tuple[str, str]]] = {
    "language": [("", "language")],
    # "find companies using Exa.ai", "search the web": a lookup on a service is a request.
    # "research a topic": sources are searched on the web, then the model writes it up.
    "research": [("storage", "language"), ("", "search_then_language")],
    # A bare "search" (a search path, "then search") searches the web.
    "lookup": [("web", "fetch"), ("service", "fetch"), ("bare", "search"), ("", "language")],
    # "compile a report into a Notion table": written, then sent; "create them in
    # Spotify", "write the results back to Airtable": a record made there; the same into a
    # sheet or a file is a file write.
    "create": [
        ("destination content storage", "write_then_save"),
        ("destination content", "write_then_send"),
        ("destination model !storage", "write_then_send"),
        ("destination storage", "file_write"),
        ("destination", "send"),
        ("by_service !model", "send"),
        ("", "language"),
    ],
    # "transforms descriptions into workflow .json files": written, then kept in a file.
    "transform": [("destination file", "write_then_save"), ("", "language")],
    "fetch": [
        ("web", "fetch"),
        ("service", "fetch"),
        ("storage", "file_read"),
        ("strong", "fetch"),
        ("", "input"),
    ],
    "read": [
        ("web", "fetch"),
        ("service", "fetch"),
        ("storage", "file_read"),
        ("fetched", "fetch"),
        ("", "input"),
    ],
    "trigger": [("storage", "file_read"), ("web", "fetch"), ("", "input")],
    # "receives tickets through a webhook": what arrives is what a run is given.
    "arrive": [("", "input")],
    "send": [
        # "notifies clients about their tasks": a notice is written for them, then sent.
        ("notice !content", "write_then_send"),
        ("storage !service", "file_write"),
        ("service", "send"),
        ("strong", "send"),
        ("", "create"),
    ],
    "save": [("service !storage", "send"), ("", "file_write")],
    "calculate": [("", "calculate")],
    "approve": [("", "approval")],
    "route": [("", "route")],
    "filter": [("", "route")],
    # "a prompt returns one of bug, question or noise": a classification.
    "noise": [("labels", "classify"), ("", "nothing")],
    "repeat": [("", "nothing")],
}
# Verbs that, with a named service, post there ("flagged in Slack", "surfaced in Teams").
POSTED_TO = frozenset({"flag", "surface", "highlight"})
# Amounts: checking them is arithmetic, a calculator step.
QUANTITIES = word_set("total totals sum sums subtotal subtotals amount amounts balance balances")
# Roles of a step that a condition said with it can guard.
GUARDABLE_ROLES = frozenset({"send", "save", "language", "transform"})
# Words after "if"/"when" that say who or when, not a condition on the data.
NOT_CONDITIONS = word_set(
    "we i you there someone somebody anyone one people users needed necessary possible ready done"
)
# Words that make a step a gate: what fails it goes no further.
GUARDRAILS = word_set("guardrail guardrails safeguard safeguards")
# Verbs that bring the results of several steps together: the join of a parallel group.
JOIN_VERBS = frozenset(
    {"combine", "merge", "aggregate", "compile", "consolidate", "join", "synthesize"}
)
# Verbs that send or fetch only when a service or the web is named ("add it to Notion",
# "get the page"); alone they say nothing about a tool.
WEAK = frozenset({"add", "update", "share", "schedule", "sync", "get", "retrieve", "look"})
# Verbs that say only "do": with a noun of an action as their object ("performs sentiment
# analysis", "creates meeting summaries") the step is that action.
GENERIC = frozenset(
    {
        "create",
        "generate",
        "produce",
        "make",
        "prepare",
        "perform",
        "give",
        "provide",
        "conduct",
        "automate",
        "run",
        "handle",
        "offer",
        "do",
        "apply",
        "use",
        "move",
        "start",
    }
)
# Nouns of actions: a step said as a noun ("sentiment analysis", "through ideation,
# editing and publishing").
NOUN_VERBS = {
    "analysis": "analyze",
    "analyses": "analyze",
    "summary": "summarize",
    "summaries": "summarize",
    "summarization": "summarize",
    "digest": "summarize",
    "translation": "translate",
    "translations": "translate",
    "classification": "classify",
    "categorization": "categorize",
    "review": "review",
    "reviews": "review",
    "screening": "screen",
    "comparison": "compare",
    "confirmation": "approve",
    "approval": "approve",
    "ideation": "brainstorm",
    "research": "research",
    "reconciliation": "compare",
    "preparation": "prepare",
    "retrieval": "fetch",
    "matching": "match",
    "aggregation": "aggregate",
    "drafting": "draft",
    "response": "respond",
    "responses": "respond",
    "delivery": "send",
    "extraction": "extract",
    "recommendation": "recommend",
    "recommendations": "recommend",
    "enrichment": "enrich",
    "scoring": "score",
    "prioritization": "prioritize",
    "moderation": "moderate",
    "notification": "notify",
    "notifications": "notify",
    "generation": "generate",
    "validation": "validate",
    "evaluation": "evaluate",
    "detection": "detect",
    "transcription": "transcribe",
    "tagging": "tag",
    "reporting": "report",
    "scraping": "scrape",
    "alerts": "alert",
    "forecasting": "forecast",
    "proofreading": "proofread",
    "critique": "critique",
    "outline": "outline",
    "outlines": "outline",
    "qualification": "qualify",
    "triage": "triage",
    "routing": "route",
    "filtering": "filter",
    "logging": "log",
    "calculation": "calculate",
    "calculations": "calculate",
    "verification": "verify",
    "optimization": "optimize",
    "reading": "read",
    "interpretation": "interpret",
    "sentiment": "analyze",
    "styling": "style",
    "formatting": "format",
    "editing": "edit",
    "rewriting": "rewrite",
    "synthesis": "synthesize",
    "deduplication": "deduplicate",
    "personalization": "personalize",
    "ranking": "rank",
}


def _forms(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "ing"}
    if base.endswith("e"):
        forms |= {base + "d", base[:-1] + "ing"}
    if base.endswith(("s", "sh", "ch", "x", "z")):
        forms |= {base + "es", base + "ed"}
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base[-1] in "tgpnmb" and base[-2:-1] in "aeiou" and base[-3:-2] not in "aeiou":
        forms |= {base + base[-1] + "ed", base + base[-1] + "ing"}
    return forms


VERBS: dict[str, Verb] = {}
for _base, (_role, _output) in VERB_TABLE.items():
    if "_" in _base:
        continue
    for _form in _forms(_base):
        VERBS.setdefault(_form, Verb(_base, _role, _output))
for _form, _base in IRREGULAR.items():
    VERBS[_form] = Verb(_base, *VERB_TABLE[_base])


def verb(word: str) -> Verb | None:
    """The verb a word is a form of, or None ("auto-archives" is a form of "archive",
    "self-corrects" of "correct")."""
    word = word.lower()
    for prefix in ("auto-", "self-"):
        if word.startswith(prefix):
            word = word[len(prefix) :]
    return VERBS.get(word)


# Named services reached over HTTP (mail, chat, CRMs, task trackers, web APIs).
SERVICES = word_set(
    """slack telegram discord notion mattermost clickup linear pipedrive crm jira hubspot
    salesforce trello asana teams whatsapp twitter linkedin wordpress gotenberg api apis
    webhook webhooks endpoint http rest sms twilio calendar zendesk airtable mailchimp
    shopify stripe github gitlab todoist monday zapier odoo freshdesk intercom medium
    facebook instagram reddit youtube gmail outlook smtp spotify baserow supabase
    quickbooks"""
)
# Words for when something happens ("every morning", "each week").
TIME_WORDS = word_set(
    """morning evening night day days week weeks month months hour hours minute minutes
    monday tuesday wednesday thursday friday saturday sunday weekday weekend year quarter"""
)
# Verbs of what comes to the workflow: their object is an input wherever it comes from.
RECEIVING = frozenset({"receive", "accept"})
# Words for what a classification answered ("post the classification to Slack").
THE_LABEL = word_set("classification category label categorization")
# What a person does that starts a run when they do it ("when a customer emails ...").
WRITING_IN = word_set("emails writes messages texts calls replies books sends asks contacts")
# What is written in answer to a message: "drafts a reply" answers the run's message.
ANSWERS = word_set("reply response answer")
# Where mail is read: "check my inbox" fetches from it.
MAILBOXES = word_set("email emails inbox mail mailbox gmail outlook")
# Ways of reaching someone that are not a named product: a send over them is an HTTP call,
# but "a reply to the email" does not go anywhere.
CHANNELS = word_set("mail inbox channel chat email emails server service backend database")
# Ways of reaching someone that are places inside a named product ("a Slack channel").
PLACES_IN_A_PRODUCT = word_set("channel chat server service backend database")
# Services that are places to keep rows: a save there is a file write.
STORAGE = word_set(
    """file files disk folder workspace sheet sheets spreadsheet spreadsheets csv excel
    table log logs document documents doc docs drive dropbox pdf txt markdown md json
    knowledge base"""
)
# Places that are plainly files: "write it to a sheet" keeps it there ("changes to make to
# the document" does not).
FILE_PLACES = word_set("file files folder sheet sheets spreadsheet spreadsheets csv excel json")
# Things on the web: fetching them is an HTTP GET.
WEB = word_set(
    """url urls page pages webpage webpages web website websites site sites link links
    feed feeds rss api apis endpoint http https html internet online news headlines
    weather stock price prices forecast papers arxiv wikipedia search analytics reddit
    subreddit subreddits youtube"""
)
# Things that are only words about which model or vendor does the work.
VENDORS = word_set(
    """ai openai openai's gpt gpt-4 gpt-4o gpt-4o-mini gpt-3 gpt-3.5 chatgpt claude
    anthropic anthropic's gemini google's llm llms model models ollama mistral deepseek
    llama huggingface hugging face jina comprehend aws azure cohere groq langchain
    n8n flowise dify langflow crewai agent agents bot chatbot assistant vapi bland
    natural language processing nlp cloud local locally powered ai-powered automatically
    automated automation google microsoft"""
)
# Vendors that are language models: a record made "via OpenAI" is written by a model first.
MODELS = word_set(
    """ai openai openai's gpt gpt-4 gpt-4o gpt-4o-mini gpt-3 gpt-3.5 chatgpt claude anthropic
    anthropic's gemini llm llms ollama mistral deepseek llama ai-powered ai-generated"""
)
# Things a step can draw on besides what it works on: "answers questions using a knowledge
# base" reads the knowledge base first and gives it to every later model step.
KNOWLEDGE = re.compile(
    r"\b(knowledge ?base|faq|documentation|company (?:info|docs)|policies)\b", re.I
)
# Nouns of an aspect of something: "the sentiment of a review" is about the review.
ASPECTS = frozenset(
    {
        "sentiment",
        "tone",
        "topic",
        "entity",
        "keyword",
        "intent",
        "quality",
        "risk",
        "style",
        "grammar",
        "structure",
        "language",
        "mood",
        "emotion",
        "theme",
        "key_point",
        "summary",
    }
)
# People outside the workflow whose sending starts a run ("a prospect fills out a form").
SENDERS = word_set(
    "prospect prospects visitor visitors buyer buyers patient patients student students someone lead"
)
# Verbs whose result is taken from something: a first step with one reads an input.
TAKES_FROM = frozenset({"extract", "identify", "list", "break", "pick", "compile", "merge"})
# What the request builds as a whole: making one is no step of it.
THE_WORKFLOW = word_set(
    """agent workflow automation system pipeline bot chatbot flow app application assistant
    solution"""
)
# Records that live in a tracker or a CRM: making or changing one is a call to it.
RECORDS = word_set("ticket tickets issue issues card cards deal deals contact contacts")
# Things a branch sends somewhere ("sales alert or nurture sequence").
SENT_THINGS = word_set(
    """alert alerts notification notifications email emails message messages ping page
    sequence sequences ticket tickets task tasks invite invitation reminder sms"""
)
# Nouns for the items a label sorts ("support emails", "other ones").
ITEM_NOUNS = word_set(
    """email emails message messages ticket tickets one ones stuff lead leads request requests
    item items review reviews case cases query queries invoice invoices order orders"""
)
# Verbs that sort when their object is what a thing is sorted by ("determines the intent").
SORTING_VERBS = frozenset({"determine", "identify", "detect", "assess", "decide", "tag", "label"})
SORTED_BY = word_set(
    """intent intents sentiment priority priorities urgency category categories type types
    topic topics language tone emotion emotions severity"""
)
# Nouns of things a model writes (a create step at a destination writes one, then sends it).
CONTENT_NOUNS = word_set(
    """report reports summary summaries article articles post posts message messages email
    emails reply replies draft drafts content copy newsletter digest note notes letter
    description descriptions title titles caption captions answer answers proposal plan
    outline story essay poem tweet tweets announcement response responses task tasks script
    scripts"""
)
# Words that make the step conditional: its object must be of this kind.
CONDITIONS = word_set(
    """qualified unqualified relevant irrelevant urgent positive negative
    high-scoring low-scoring high-priority spam invalid rejected
    critical angry unhappy happy incomplete suspicious toxic risky high-value
    low-confidence high-urgency"""
)
# Words that name a person who approves.
# People a notice is written for ("notifies clients about their tasks").
RECIPIENTS = word_set(
    """client clients customer customers user users subscriber subscribers candidate
    candidates applicant applicants member members employee employees stakeholders"""
)
# Agent nouns that name who does a step, besides PEOPLE and the -er/-or/-ist ones.
DOERS = word_set("agent agents bot bots crew assistant employee model llm ai gpt claude")
DOER_ENDINGS = ("er", "or", "ist", "ant")
PEOPLE = word_set(
    """human person people manager someone somebody colleague boss editor reviewer team
    lead owner me us user admin administrator supervisor approver"""
)

LANGUAGES = word_set(
    """english french spanish german italian portuguese dutch polish swedish norwegian
    danish finnish greek turkish russian ukrainian czech hungarian romanian chinese
    mandarin cantonese japanese korean arabic hebrew hindi bengali urdu persian farsi
    thai vietnamese indonesian malay swahili latin catalan basque irish welsh"""
)

# Nouns that name a number: inputs called this way get a numeric type.
INT_NOUNS = word_set("count quantity age year days hours minutes seconds copies pages limit")
FLOAT_NOUNS = word_set(
    "number amount price budget rate percentage total temperature salary cost weight tax"
)

# Words that only qualify the noun after them: "a short text" is a text.
ADJECTIVES = word_set(
    """short long brief detailed simple good nice small big few several single whole
    full final original given provided input incoming user's users customer's plain raw
    concise clear formal informal friendly professional funny catchy witty one-sentence
    one-line main key important possible personalized tailored optimized structured
    formatted well-formatted suggested relevant appropriate random daily weekly monthly
    each every all any multiple various different specific certain quick context-aware
    ai-generated generated latest recent current incoming existing individual smart
    own their its our your my his her this that these those the a an some new
    automatic automatically detailed comprehensive concise summarized professional
    unread fresh corresponding respective related matching qualified unqualified
    high-quality engaging compelling seo-friendly seo-optimized"""
)

# Nouns that stand for "whatever the user gives": "write about a topic" takes the topic as
# an input, while "write about the sea" is about the sea.
PLACEHOLDERS = word_set(
    """topic subject theme text document doc question query message email mail product
    company brand business person name customer client user url link file idea keyword
    keywords description brief notes note data article input language city country place
    location date event audience title prompt request task goal problem situation decision
    book movie film song job role position recipe ingredients code snippet report paper
    essay letter review feedback complaint ticket issue draft content page website post
    tweet story transcript conversation speech source words sentence paragraph statement
    claim argument resume cv profile requirement requirements spec specification lead
    schema payload order invoice receipt application candidate contract"""
)
# Words that mark a noun as something the user supplies: "a given text", "the user's question".
SUPPLIED = word_set("given user's user users provided incoming input supplied")

DETERMINERS = word_set("a an the this that these those its their his her our my your some any")
PRONOUNS = word_set("it them this that these those everything both they result results output")

# Words after which a step's object ends: what follows says how, where or why.
PREPOSITIONS = (
    "based on",
    "according to",
    "such as",
    "like",
    "about",
    "regarding",
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
    "via",
    "through",
    "against",
    "at",
    "when",
    "if",
    "and",
    "or",
    "before",
    "after",
    "while",
    "within",
    "inside",
    "onto",
    "under",
    "over",
    "without",
    "so",
    "that",
    "which",
    "who",
)

# Words that never name an input (stop-words and the request's own glue).
NOT_A_NAME = STOPWORDS | word_set(
    """unless only else otherwise content data info information result results output
    outputs thing things way process time item items other others new back up out down
    away together once internal external inbound outbound instance ids id existing"""
)

# Numbers people write as words.
NUMBER_PATTERN = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"

# A message of only these words is small talk, not a request: the reply is the help.
SMALL_TALK = word_set(
    """hello hi hey there thanks thank you ok okay yes no good morning evening afternoon
    cheers bye goodbye please test testing"""
)


def verb_of_noun(word: str) -> Verb | None:
    """The verb a noun of an action comes from: the table's ("analysis" -> analyze), else
    by its ending ("clarification" -> clarify, "escalation" -> escalate)."""
    word = word.lower()
    if word in NOUN_VERBS:
        return verb(NOUN_VERBS[word])
    for ending, replacements in (
        ("ification", ("ify",)),
        ("ation", ("ate", "e", "")),
        ("ion", ("e", "")),
        ("ment", ("",)),
    ):
        if word.endswith(ending):
            stem = word[: -len(ending)]
            for replacement in replacements:
                found = verb(stem + replacement)
                if found is not None:
                    return found
    return None


# What a run is given, by the words people use for it: a guessed input named `text` takes
# the first of these the request names ("Analyzes suspicious emails ..." -> email).
PAYLOADS = {
    word: base
    for base, forms in {
        "email": "email emails e-mail e-mails mail mails",
        "message": "message messages dm dms",
        "ticket": "ticket tickets",
        "document": "document documents doc docs pdf pdfs",
        "article": "article articles",
        "resume": "resume resumes cv cvs",
        "review": "review reviews",
        "invoice": "invoice invoices",
        "receipt": "receipt receipts",
        "question": "question questions",
        "query": "query queries",
        "topic": "topic topics",
        "post": "post posts",
        "transcript": "transcript transcripts",
        "feedback": "feedback",
        "lead": "lead leads",
        "order": "order orders",
        "conversation": "conversation conversations",
        "contract": "contract contracts",
        "comment": "comment comments",
        "story": "story stories",
        "issue": "issue issues",
        "complaint": "complaint complaints",
        "request": "request requests",
        "task": "task tasks",
        "tweet": "tweet tweets",
        "form": "form forms submission submissions",
    }.items()
    for word in forms.split()
}

# Nouns that end like an adverb.
NOUNS_IN_LY = frozenset(
    [
        "family",
        "supply",
        "reply",
        "assembly",
        "anomaly",
        "rally",
        "ally",
        "fly",
        "italy",
        "july",
        "monopoly",
        "butterfly",
        "belly",
        "jelly",
        "bully",
        "lily",
        "holly",
        "folly",
    ]
)
# Verbs of a step that reworks what a person sent back (a loop back to the approval).
REWORKS = frozenset({"revise", "refine", "rewrite", "improve", "edit", "rework", "fix", "update"})
# Model steps whose result a calculation works on ("extract the amounts, then total them").
GATHERS = frozenset(
    {"extract", "parse", "match", "categorize", "classify", "validate", "analyze", "identify"}
)

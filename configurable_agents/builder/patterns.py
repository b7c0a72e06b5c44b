"""The request's language as patterns: each row is (what it means, the regular expression
that says it). ``interpret`` applies every row of a table the same way; rows of one
table do not overlap in meaning, so their order says nothing.
"""

from __future__ import annotations

import re

from configurable_agents.builder.lexicon import NUMBER_PATTERN

_I = re.IGNORECASE
_N = NUMBER_PATTERN
_UNITS = (
    r"(?:rounds?|times|iterations?|passes|tries|attempts|loops?|cycles?|revisions?|retries|turns)"
)

# Openings that only say "this is a workflow": removed before reading.
PREAMBLES = [
    re.compile(
        r"^\s*(?:please\s+)?(?:(?:i\s+(?:want|need|would like)|can you|could you|let's|lets)\s+)?"
        r"(?:(?:to\s+)?(?:create|build|make|set up|design|give me|get|write|generate)\s+)?"
        r"(?:me\s+)?(?:an?\s+|the\s+)?(?:new\s+|simple\s+|small\s+)?"
        r"(?:workflow|pipeline|agent|flow|process|automation|chain)\b\s*"
        r"(?:that|which|to|for|who|where|:|-|,)?\s*(?:will\s+|can\s+|should\s+|would\s+)?",
        _I,
    ),
    re.compile(r"^\s*(?:this|the|a|an)\s+(?:\w+[- ])?(?:workflow|template|automation)\s+", _I),
    # "This n8n workflow is designed to analyze ...": what it is for is what it does.
    re.compile(
        r"^\s*(?:is|are|was|has been)\s+(?:designed|built|meant|intended|created|made|set up)"
        r"\s+(?:to|for)\s+",
        _I,
    ),
    # "A real approval workflow with n8n and Slack should work like this: ...": what the
    # workflow is called comes before the colon, what it does after.
    re.compile(
        r"^[^:.]{0,200}?\b(?:works?|goes|runs?|looks?)\s+(?:\w+\s+)?(?:like this|as follows)\s*:\s*",
        _I,
    ),
    re.compile(
        r"^\s*(?:an?\s+)?(?:scheduled|automated|simple|small|daily|ai[- ]powered|\w+)?\s*"
        r"(?:workflow|automation|pipeline)\s+(?:that|which|to)\s+",
        _I,
    ),
]

# "Given a URL, ..." / "Take a text and ...": what the run starts with.
GIVEN = re.compile(
    r"^\s*(?:given|from|with|take|taking|for)\s+(?P<what>(?:an?|the|some)?\s*[\w' -]{1,40}?)\s*,\s*",
    _I,
)

# Loop bounds: "at most 3 rounds", "repeat 3 times", "for 3 iterations", "3 tries max".
LOOP_BOUNDS = [
    re.compile(
        rf"[,;]?\s*(?:with\s+|for\s+|in\s+)?\b(?:at most|up to|no more than|not more than|"
        rf"a maximum of|maximum of|max(?:imum)?\.?|limit(?:ed)? to|limit it to max\.?|cap(?:ped)? at|a limit of)\s+{_N}\s*{_UNITS}?",
        _I,
    ),
    re.compile(
        rf"[,;]?\s*\b(?:repeat|loop|iterate|retry|do)(?: this| it| that| the loop)?\s+{_N}\s+times\b",
        _I,
    ),
    re.compile(rf"[,;]?\s*\b(?:for|in|over)\s+{_N}\s+{_UNITS}", _I),
    # "(configurable, default is 5 turns)", "(configured here as 6 tries)"
    re.compile(
        rf"[,;]?\s*\b(?:default(?:s to| is| of)?|configured (?:here )?(?:as|to)|set to)\s+"
        rf"{_N}\s+{_UNITS}",
        _I,
    ),
    re.compile(rf"[,;]?\s*\b{_N}\s+{_UNITS}\s+(?:at most|at max|at the most|max(?:imum)?)\b", _I),
]
# "until it is good", "until the score is 8 or more": a repeat with a condition.
UNTIL = re.compile(
    r"[,;]?\s*\b(?:and\s+)?(?:repeat\s+|loop\s+|iterate\s+|keep\s+\w+ing\s+)?until\s+"
    r"(?:it\s+is\s+|it's\s+|the\s+\w+\s+is\s+|the\s+score\s+reaches\s+|it\s+scores\s+|"
    r"its\s+score\s+is\s+|they\s+are\s+)?"
    r"(?:(?:at least|above|over)\s+(\d+)|(\d+)\s*(?:or more|\+|or higher|/10)?|[^.,;]{1,90}?)"
    r"(?:\s*/\s*10)?(?=$|[.,;])",
    _I,
)
# Words that say the workflow goes back and does something again.
REPEAT_CUE = re.compile(
    r"\b(?:loops?|looping|looped|iterat\w*|retr(?:y|ies|ied|ying)|repeat\w*|re-?runs?|"
    r"re-?running|regenerat\w*|another chance|try again|rewinds?|self-correct\w*|again|"
    # Going back, and doing a step once per item of a list, are loops too.
    r"goes back|go back|sent back|back for (?:revision|rework)|for (?:each|every) (?:row|item|"
    r"document|file|page|record|entry|line|one)|on each (?:individual )?(?:document|file|row|item)|"
    r"(?:from|to|on) each (?:one|\w+ \w+ individually|\w+ individually)|one (?:item )?at a time|"
    r"for (?:each|every) \w+|of each one|each \w+ (?:separately|individually|in turn)|"
    # "Requests human approval before sending. Allows for revisions and improvements."
    r"allows? for revisions?|over multiple revisions)\b",
    _I,
)
# "process each document separately", "for each subject": one item at a time.
PER_ITEM = re.compile(
    r"\b(?:for (?:each|every)|each (?:\w+ )?(?:separately|individually|in turn)|"
    r"one (?:item )?at a time|(?:on|from|to) each|of each one)\b",
    _I,
)
REPEATEDLY = re.compile(
    r"[,;]?\s*\b(?:in a loop|repeatedly|iteratively|loop back|and repeat|and try again|"
    r"and (?:review|check) (?:it )?again)\b",
    _I,
)

# Sentences and list items.
ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s+(.*\S)\s*$")
# Sentences, and the bullets and arrows people draw between steps ("A \u2192 B \u2192 C").
SENTENCE = re.compile(
    r"(?:(?<=[a-z0-9)\"'*`])|(?<=[A-Z]{2}))[.!?]\s+(?=[A-Z0-9*\[])|\n+|;\s*|\s*[\u2022\u2192\u2193\u21d2]\s*|\s+->\s+|\s+=>\s+"
    # "Reads the info - Crawls the website - Fetches news": a dash between spaces before a
    # capital is a bullet written on one line.
    r"|\s+[-\u2013\u2014]\s+(?=[A-Z])"
    # "... based on the verdict: PASS: sends it. BLOCK: alerts": a label in capitals
    # with a colon heads what its branch does.
    r"|(?<=:)\s+(?=[A-Z][A-Z_]{1,20}:\s)"
    # "... three functions: Triage: Classifies mail": a heading after a colon starts a part.
    r"|(?<=:)\s+(?=[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}:\s)"
)

# A step done by a person: an approval.
APPROVAL = re.compile(
    # A critic, model or agent that "approves" is a review by the model, not by a person.
    r"\b(?:(?<!critic )(?<!model )(?<!agent )(?<!llm )(?<!validator )(?<!evaluator )"
    # "Send the approved email": the approval was asked for before.
    r"(?:(?<!\bthe )approved\b|approv(?!ed\b)\w*)|sign[- ]?off|signs? off|human[- ]in[- ]the[- ]loop|human review|"
    r"manual(?:ly)? (?:review|check|approv\w*)|(?:reviewed|checked|confirmed) by (?:a |an |the )?"
    r"(?:human|person|manager|someone|me|us|team|editor|reviewer|user|admin)|"
    r"for (?:human |manual |your |a |final )?(?:review|approval)|ask (?:me|us|a person|a human)|"
    # "check my email and ask before replying": the person is asked first.
    r"asks? (?:me |us )?(?:first )?before|"
    r"wait(?:s|ing)? for (?:a |an |my |your |our |human |manual )?(?:human|person|confirmation|approval|ok)|"
    r"manual confirmation|human review|approval gate|human (?:gate|checkpoint)|"
    r"(?:human|person|manager|team) (?:reviews?|checks?|approves?|confirms?)|"
    r"someone (?:has to|must|needs to|should) (?:say yes|approve|sign off|confirm)|"
    # "pauses to notify a human agent", "flags it for a human": a person takes over.
    r"pauses? (?:to|for|and) (?:notify|ask|wait)\w*|pauses? before|(?:flag|escalat|hand|pass|notif|send)\w*"
    r"(?: it| them| off| over)? (?:to|for) (?:a |an |the )?human)\b",
    _I,
)

# "if it is short", "unless it is spam", "only when urgent": a condition on a step.
CONDITION = re.compile(
    r"\b(?P<word>if|unless|only if|only when|when|whenever|in case)\s+"
    r"(?:(?P<subject>it|they|the\s+[\w ]{1,30}?|(?:any\s+)?[a-z][\w-]*(?:\s+[a-z][\w-]*)?)\s+"
    r"(?:is|are|has|have|gets?|looks?)\s+)?(?:not\s+)?"
    r"(?:a\s+|an\s+|too\s+|very\s+|marked\s+as\s+|classified\s+as\s+)?(?P<value>[\w-]+)",
    _I,
)
# "if the user wants to roll a die, it should route to a dice-rolling agent": what the
# person asks for is a label of their intent, and what follows the comma its branch.
WANTS = re.compile(
    r"\b(?:if|when|whenever)\s+(?:the\s+\w+|an?\s+\w+|they|he|she|someone|users?|customers?)\s+"
    r"(?:wants?|needs?|asks?|would like|requests?)\s+(?:to\s+|for\s+)?(?P<action>[^,;.]+?)\s*,\s*"
    r"(?:then\s+)?(?P<then>[^;.]+)",
    _I,
)
# "It is designed for semi-automated support triage where ...": who or what it is for; the
# words after "where" say what it does.
FOR_WHOM = re.compile(
    r"^\s*(?:it|this(?:\s+\w+)?|the\s+\w+)\s+(?:is|was|has been)\s+(?:\w+\s+)?"
    r"(?:designed|built|meant|intended|made|ideal|perfect|great)\s+for\b[^,;]*?"
    r"(?:(?:,\s*)?\b(?:where|in which|so that)\b\s*|$)",
    _I,
)
# "when a new email arrives", "when a form is submitted": what starts a run, not a condition.
ARRIVAL = re.compile(
    r"\b(?:arriv\w*|comes? in|(?:is|are|gets?) (?:received|submitted|created|added|uploaded|"
    r"opened|posted|filed|sent)|lands?|signs? up|fills? (?:out|in)|submits?)\b",
    _I,
)
# "decides whether to send it automatically or flag it for human review": a router with a
# branch for each alternative.
DECIDE = re.compile(
    r"\b(?:decid\w*|determin\w*|choos\w*|chooses|checks?|checking)\s+(?:whether|if)\s+(?:to\s+)?"
    r"(?P<first>[^,;.]+?)\s+or\s+(?:to\s+)?(?P<second>[^,;.]+)",
    _I,
)
# "determine whether an email needs a reply": a yes/no gate; what follows runs on yes.
WHETHER = re.compile(
    r"\b(?:decid|determin|check|assess|evaluat|detect|verif|judg)\w*\s+(?:whether|if)\s+"
    r"(?P<condition>[^,;.:]+)",
    _I,
)
# Words that say the workflow branches without saying on what: a router is guessed.
BRANCHING = re.compile(
    r"\b(?:conditional(?:ly)? (?:branch\w*|paths?|routing)|which (?:subsequent |next )?path|"
    r"(?:a|the) gate\b|depending on (?:the )?(?:result|outcome|answer|category|type|intent)|"
    r"(?:different|separate|two|several) (?:paths|branches))\b",
    _I,
)
OTHERWISE = re.compile(r"[,;]?\s*\b(?:otherwise|else|if not)\b,?\s*", _I)

# Lists of labels: "as bug, feature or question", "(urgent, normal)", "like A or B".
LABELS = re.compile(
    r"(?:\b(?:as|into|between|like|such as|either|one of|to)\s+(?:either\s+|one of\s+|the\s+)?|\(|"
    # "determines the intent \u2014 support, sales, or general \u2014 and routes it"
    r"\u2014\s*)"
    r"(?P<list>[\w' -]+(?:\s*(?:,|/|\bor\b|\band\b)\s*[\w' -]+)+)\)?",
    _I,
)
# Words after the last label that name what the labels are ("Spam categories").
LABEL_NOUNS = re.compile(
    r"\s+(?:categor(?:y|ies)|types?|labels?|class(?:es)?|paths?|teams?|handlers?|"
    r"departments?|queues?|buckets?|groups?|folders?)\b",
    _I,
)
LIST_SEPARATOR = re.compile(r"\s*(?:,\s*(?:or\s+|and\s+)?|/|\bor\b|\band\b)\s*", _I)

# "route bugs to an engineer", "send urgent ones to a manager".
ROUTE = re.compile(
    r"\b(?:route|send|forward|escalate|assign|direct|pass)\w*\s+(?:the\s+|all\s+)?"
    # "routes them to ...", "route a query to ...": no label is named.
    r"(?!(?:a|an|the|it|them|this|these|those|each|every|all|any|one)\b)(?P<value>[\w-]+?)"
    r"(?:s|es)?(?:\s+(?:ones|tickets|messages|items|emails|cases|requests))?\s+to\s+(?P<target>.+)$",
    _I,
)

URL = re.compile(r"https?://[^\s,;\"'<>]+[^\s,;.\"'<>)]")
FILENAME = re.compile(r"\b([\w-]+(?:/[\w-]+)*\.(?:md|txt|json|csv|html|yaml|log|xlsx|pdf))\b")
PARALLEL = re.compile(
    r"[,;]?\s*\b(?:in parallel|parallel|simultaneously|at the same time|concurrently|in tandem|"
    r"independently|each of them|"
    r"fan(?:s|ning)? out|branch(?:es|ing)? out|split(?:s|ting)? out)\b",
    _I,
)
# A name written like a product ("Trustpilot", "FT.com"): a service the step talks to.
DOMAIN = re.compile(r"\b[\w-]+\.(?:com|io|ai|org|net|co|app|dev)\b", _I)

# What an approval guards, said after it: "before it leaves", "before sending", "before the
# send": the step after the approval sends.
# "ask before replying": what the person approves is a reply, sent after.
BEFORE_REPLYING = re.compile(
    r"^\W*(?:(?:before|prior to)\s+)?(?:replying|responding|answering|sending (?:a |the )?repl(?:y|ies))\b",
    _I,
)
GUARDS_SEND = re.compile(
    r"^\W*(?:before|until)\s+(?:it|they|anything|the \w+|messages?|emails?|drafts?)?\s*"
    r"(?:is |are |gets? )?(?:leaves?|sent|send(?:ing)?|goes out|go out|publish(?:ed|ing)?|"
    r"posted|deliver(?:ed|y)?)\b",
    _I,
)
# "an approval gate sits between the draft and the send": the step before and after it.
BETWEEN = re.compile(
    r"\bbetween (?:the |a |an )?(?P<first>\w+) and (?:the |a |an )?(?P<second>\w+)", _I
)
# "a drafted client e-mail", "the draft": what a person approves was written by a model.
DRAFTED = re.compile(r"\b(?:drafted|draft|written|generated|ai[- ]drafted)\b", _I)
# "with information from Wikipedia", "using data from the Stripe API": what a step draws on.
DRAWN_FROM = re.compile(
    r"\b(?:with|using|adding)\s+(?:\w+\s+){0,2}?(?:information|data|facts|context|details|"
    r"content|results)\s+from\s+(?:the\s+)?(?P<where>[\w.-]+(?:\s+(?:api|website|site))?)",
    _I,
)
# "into designated teams", "to the right department": labels that are places to go.
INTO_PLACES = re.compile(
    r"\b(?:into|to|between)\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:teams?|departments?|queues?|"
    r"handlers?|paths?|folders?|inboxes|owners?|agents?)\b",
    _I,
)
# "based on sentiment analysis", "depending on their score": what a step depends on.
BASED_ON = re.compile(
    r"\b(?:based on|depending on|according to)\s+(?P<basis>(?:[\w'-]+\s*){1,4})", _I
)
# "Approved content is published ...": a verdict said before, not a person's approval.
APPROVED_BY_MODEL = re.compile(r"^\W*(?:the\s+|all\s+|any\s+)?approved\s+(?=\w+\s)", _I)

# Branch labels named outside a label list (phrases.branch_labels).
# "routes clean invoices to approved path": a branch named by the path it takes.
PATH_LABEL = re.compile(
    r"\b(?:to|down|into|onto|on|the)\s+(?:the\s+|an?\s+)?([a-z][\w-]{2,30})\s+(?:path|branch|lane)\b",
    _I,
)
# 'into five main categories: "Quote Requests," "Product Information," and "Others."'
QUOTED_LIST = re.compile(
    r":\s*((?:[\"\u201c][^\"\u201d]{1,40}[\"\u201d]\s*(?:,|and|or)?\s*){2,})", _I
)
QUOTED = re.compile(r"[\"\u201c]([^\"\u201d]{1,40}?)[,.]?[\"\u201d]")
# "Angry emails hit your best support person. Happy emails go to the upsell team.": a
# sentence that opens with a label of the things it routes.
LABEL_LED = re.compile(
    r"(?:^|[.;]\s+)([A-Za-z][a-z-]{2,20}) (?:emails?|messages?|tickets?|ones|stuff|leads?|"
    r"requests?|items?|reviews?|cases?|queries|invoices?|orders?) (?:go|goes|hit|hits|follow|"
    r"follows|get|gets|are|is|land|lands|move|moves|post|posts|bounce|bounces)\b"
)
# "Triage: ", "Data Structuring: ", "Margin check: ": a heading of up to four words, the
# first capitalised, and a colon.
HEADING = re.compile(r"^\s*(?:\d+\.\s*)?[A-Z][\w&/-]*(?:\s+[\w&/-]+){0,3}\s*:\s+")
# Node names in a chain of arrows ("Webhook -> IF validation -> Google Sheets -> Slack"):
# what each kind of node is.
NODE_TRIGGER = re.compile(r"\b(?:webhook|trigger|schedule|cron|form|chat input)\b", _I)
NODE_BRANCH = re.compile(r"\b(?:switch|if|condition|router|filter)\b", _I)
NODE_MODEL = re.compile(r"\b(?:ai|agent|llm|gpt[\w.-]*|claude|openai|gemini|model|prompt)\b", _I)
NODE_CODE = re.compile(r"\b(?:javascript|code|function|python)\b", _I)
# "Customer replies update CRM records.", "Noise becomes a Friday digest.": a sentence led
# by what it is about (one or two words) and a verb that says where it goes.
LABEL_START = re.compile(
    r"^\s*(?:the\s+)?([A-Za-z][\w-]*(?:\s+[a-z][\w-]*)?)\s+(?:become|becomes|get|gets|go|goes|"
    r"update|updates|hit|hits|land|lands|follow|follows|are\s+(?:sent|routed|posted|logged|"
    r"flagged|ignored|dropped))\b"
)
# "others are ignored", "spam is dropped": what a branch does when it does nothing.
DROPPED = re.compile(
    r"(?:(?:are|is|get|gets|will be)\s+)?(?:ignored|dropped|discarded|skipped|archived|left alone)",
    _I,
)
# "condition -> sales alert or nurture sequence", "routes to either apply changes or save the
# file": the two alternatives a branching word leads to.
EITHER = re.compile(
    r"(?:\u2192|->|\brout\w* to|\beither)\s+(?:either\s+)?([a-z][\w -]{1,30}?) or "
    r"([a-z][\w -]{1,30}?)\s*(?:[.,;]|$)",
    _I,
)
# "logs everything else", "all other requests": the branch for the rest.
REST = re.compile(r"\b(?:everything|anything|all) else\b|\bthe rest\b|\ball other\b", _I)

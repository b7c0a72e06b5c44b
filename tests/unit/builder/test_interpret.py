"""The four requests of issue 16 that went wrong, each with its exact graph, and what the
reply says was understood and guessed."""

from __future__ import annotations

from typing import Any

from configurable_agents.builder import compose, interpret
from configurable_agents.builder.explain import describe_plan
from configurable_agents.builder.phrases import phrases_of
from configurable_agents.config import config_from_data, input_fields


def graph(request: str) -> dict[str, Any]:
    """What a user sees of the built workflow: inputs, nodes, edges, routes."""
    config = config_from_data(compose(interpret(request)))
    routes = {
        node.id: ([(r.when.value, r.to) for r in node.routes], node.default)
        for node in config.nodes
        if node.kind == "router"
    }
    return {
        "inputs": [field.name for field in input_fields(config)],
        "nodes": [(node.id, getattr(node, "tool", None) or node.kind) for node in config.nodes],
        "edges": [(edge.from_, edge.to) for edge in config.edges],
        "routes": routes,
        "config": config,
    }


def test_translate_into_two_languages_is_one_step_per_language_on_one_input() -> None:
    built = graph("Translate the text into German and Spanish")

    assert built["inputs"] == ["text"]
    assert built["nodes"] == [("translate_german", "llm"), ("translate_spanish", "llm")]
    assert built["edges"] == [
        ("START", "translate_german"),
        ("translate_german", "translate_spanish"),
        ("translate_spanish", "END"),
    ]
    german = built["config"].get_node("translate_german")
    assert german.prompt.startswith("Translate the text into German.")
    assert "Spanish" not in german.prompt and "{text}" in german.prompt


def test_summarize_unless_short_checks_the_length_and_routes() -> None:
    built = graph("Summarize the text unless it is short")

    assert built["inputs"] == ["text"]
    assert built["nodes"] == [("check_short", "llm"), ("route", "router"), ("summarize", "llm")]
    assert built["edges"] == [
        ("START", "check_short"),
        ("check_short", "route"),
        ("summarize", "END"),
    ]
    assert built["routes"] == {"route": ([("no", "summarize")], "END")}
    assert built["config"].state["is_short"].values == ["yes", "no"]


def test_given_a_url_fetch_and_summarize_is_an_http_request_then_a_summary() -> None:
    built = graph("Given a URL, fetch the page and summarize it")

    assert built["inputs"] == ["url"]
    assert built["nodes"] == [("fetch", "http_request"), ("summarize", "llm")]
    assert built["edges"] == [("START", "fetch"), ("fetch", "summarize"), ("summarize", "END")]
    fetch = built["config"].get_node("fetch")
    assert fetch.args.url == "{url}" and fetch.output == "page"
    summarize = built["config"].get_node("summarize")
    assert summarize.prompt.startswith("Summarize the page.") and "{page}" in summarize.prompt


def test_classify_and_route_bugs_is_an_enum_and_a_router() -> None:
    request = "Classify the ticket as bug, feature or question and route bugs to an engineer"
    built = graph(request)

    assert built["inputs"] == ["ticket"]
    assert built["nodes"] == [("classify", "llm"), ("route", "router"), ("to_engineer", "llm")]
    assert built["edges"] == [
        ("START", "classify"),
        ("classify", "route"),
        ("to_engineer", "END"),
    ]
    assert built["routes"] == {"route": ([("bug", "to_engineer")], "END")}
    assert built["config"].state["category"].values == ["bug", "feature", "question"]
    plan = interpret(request)
    said = [*plan.understood, *plan.guessed]
    assert "I made 'route' a router with branches bug / feature / question" in said
    assert "I guessed the input 'ticket'" in said


def test_the_plan_is_shown_step_by_step_with_what_each_reads_and_writes() -> None:
    shown = describe_plan(interpret("Given a URL, fetch the page and summarize it"))

    assert shown.splitlines()[:2] == [
        "1. `fetch` (http_request) reads `url`, writes `page`",
        "2. `summarize` (llm) reads `page`, writes `summary`",
    ]
    assert shown.endswith("Inputs: `url` (str).")


def test_a_repeat_without_a_bound_asks_how_many_rounds() -> None:
    plan = interpret("Write a poem about the sea and review it until it is good")

    assert plan.loop is not None and plan.loop.max_iterations == 3
    assert plan.question is not None and plan.question.text == "How many rounds at most?"
    assert [c.edit for c in plan.question.choices] == [
        "loop at most 3 times",
        "loop at most 5 times",
        "loop at most 10 times",
    ]


def test_sending_without_an_approval_asks_whether_a_person_approves() -> None:
    plan = interpret("Draft a reply to the email and send it to Slack")

    assert [s.kind for s in plan.steps()] == ["llm", "http_request"]
    assert plan.question is not None
    assert plan.question.choices[0].edit == "ask me before sending"


# --- general mechanisms of the tables, each with its exact nodes ------------------------


def test_a_record_made_via_a_model_is_written_by_the_model_then_sent() -> None:
    built = graph("Create a playlist in Spotify via OpenAI")

    assert built["nodes"][-2:] == [("create", "llm"), ("create_2", "http_request")]


def test_an_approval_between_the_draft_and_the_send_gets_both() -> None:
    built = graph(
        "Wire a workflow where a human approval gate sits between the draft and the send."
    )

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval"), ("send", "http_request")]


def test_a_drafted_email_waiting_for_approval_before_it_leaves_is_drafted_approved_sent() -> None:
    built = graph("I want a drafted client e-mail to wait for my approval before it leaves.")

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval"), ("send", "http_request")]


def test_labels_that_are_places_make_a_router_with_a_branch_each() -> None:
    built = graph(
        "Classify new or updated bug reports into designated teams (Engineering, Product, "
        "Design, or a Default fallback)."
    )

    assert built["nodes"] == [("classify", "llm"), ("route", "router")]
    branches, _ = built["routes"]["route"]
    assert [value for value, _ in branches] == [
        "engineering",
        "product",
        "design",
        "default_fallback",
    ]


def test_a_send_based_on_an_analysis_is_guarded_by_a_judgement() -> None:
    built = graph("Send alerts to Slack based on sentiment analysis.")

    assert built["nodes"] == [("judge", "llm"), ("route", "router"), ("send", "http_request")]
    assert built["routes"] == {"route": ([("yes", "send")], "END")}


def test_alternative_channels_chosen_by_a_preference_are_branches() -> None:
    built = graph(
        "Delivers personalized reports via WhatsApp or SMS based on their preferred channel."
    )

    assert built["nodes"] == [
        ("choose", "llm"),
        ("route", "router"),
        ("deliver", "http_request"),
        ("deliver_2", "http_request"),
    ]
    assert built["routes"] == {"route": ([("whatsapp", "deliver"), ("sms", "deliver_2")], "END")}


def test_research_searches_the_web_for_the_topic_then_writes_it_up() -> None:
    built = graph("Research a topic and write an article about it")

    assert built["inputs"] == ["topic"]
    assert built["nodes"] == [("search", "http_request"), ("research", "llm"), ("write", "llm")]
    search = built["config"].get_node("search")
    assert search.args.url.endswith("{topic}")
    assert "{search_results}" in built["config"].get_node("research").prompt


def test_human_in_the_loop_is_an_approval_and_no_loop() -> None:
    built = graph("Human in the Loop: request human approval before continuing.")

    assert built["nodes"] == [("approve", "approval")]


def test_guardrails_stop_what_fails_the_check() -> None:
    built = graph("Screen the input with AI guardrails and classify the feedback.")

    assert built["nodes"] == [
        ("screen", "llm"),
        ("check_unsafe", "llm"),
        ("guard", "router"),
        ("classify", "llm"),
    ]
    assert built["routes"] == {"guard": ([("yes", "END")], "classify")}


def test_listed_labels_that_name_actions_do_them_in_their_branches() -> None:
    built = graph(
        "An intent classifier can route a query to a cache, search, or clarification path."
    )

    assert built["inputs"] == ["query"]
    assert built["nodes"] == [
        ("classify", "llm"),
        ("route", "router"),
        ("search", "http_request"),
        ("clarify", "llm"),
    ]
    branches, _ = built["routes"]["route"]
    assert branches == [("cache", "END"), ("search", "search"), ("clarification", "clarify")]


def test_what_goes_along_with_a_send_is_made_first_from_what_is_sent() -> None:
    built = graph("Shares new YouTube videos on Discord along with AI-generated summaries.")

    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("summarize", "llm"),
        ("share", "http_request"),
    ]


def test_a_generic_verb_over_a_list_makes_each_thing_where_it_is_named() -> None:
    built = graph("Creates meeting summaries, ClickUp tasks, and schedules follow-ups from Zoom.")

    assert [kind for _, kind in built["nodes"]] == ["llm", "llm", "http_request", "http_request"]
    assert "clickup_url" in built["inputs"]


def test_deciding_whether_something_holds_is_a_gate_that_stops_on_no() -> None:
    built = graph("Use AI to determine whether an email needs a reply. Draft a response.")

    assert built["inputs"] == ["email"]
    assert built["nodes"] == [("decide", "llm"), ("route", "router"), ("draft", "llm")]
    assert built["routes"]["route"][0] == [("yes", "draft"), ("no", "END")]
    decide = built["config"].get_node("decide")
    assert "Decide whether an email needs a reply" in decide.prompt
    assert built["config"].state["decision"].values == ["yes", "no"]


def test_determining_the_intent_between_dashes_sorts_and_routes_to_handlers() -> None:
    built = graph(
        "A classifier (gpt-4o-mini via OpenRouter) determines the intent \u2014 support, "
        "sales or general \u2014 and routes it to the appropriate handler."
    )

    assert built["nodes"][:2] == [("determine", "llm"), ("route", "router")]
    assert built["config"].state["intent"].values == ["support", "sales", "general"]
    targets = dict(built["routes"]["route"][0])
    assert targets == {
        "support": "handle_support",
        "sales": "handle_sales",
        "general": "handle_general",
    }


def test_a_received_thing_is_an_input_not_a_send() -> None:
    built = graph("Receive emails. Summarize them.")

    assert built["inputs"] == ["email"]
    assert built["nodes"] == [("summarize", "llm")]


def test_labels_leading_each_part_of_a_sentence_are_the_branches() -> None:
    built = graph(
        "When a new email arrives in Gmail, classify it into 'invoice', 'support' or "
        "'other'. Invoices go to a Google Sheet, support emails are posted to Slack, others "
        "are ignored."
    )

    # "When a new email arrives" starts a run: no condition on it.
    assert built["nodes"] == [
        ("classify", "llm"),
        ("route", "router"),
        ("save", "file_write"),
        ("post", "http_request"),
    ]
    routes, _ = built["routes"]["route"]
    assert routes == [("invoice", "save"), ("support", "post"), ("other", "END")]
    assert built["config"].get_node("post").args.url == "{slack_url}"


def test_otherwise_after_a_condition_is_the_routers_other_branch() -> None:
    built = graph(
        "Score the resume against the job requirements. If qualified, write an interview "
        "invitation; otherwise, write a polite rejection."
    )

    routes, default = built["routes"]["route"]
    assert routes == [("yes", "write")]
    assert default == "write_polite_rejection"


def test_what_a_person_submits_starts_the_run_and_what_they_receive_is_sent() -> None:
    built = graph("Client submits a form, receives a welcome email, and gets added to a sheet.")

    kinds = [kind for _, kind in built["nodes"]]
    assert "form" in built["inputs"]
    assert kinds[-2:] == ["http_request", "file_write"]
    assert built["config"].get_node("send").args.method == "POST"


def test_a_condition_guards_only_the_clause_it_is_said_in() -> None:
    built = graph(
        "Calculate usage and severity, send Slack alerts when thresholds are breached, and "
        "log each check to a file."
    )

    names = [name for name, _ in built["nodes"]]
    assert names.index("calculate") < names.index("check_breached") < names.index("route")
    routes, _ = built["routes"]["route"]
    assert routes == [("yes", "send")]
    check = built["config"].get_node("check_breached")
    assert "Check whether thresholds are breached" in check.prompt


def test_a_step_per_item_repeats_and_the_step_that_joins_them_runs_after() -> None:
    built = graph(
        "Enter multiple documents at once, process each document separately using LLM, and "
        "finally aggregate the results."
    )

    assert [name for name, _ in built["nodes"]] == ["read", "process", "repeat", "aggregate"]
    loop = built["config"].get_node("repeat")
    assert (loop.body, loop.exit) == ("process", "aggregate")


def test_a_list_whose_bullets_were_dropped_is_read_item_by_item() -> None:
    built = graph(
        "Book creation automation that: Generates book outlines Writes chapters in parallel "
        "Compiles final manuscript"
    )

    kinds = [kind for _, kind in built["nodes"]]
    assert kinds == ["llm", "parallel", "llm", "llm", "llm"]
    assert built["nodes"][-1] == ("compile", "llm")


def test_a_first_step_that_takes_from_something_or_writes_vaguely_gets_an_input() -> None:
    extracted = graph("Extract the candidate's key information, then score it.")
    generated = graph("Generate content and post it to Slack.")

    assert extracted["inputs"] == ["text"]
    assert "{text}" in extracted["config"].get_node("extract").prompt
    assert "topic" in generated["inputs"]


def test_each_piece_written_from_one_list_is_its_own_step_on_the_same_source() -> None:
    built = graph("Research the company and write a sales email and an outreach call script.")

    writes = [n for n in built["config"].nodes if n.id.startswith("write")]
    assert len(writes) == 2
    assert all("{research}" in node.prompt for node in writes)


def test_a_step_said_as_a_noun_after_a_generic_verb_is_that_step() -> None:
    built = graph("A writing workflow that outlines, writes content, and applies styling")

    assert [kind for _, kind in built["nodes"]] == ["llm", "llm", "llm"]
    assert built["nodes"][-1][0] == "style"


def test_labels_listed_where_requests_are_routed_are_the_branches() -> None:
    built = graph(
        "Routes requests to specialized crews (Blog, LinkedIn, Research) and writes the content."
    )

    routes, _ = built["routes"]["route"]
    assert [value for value, _ in routes] == ["blog", "linkedin", "research"]
    assert [target for _, target in routes] == ["handle_blog", "handle_linkedin", "handle_research"]


def test_a_chain_of_node_names_is_read_node_by_node() -> None:
    fetched = graph("Gmail → OpenAI → Notion")
    routed = graph("Form → AI Agent (classification) → Switch → Slack")
    kept = graph("Webhook → AI Agent (summary) → Google Sheets → Slack")

    assert fetched["nodes"] == [
        ("fetch", "http_request"),
        ("process", "llm"),
        ("send", "http_request"),
    ]
    assert fetched["config"].get_node("send").args.url == "{notion_url}"
    assert routed["nodes"] == [("classify", "llm"), ("route", "router"), ("send", "http_request")]
    assert kept["nodes"] == [
        ("summarize", "llm"),
        ("save", "file_write"),
        ("send", "http_request"),
    ]


def test_the_deliverables_listed_after_a_colon_are_each_a_step() -> None:
    built = graph(
        "It takes a meeting transcript and produces two deliverables: a concise written "
        "summary of the discussion and a list of action items with owners and due dates."
    )

    assert [kind for _, kind in built["nodes"]] == ["llm", "llm"]
    assert "written" not in built["inputs"]


def test_the_approved_email_is_sent_once_after_one_approval() -> None:
    built = graph(
        "Draft an email, request human approval before sending, and send the approved email."
    )

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval"), ("send", "http_request")]


def test_whether_a_thing_is_one_way_or_another_routes_each_case_to_its_handler() -> None:
    built = graph("It determines whether a task is simple or complex and delegates it.")

    routes, _ = built["routes"]["route"]
    assert routes == [("simple", "handle_simple"), ("complex", "handle_complex")]
    assert built["config"].state["decision"].values == ["simple", "complex"]


def test_a_send_said_first_goes_after_what_the_model_writes() -> None:
    sent_last = graph(
        "Automatically send personalized email notifications by generating content with GPT."
    )
    called_first = graph("Send the audio file to Whisper and summarize the transcript.")

    assert sent_last["nodes"] == [("generate", "llm"), ("send", "http_request")]
    assert sent_last["config"].get_node("send").args.body == "{result}"
    assert called_first["nodes"] == [("send", "http_request"), ("summarize", "llm")]


def test_a_condition_in_a_chain_branches_to_the_alternatives_that_follow_it() -> None:
    built = graph(
        "The complete workflow: form → AI score → condition → sales alert or nurture sequence."
    )

    assert [name for name, _ in built["nodes"]][:3] == ["score", "decide", "route"]
    routes, _ = built["routes"]["route"]
    assert routes == [
        ("sales_alert", "send_sales_alert"),
        ("nurture_sequence", "send_nurture_sequence"),
    ]
    assert built["config"].get_node("send_sales_alert").args.url == "{sales_alert_url}"


def test_work_per_item_repeats_without_a_review_and_a_split_gets_a_step_per_item() -> None:
    each = graph("Summarize each article separately.")
    split = graph(
        "Split the text into sections with an LLM and apply a workflow to each section "
        "individually."
    )

    assert each["nodes"] == [("summarize", "llm"), ("repeat", "loop")]
    assert split["nodes"] == [("split", "llm"), ("process_item", "llm"), ("repeat", "loop")]
    assert split["config"].get_node("repeat").body == "process_item"


def test_sentences_led_by_what_they_are_about_name_the_labels_of_a_classification() -> None:
    built = graph(
        "Every email is read by AI, classified by intent, and routed to the right system. "
        "Tasks become tasks. Customer replies update CRM records. Noise becomes a Friday "
        "digest. Sales leads get the first-touch sequence."
    )

    assert built["config"].state["intent"].values == [
        "task",
        "customer_reply",
        "noise",
        "sales_lead",
    ]
    routes, _ = built["routes"]["route"]
    assert [value for value, _ in routes] == ["task", "customer_reply", "noise", "sales_lead"]
    assert built["config"].get_node("update").args.url == "{crm_url}"


def test_the_comma_after_an_opening_clause_lists_nothing() -> None:
    read = phrases_of("After the agent creates a portfolio, the analysts review it.")

    created = [p for p in read if p.word == "creates"]
    # One thing is created: "the analysts" start the next clause.
    assert len(created) == 1
    assert created[0].object_tokens()[:2] == ["a", "portfolio"]


def test_a_team_of_agents_each_doing_its_part_is_a_step_per_agent() -> None:
    built = graph("A researcher gathers facts, a writer drafts copy, and an editor reviews tone.")

    # "drafts" and "reviews" are nouns too: after a doer ("writer", "editor") they are verbs;
    # what a researcher gathers is searched for, not asked of the person running it.
    assert built["nodes"] == [
        ("search", "http_request"),
        ("gather", "llm"),
        ("draft", "llm"),
        ("review", "llm"),
    ]
    # Each clause ends where the next agent is named.
    assert built["config"].get_node("draft").prompt.startswith("Drafts copy.")


def test_a_noun_of_an_action_listed_among_sources_is_no_step() -> None:
    built = graph(
        "Ingest feedback from NPS surveys, support tickets, reviews, and social mentions. "
        "Summarize it."
    )

    assert built["nodes"] == [("summarize", "llm")]
    assert built["inputs"] == ["feedback"]


def test_the_step_an_automation_does_is_the_gerund_after_it_and_a_kind_of_file_is_read() -> None:
    built = graph(
        "This workflow automates analyzing source code (e.g., Swift files) and recording outcomes."
    )

    assert built["nodes"] == [
        ("read", "file_read"),
        ("analyze", "llm"),
        ("record", "file_write"),
    ]
    assert built["inputs"] == ["path"]


def test_sentence_case_headings_before_a_step_said_as_a_noun_are_no_cues() -> None:
    built = graph(
        "Summation: Calculation of the total. Dispatch: Formatted summary delivery to Discord."
    )

    # "Dispatch" heads the sentence: it routes nothing.
    assert built["nodes"] == [
        ("calculate", "calculator"),
        ("format", "llm"),
        ("send", "http_request"),
    ]
    assert built["routes"] == {}


def test_when_runs_are_scheduled_is_no_step() -> None:
    built = graph(
        "Execution is scheduled daily at 22:00. "
        "Fetch the news from https://example.com/feed and summarize it."
    )

    assert built["nodes"] == [("fetch", "http_request"), ("summarize", "llm")]


def test_sentences_that_act_on_labels_of_a_classification_share_one_router() -> None:
    built = graph(
        "Classifies each email as reply needed, fyi, noise, or action item. Drafts replies "
        "for the reply-needed threads. Auto-archives anything classified as noise."
    )

    assert built["nodes"] == [
        ("classify", "llm"),
        ("route", "router"),
        ("draft", "llm"),
        ("archive", "file_write"),
    ]
    assert built["routes"] == {
        "route": (
            [
                ("reply_needed", "draft"),
                ("noise", "archive"),
                ("fyi", "END"),
                ("action_item", "END"),
            ],
            "END",
        )
    }
    # The archive is of the email, not of the reply drafted on the other branch.
    assert "{email}" in built["config"].get_node("archive").args.content


def test_what_the_user_wants_is_a_label_and_what_follows_it_the_branch() -> None:
    built = graph(
        "If the user wants to roll a die, it should route to a dice-rolling agent; if they "
        "want to check for prime numbers, it should route to a prime-checking agent."
    )

    assert built["nodes"] == [
        ("classify", "llm"),
        ("route", "router"),
        ("to_dice_rolling", "llm"),
        ("to_prime_checking", "llm"),
    ]
    assert built["config"].state["category"].values == ["roll_die", "check_prime_numbers"]
    routes, _ = built["routes"]["route"]
    assert routes == [("roll_die", "to_dice_rolling"), ("check_prime_numbers", "to_prime_checking")]


def test_checking_my_email_and_asking_before_replying_drafts_asks_then_sends() -> None:
    built = graph("Check my email every morning and ask before replying")

    # The mailbox is read (not judged), "every morning" is when, not part of a name.
    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("draft", "llm"),
        ("approve", "approval"),
        ("send", "http_request"),
    ]
    assert built["config"].get_node("send").args.method == "POST"
    assert "{reply}" in built["config"].get_node("send").args.body


def test_how_a_workflow_should_work_is_read_after_the_colon_and_buttons_are_choices() -> None:
    built = graph(
        "Our review flow works like this: an AI drafts a reply, then a manager approves it "
        "with Approve and Reject buttons."
    )

    # The words before the colon name the workflow; "Approve and Reject" are what the
    # manager chooses, not a second approval.
    assert built["nodes"] == [
        ("draft", "llm"),
        ("approve", "approval"),
        ("read_choice", "llm"),
        ("route", "router"),
    ]
    assert built["inputs"] == ["message"]
    routes, _ = built["routes"]["route"]
    assert routes == [("approve", "END"), ("reject", "END")]


def test_content_made_for_a_product_is_not_read_from_it_and_its_subject_is_an_input() -> None:
    wordpress = graph("An AI generates a WordPress draft.")
    linkedin = graph("Write a LinkedIn post about our launch.")

    assert wordpress["nodes"] == [("generate", "llm"), ("send", "http_request")]
    assert "wordpress_url" in wordpress["inputs"]
    assert linkedin["nodes"][0] == ("write", "llm")
    assert linkedin["inputs"][0] == "launch"


def test_the_workflow_being_added_and_the_model_being_called_are_no_steps() -> None:
    built = graph(
        "Add GitHub Actions workflow that automatically triages new issues using an LLM. "
        "Python script that calls LLM to: Check issue completeness and prompt for missing "
        "info. Analyze the problem and suggest possible solutions."
    )

    kinds = [kind for _, kind in built["nodes"]]
    # No post "adds" the workflow, no HTTP call "calls" the model: the model steps are it.
    assert kinds[0] != "http_request"
    assert [node for node, _ in built["nodes"]][:2] == ["check", "analyze"]


def test_what_is_read_for_each_thing_fetched_from_the_web_is_fetched_too() -> None:
    built = graph(
        "The workflow finds the five most-discussed open PRs in any repository on GitHub, "
        "reads the raw code diff and comment thread for each one, and writes one paragraph "
        "per PR."
    )

    assert [kind for _, kind in built["nodes"]][:2] == ["http_request", "http_request"]


def test_the_step_after_a_review_works_on_what_was_reviewed() -> None:
    built = graph("Review the draft. Then improve the tone.")

    assert built["inputs"] == ["draft"]
    assert built["nodes"] == [("review", "llm"), ("improve", "llm")]
    improve = built["config"].get_node("improve")
    assert "{draft}" in improve.prompt and "{feedback}" in improve.prompt


def test_a_step_that_self_corrects_repeats_and_responses_are_a_step() -> None:
    built = graph(
        "Generates SQL queries based on user questions. Checks results for errors and "
        "self-corrects when needed. Provides natural language responses based on query results."
    )

    assert built["inputs"] == ["user_question"]
    assert built["nodes"] == [
        ("generate", "llm"),
        ("check", "llm"),
        ("repeat", "loop"),
        ("correct", "llm"),
        ("respond", "llm"),
    ]
    assert built["config"].get_node("repeat").body == "generate"


def test_when_a_customer_emails_the_email_starts_the_run_and_the_classification_is_posted() -> None:
    built = graph(
        "When a customer emails support@company.com, classify the email as "
        "billing/technical/general, draft a response, and post the classification to Slack"
    )

    # No condition on "a customer", no e-mail sent: the customer's email is the input.
    assert built["inputs"] == ["email", "slack_url"]
    assert built["nodes"] == [("classify", "llm"), ("draft", "llm"), ("post", "http_request")]
    assert built["routes"] == {}
    assert built["config"].get_node("post").args.body == "{category}"


def test_a_translation_from_one_language_is_into_the_other_and_a_slack_channel_is_slack() -> None:
    built = graph("Translate the text from English to Japanese and send it to a Slack channel.")

    assert built["nodes"] == [("translate", "llm"), ("send", "http_request")]
    assert built["inputs"] == ["text", "slack_url"]
    assert "Japanese" in built["config"].get_node("translate").prompt


def test_sentences_headed_by_tier_labels_are_the_branches_of_the_router() -> None:
    built = graph(
        "Score each lead and route it to the right workflow. Tier A: send an SMS alert to the "
        "rep. Tier B: add it to a nurture sequence. Tier C: archive it."
    )

    assert built["config"].state["category"].values == ["a", "b", "c"]
    assert built["routes"] == {"route": ([("a", "send"), ("b", "add"), ("c", "archive")], "END")}


def test_what_arrives_through_a_webhook_is_the_input_and_a_purpose_is_no_step() -> None:
    built = graph(
        "This workflow receives support tickets through an HTTP webhook and classifies the "
        "ticket. It is designed for semi-automated support triage."
    )

    assert built["inputs"] == ["support_ticket"]
    assert built["nodes"] == [("classify", "llm")]


def test_a_retry_redoes_what_was_written_never_a_classification() -> None:
    built = graph(
        "Classify the answer as good or bad. If it is bad, regenerate it and retry up to "
        "three times."
    )

    loop = built["config"].get_node("repeat")
    # With no step that writes, one is added for the loop to redo; the label is not redone.
    assert loop.body == "generate"
    assert ("generate", "llm") in built["nodes"]
    assert loop.max_iterations == 3


def test_what_is_stored_in_a_notion_database_is_one_post_to_notion() -> None:
    built = graph(
        "Fetch the papers from https://example.com/papers, extract the key facts, and store "
        "them in a Notion database."
    )

    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("extract", "llm"),
        ("store", "http_request"),
    ]
    assert built["inputs"] == ["notion_url"]


def test_what_each_branch_writes_is_one_value_the_step_after_the_router_sends() -> None:
    built = graph(
        "Classify the ticket as bug or question. Bugs: write a bug report. Questions: draft "
        "an answer. Then post it to Slack."
    )

    assert built["routes"] == {"route": ([("bug", "write"), ("question", "draft")], "post")}
    config = built["config"]
    # Whichever branch ran, the post has its result.
    assert config.get_node("write").output == config.get_node("draft").output == "result"
    assert config.get_node("post").args.body == "{result}"
    assert built["inputs"] == ["ticket", "slack_url"]


def test_kinds_of_things_pulled_in_one_phrase_are_fetched_each_and_read_together() -> None:
    built = graph("Pulls receipt emails and payment transactions, then deduplicates them.")

    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("fetch_2", "http_request"),
        ("deduplicate", "llm"),
    ]
    # Each from its own address; the next step works on both.
    assert built["inputs"] == ["url", "payment_transaction_url"]
    prompt = built["config"].get_node("deduplicate").prompt
    assert "{receipt_email}" in prompt and "{payment_transaction}" in prompt

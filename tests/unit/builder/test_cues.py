"""The features the words name that no phrase made (builder/cues.py): each cue adds its step
where it belongs, wired to what the steps around it read and write, and a request that names
no feature gets nothing more."""

from __future__ import annotations

from configurable_agents.builder import interpret
from configurable_agents.builder.cues import cued
from configurable_agents.builder.explain import describe_plan
from configurable_agents.builder.phrases import branch_labels, listed_labels
from tests.unit.builder.test_interpret import graph


def test_a_service_read_from_is_fetched_first_and_the_model_step_reads_it() -> None:
    built = graph("Summarize the latest messages from the Slack channel.")

    assert built["nodes"] == [("fetch", "http_request"), ("summarize", "llm")]
    assert built["inputs"] == ["url"]
    fetched = built["config"].get_node("fetch").output
    assert "{" + fetched + "}" in built["config"].get_node("summarize").prompt


def test_a_result_posted_to_a_service_is_sent_at_the_end() -> None:
    built = graph("Draft a reply to the question and post it back into the thread.")

    assert built["nodes"] == [("draft", "llm"), ("post", "http_request")]
    assert built["inputs"] == ["question", "webhook_url"]
    post = built["config"].get_node("post")
    assert post.args.method == "POST"
    assert post.args.body == "{reply}"


def test_arithmetic_named_in_the_words_is_a_calculator_after_the_extraction() -> None:
    built = graph(
        "Extract the line items from the invoice and check that they add up to the total."
    )

    # The numbers are taken from what was extracted, not asked of the person running it.
    assert built["nodes"][:3] == [
        ("extract", "llm"),
        ("extract_numbers", "llm"),
        ("calculate", "calculator"),
    ]
    assert built["inputs"] == ["invoice"]
    assert built["config"].get_node("extract_numbers").outputs == ["price", "quantity"]
    assert built["config"].state["quantity"].type == "int"


def test_arithmetic_said_around_another_verb_is_added_by_its_cue() -> None:
    plan = interpret("Pull the expense receipts from the API and draft a tax summary.")

    # Before the model step that writes about the result: the numbers come first.
    assert [(s.id, s.kind) for s in plan.steps()] == [
        ("fetch", "http_request"),
        ("calculate", "calculator"),
        ("draft", "llm"),
    ]
    assert any("arithmetic" in line for line in plan.understood)


def test_a_person_who_takes_over_is_an_approval_before_the_send() -> None:
    built = graph(
        "Draft an answer to the complaint and flag it for a human before it goes to the "
        "customer by email."
    )

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval"), ("send", "http_request")]
    assert built["edges"] == [
        ("START", "draft"),
        ("draft", "approve"),
        ("approve", "send"),
        ("send", "END"),
    ]


def test_words_that_route_make_a_router_with_a_branch_per_label() -> None:
    built = graph(
        "Classify the email's priority (high/medium/low); each one is routed to the "
        "appropriate team."
    )

    assert built["nodes"] == [("classify", "llm"), ("route", "router")]
    assert built["routes"]["route"][0] == [("high", "END"), ("medium", "END"), ("low", "END")]


def test_a_plan_that_only_forwards_gets_the_model_step_that_answers() -> None:
    built = graph("Forward user messages to GPT and return the replies to Telegram.")

    assert built["nodes"] == [("answer", "llm"), ("forward", "http_request")]
    forward = built["config"].get_node("forward")
    assert forward.args.body == "{answer}"


def test_a_request_that_names_no_feature_gets_nothing_more() -> None:
    built = graph("Summarize the text.")

    assert built["nodes"] == [("summarize", "llm")]
    assert cued("Summarize the text.") == []


def test_branch_labels_named_outside_a_list() -> None:
    assert branch_labels(
        "IF node routes clean invoices to approved path, problems to flagged path."
    ) == ["approved", "flagged"]
    assert branch_labels(
        'into three categories: "Quote Requests," "FAQs," and "Others." After that'
    ) == ["quote_requests", "faqs", "others"]
    assert branch_labels("Routes critical tickets to Slack. Logs everything else.") == ["other"]
    assert branch_labels("Summarize the text.") == []


def test_a_guessed_input_is_named_after_what_the_run_is_given() -> None:
    plan = interpret("Respond politely and briefly to customer emails.")

    assert [f.name for f in plan.inputs] == ["email"]
    assert plan.steps()[0].reads == ["email"]
    assert "I guessed the input 'email'" in plan.guessed


def test_a_request_about_the_text_keeps_its_name() -> None:
    assert [f.name for f in interpret("Summarize the text.").inputs] == ["text"]


def test_branches_to_specialized_agents_each_get_a_model_step() -> None:
    built = graph(
        "Classify each question as billing, shipping or refund and route it to a specialized agent."
    )

    routes, _ = built["routes"]["route"]
    assert [value for value, _ in routes] == ["billing", "shipping", "refund"]
    targets = [target for _, target in routes]
    assert targets == ["handle_billing", "handle_shipping", "handle_refund"]
    assert all(built["config"].get_node(t).kind == "llm" for t in targets)


def test_a_label_list_ends_where_the_next_step_starts() -> None:
    assert listed_labels(
        "Classify each question as billing, shipping or returns and route it to an agent."
    ) == ["billing", "shipping", "returns"]


def test_each_service_read_from_gets_its_own_read_before_the_model_step() -> None:
    built = graph(
        "Collect the new tickets from Zendesk, look up each customer in HubSpot and draft a reply."
    )

    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("fetch_hubspot", "http_request"),
        ("draft", "llm"),
    ]
    assert "hubspot_url" in built["inputs"]
    assert "{hubspot_data}" in built["config"].get_node("draft").prompt


def test_labels_between_dashes_are_a_label_list() -> None:
    assert listed_labels(
        "The model determines the intent \u2014 support, sales or general \u2014 and routes it."
    ) == ["support", "sales", "general"]


def test_a_review_in_a_loop_with_nothing_to_review_gets_the_step_that_writes_it() -> None:
    plan = interpret("Another model provides evaluation and feedback in a loop.")

    assert [(s.id, s.kind) for s in plan.steps()] == [("generate", "llm"), ("evaluate", "review")]
    assert plan.loop is not None
    assert (plan.loop.body, plan.loop.after) == ("generate", "evaluate")


def test_someone_who_has_to_say_yes_is_an_approval() -> None:
    plan = interpret(
        "Draft the renewal email. Someone has to say yes first, then send it to Slack."
    )

    kinds = [s.kind for s in plan.steps()]
    assert kinds.index("approval") < kinds.index("http_request")


def test_a_filter_said_on_a_send_is_a_gate_before_that_send() -> None:
    built = graph(
        "Extract the totals from the receipt, log the result to Google Sheets, and post "
        "non-approved cases to Slack."
    )

    nodes = [name for name, _ in built["nodes"]]
    assert nodes.index("log") < nodes.index("decide") < nodes.index("route") < nodes.index("post")
    assert built["routes"]["route"][0] == [("yes", "post"), ("no", "END")]


def test_selecting_the_top_items_gates_what_is_summarized() -> None:
    built = graph(
        "Download the RSS feeds, rank the headlines, select the top 10 articles and summarize them."
    )

    assert [name for name, _ in built["nodes"]] == [
        "fetch",
        "rank",
        "select",
        "decide",
        "route",
        "summarize",
    ]
    assert built["routes"]["route"][0] == [("yes", "summarize"), ("no", "END")]


def test_a_default_number_of_turns_bounds_the_loop() -> None:
    built = graph("Write a slogan, critique it and refine it in a loop (default is 5 turns).")

    loops = [n for n in built["config"].nodes if n.kind == "loop"]
    assert [loop.max_iterations for loop in loops] == [5]


def test_putting_results_in_a_spreadsheet_writes_a_file() -> None:
    built = graph("Extract the key details of each invoice and put them in a spreadsheet.")

    assert built["nodes"][-1] == ("save", "file_write")


def test_a_document_loaded_from_local_storage_is_read_first() -> None:
    built = graph("Answer questions about a document loaded from local memory.")

    assert built["nodes"] == [("read", "file_read"), ("answer", "llm")]
    assert built["inputs"] == ["path"]


def test_a_human_gate_before_the_final_action_is_an_approval() -> None:
    built = graph("Draft a response and require a human gate before final action.")

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval")]


def test_search_and_reader_services_named_as_tools_are_fetched_before_the_answer() -> None:
    built = graph("A Q&A workflow based on TavilySearch and Jina")

    assert built["nodes"] == [
        ("fetch", "http_request"),
        ("fetch_jina", "http_request"),
        ("respond", "llm"),
    ]


def test_a_version_that_reaches_the_customer_is_sent_after_one_approval() -> None:
    built = graph(
        "n8n drafts the email, a human reviews it, and only the approved version reaches "
        "the customer."
    )

    assert built["nodes"] == [("draft", "llm"), ("approve", "approval"), ("send", "http_request")]


def test_a_sheet_named_before_a_service_is_written_before_the_post() -> None:
    built = graph(
        "Pull Salesforce pipeline data, calculate weighted forecast, and push to Google "
        "Sheets and Slack"
    )

    names = [name for name, _ in built["nodes"]]
    assert names.index("save") == names.index("push") - 1
    assert built["config"].get_node("push").args.method == "POST"


def test_a_file_the_workflow_outputs_is_written_at_the_end() -> None:
    built = graph("Extract the structured data from the invoice and output a clean XLSX ledger.")

    assert built["nodes"] == [("extract", "llm"), ("save", "file_write")]


def test_numbers_pulled_from_a_database_are_read_from_a_file_not_fetched() -> None:
    built = graph(
        "Pull the raw numbers from your database, compute every metric and write the narrative."
    )

    assert built["nodes"][0] == ("fetch", "file_read")
    assert "path" in built["inputs"]


def test_a_database_of_a_named_service_is_fetched_over_http() -> None:
    built = graph("Fetch the daily posts from a Notion database and format them for LinkedIn.")

    assert built["nodes"] == [("fetch", "http_request"), ("format", "llm")]
    assert built["config"].get_node("fetch").args.method == "GET"


def test_places_the_words_route_to_are_branches_that_each_post_there() -> None:
    built = graph(
        "Classify the form and route it to the appropriate backend: support tickets, CRM "
        "leads, or a general inbox."
    )

    routes, _ = built["routes"]["route"]
    assert routes == [
        ("support_tickets", "send_support_tickets"),
        ("crm_leads", "send_crm_leads"),
        ("general_inbox", "send_general_inbox"),
    ]
    assert built["config"].get_node("send_crm_leads").args.url == "{crm_leads_url}"
    assert {"support_tickets_url", "crm_leads_url", "general_inbox_url"} <= set(built["inputs"])


def test_places_listed_in_brackets_get_a_step_that_chooses_among_them() -> None:
    built = graph(
        "Triage: Classifies incoming mail (Urgent, Newsletter, FYI). Summarize: Extracts the "
        "action items. Route: Moves the data where it belongs (Task Manager, Slack, or "
        "Archive)."
    )

    # The headings name the steps the words after them say: no step of their own.
    assert built["nodes"][:3] == [
        ("classify", "llm"),
        ("extract", "llm"),
        ("choose_destination", "llm"),
    ]
    routes, _ = built["routes"]["route"]
    assert [value for value, _ in routes] == ["task_manager", "slack", "archive"]
    assert built["config"].state["destination"].values == ["task_manager", "slack", "archive"]


def test_a_product_the_words_work_in_gets_the_result_posted_there() -> None:
    built = graph(
        "Automates bilingual communication in Slack channels by translating messages "
        "between Japanese and English."
    )

    assert built["nodes"][-1] == ("send", "http_request")
    assert built["config"].get_node("send").args.url == "{slack_url}"


def test_a_product_that_only_starts_the_run_or_is_written_for_gets_no_step() -> None:
    started = graph("When a new message arrives in Slack, translate it into English.")
    made_for = graph("Fetch the daily posts from a Notion database and format them for LinkedIn.")

    assert "slack_url" not in started["inputs"]
    assert made_for["nodes"] == [("fetch", "http_request"), ("format", "llm")]


def test_a_product_used_as_a_tool_is_called_before_the_model_step() -> None:
    built = graph("Analyze the document using Amazon Textract and translate it.")

    names = [name for name, _ in built["nodes"]]
    assert names.index("fetch_textract") < names.index("analyze")
    assert "textract_url" in built["inputs"]


def test_counting_money_or_a_change_in_percent_is_arithmetic() -> None:
    assert "calculator" in cued("Show exactly how much money can be recovered.")
    assert "calculator" in cued("Alert when revenue dropped by more than 20% versus last week.")
    assert "calculator" not in cued("Write a summary of the meeting.")


def test_a_ticket_status_updated_is_sent_to_the_helpdesk() -> None:
    built = graph("Read a support ticket → Categorize it with AI → Update the ticket status")

    assert [kind for _, kind in built["nodes"]][-1] == "http_request"


def test_rows_grabbed_from_a_sheet_are_read_and_a_named_enricher_is_called() -> None:
    built = graph(
        "Grab emails from a Google Sheet → Enrich them with Apollo → Update the Google Sheet"
    )

    kinds = [kind for _, kind in built["nodes"]]
    assert kinds[0] == "file_read"
    assert "http_request" in kinds
    assert kinds[-1] == "file_write"
    assert "apollo_url" in built["inputs"]


def test_a_service_connected_to_is_read_from() -> None:
    built = graph("Connect to eBay Italy. Search for keyboards. Extract product information.")

    assert built["nodes"][0] == ("fetch_ebay", "http_request")
    assert built["config"].get_node("fetch_ebay").args.method == "GET"


def test_a_file_named_by_its_name_is_written_there_and_asides_in_brackets_add_nothing() -> None:
    built = graph(
        "Extract the action items from the transcript. Outputs actions.csv (importable to "
        "Linear/Asana/Notion)."
    )

    assert built["nodes"] == [("extract", "llm"), ("save", "file_write")]
    assert built["config"].get_node("save").args.path == "actions.csv"


def test_a_single_database_write_at_the_end_is_a_file_write() -> None:
    built = graph("Translate the text, critique it and revise it before a single DB write.")

    assert built["nodes"][-1] == ("save", "file_write")


def test_the_choices_a_reviewer_is_offered_are_branches_after_the_approval() -> None:
    request = (
        "Sonnet drafts a tailored response. The bot asks a human with a one-tap Approve / "
        "Edit / Discard."
    )
    built = graph(request)

    assert built["nodes"] == [
        ("draft", "llm"),
        ("approve", "approval"),
        ("read_choice", "llm"),
        ("route", "router"),
        ("revise", "llm"),
    ]
    routes, _ = built["routes"]["route"]
    assert routes == [("approve", "END"), ("edit", "revise"), ("discard", "END")]
    assert "{approval_comment}" in built["config"].get_node("read_choice").prompt
    shown = describe_plan(interpret(request))
    assert "- discard: the run stops" in shown


def test_records_named_as_a_noun_are_not_a_file_write() -> None:
    built = graph("Compare each lead with the records in the CRM sheet and draft an email.")

    assert "file_write" not in [kind for _, kind in built["nodes"]]

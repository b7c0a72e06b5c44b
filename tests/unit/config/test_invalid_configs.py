"""A table of invalid configs: each reports the exact field path, line and column, and why."""

from __future__ import annotations

import pytest

from tests.unit.config.samples import BASE, FLOW, LOOP, PARALLEL, TOOLS, issues_of, variant

# (case id, config text, expected issues as (line, column, path, fragment of the message)).
# Columns point at the offending value, or at the key for unknown/duplicate keys, or at
# the enclosing mapping for a missing key.
CASES = [
    # --- top level ------------------------------------------------------------------------
    (
        "schema-version-unsupported",
        variant(BASE, ("schema_version: 1", "schema_version: 2")),
        [(1, 17, "schema_version", "unsupported schema_version 2")],
    ),
    (
        "schema-version-missing",
        variant(BASE, ("schema_version: 1\n", "")),
        [(1, 1, "schema_version", "missing required key 'schema_version'")],
    ),
    (
        "name-not-a-slug",
        variant(BASE, ("name: demo", "name: My Flow")),
        [(2, 7, "name", "'My Flow' is not a valid name")],
    ),
    (
        "unknown-top-level-key",
        variant(BASE, ("name: demo", "name: demo\ncolour: red")),
        [(3, 1, "colour", "unknown key 'colour'")],
    ),
    (
        "nodes-not-a-list",
        variant(
            BASE,
            ("nodes:\n", "nodes: summarize\n"),
            (
                '  - id: summarize\n    kind: llm\n    prompt: "Sum: {text}"\n    output: summary\n',
                "",
            ),
        ),
        [(6, 8, "nodes", "Input should be a valid list")],
    ),
    # --- state ----------------------------------------------------------------------------
    (
        "state-unknown-type",
        variant(BASE, ("{type: str, required: true}", "{type: string, required: true}")),
        [(4, 16, "state.text.type", "unknown type 'string': use str")],
    ),
    (
        "state-dict-key-not-str",
        variant(BASE, ("summary: {type: str}", "summary: {type: 'dict[int, str]'}")),
        [(5, 19, "state.summary.type", "dict keys are always text")],
    ),
    (
        "state-required-with-default",
        variant(BASE, ("{type: str, required: true}", "{type: str, required: true, default: hi}")),
        [(4, 9, "state.text", "a required field has no default")],
    ),
    (
        "state-default-wrong-type",
        variant(BASE, ("summary: {type: str}", 'summary: {type: int, default: "x"}')),
        [(5, 33, "state.summary.default", "does not fit type int")],
    ),
    (
        "state-enum-without-values",
        variant(BASE, ("summary: {type: str}", "summary: {type: enum}")),
        [(5, 12, "state.summary", "needs `values`")],
    ),
    (
        "state-values-on-str",
        variant(BASE, ("summary: {type: str}", "summary: {type: str, values: [a]}")),
        [(5, 32, "state.summary.values", "`values` is only for enum types")],
    ),
    (
        "state-object-without-fields",
        variant(BASE, ("summary: {type: str}", "summary: {type: object}")),
        [(5, 12, "state.summary", "needs `fields`")],
    ),
    (
        "state-nested-field-required",
        variant(
            BASE,
            (
                "summary: {type: str}",
                "summary: {type: str}\n  doc:\n    type: object\n    fields:\n      title: {type: str, required: true}",
            ),
        ),
        [(9, 26, "state.doc.fields.title.required", "belong to top-level state fields")],
    ),
    (
        "state-bad-field-name",
        variant(BASE, ("  summary: {type: str}", "  bad-name: {type: str}")),
        [
            (5, 3, "state.bad-name", "'bad-name' is not a valid field name"),
            (10, 13, "nodes[0].output", "'summary' is not a state field"),
        ],
    ),
    # --- llm nodes and templates ------------------------------------------------------------
    (
        "node-unknown-key-suggests",
        variant(BASE, ("    output: summary", "    output: summary\n    promt: x")),
        [(11, 5, "nodes[0].promt", "unknown key 'promt' (did you mean 'prompt'?)")],
    ),
    (
        "node-unknown-kind",
        variant(BASE, ("kind: llm", "kind: llmm")),
        [(8, 11, "nodes[0].kind", "unknown node kind 'llmm'")],
    ),
    (
        "node-missing-kind",
        variant(BASE, ("    kind: llm\n", "")),
        [(7, 5, "nodes[0].kind", "missing `kind`")],
    ),
    (
        "node-missing-prompt",
        variant(BASE, ('    prompt: "Sum: {text}"\n', "")),
        [(7, 5, "nodes[0].prompt", "missing required key 'prompt'")],
    ),
    (
        "llm-output-and-outputs",
        variant(BASE, ("    output: summary", "    output: summary\n    outputs: [summary]")),
        [(7, 5, "nodes[0]", "exactly one of `output`")],
    ),
    (
        "node-id-reserved",
        variant(BASE, ("  - id: summarize", "  - id: END"), ("to: summarize}", "to: END}")),
        [
            (7, 9, "nodes[0].id", "'END' is reserved"),
            (13, 12, "edges[1].from", "unknown node 'summarize'"),
        ],
    ),
    (
        "template-conversion",
        variant(BASE, ('"Sum: {text}"', '"Sum: {text!r}"')),
        [(9, 13, "nodes[0].prompt", "at character 6: conversions such as '!r' are not allowed")],
    ),
    (
        "template-format-spec",
        variant(BASE, ('"Sum: {text}"', '"Sum: {text:>10}"')),
        [(9, 13, "nodes[0].prompt", "format specs such as ':>10' are not allowed")],
    ),
    (
        "template-dunder",
        variant(BASE, ('"Sum: {text}"', '"Sum: {text.__class__}"')),
        [(9, 13, "nodes[0].prompt", "names starting with '_' are not allowed")],
    ),
    (
        "template-unclosed-brace",
        variant(BASE, ('"Sum: {text}"', '"Sum: {text"')),
        [(9, 13, "nodes[0].prompt", "at character 6: '{' is never closed")],
    ),
    (
        "template-undefined-field",
        variant(BASE, ('"Sum: {text}"', '"Sum: {txt}"')),
        [(9, 13, "nodes[0].prompt", "'txt' is not a state field (did you mean 'text'?)")],
    ),
    (
        "template-dotted-into-text",
        variant(BASE, ('"Sum: {text}"', '"Sum: {text.title}"')),
        [(9, 13, "nodes[0].prompt", "'text' is str, so 'title' cannot be read")],
    ),
    (
        "output-not-in-state",
        variant(BASE, ("output: summary", "output: summry")),
        [(10, 13, "nodes[0].output", "'summry' is not a state field (did you mean 'summary'?)")],
    ),
    (
        "llm-override-temperature",
        variant(BASE, ("    output: summary", "    output: summary\n    llm: {temperature: 3}")),
        [(11, 24, "nodes[0].llm.temperature", "less than or equal to 2")],
    ),
    (
        "llm-unknown-provider",
        variant(BASE, ("name: demo", "name: demo\nllm: {provider: openia}")),
        [(3, 17, "llm.provider", "'local', 'openai' or 'anthropic'")],
    ),
    (
        "llm-base-url-credentials",
        variant(BASE, ("name: demo", "name: demo\nllm: {base_url: 'http://u:p@host/v1'}")),
        [(3, 17, "llm.base_url", "must not carry credentials")],
    ),
    (
        "llm-api-key-written-as-key",
        variant(BASE, ("name: demo", "name: demo\nllm: {api_key: abc}")),
        [(3, 7, "llm.api_key", "never write secrets in a config")],
    ),
    (
        "llm-key-typo-is-not-a-secret",
        variant(BASE, ("name: demo", "name: demo\nllm: {max_token: 10}")),
        [(3, 7, "llm.max_token", "unknown key 'max_token' (did you mean 'max_tokens'?)")],
    ),
    # --- edges and the graph ------------------------------------------------------------------
    (
        "edge-to-unknown-node",
        variant(BASE, ("{from: summarize, to: END}", "{from: summarize, to: ENDD}")),
        [(13, 27, "edges[1].to", "unknown node 'ENDD'")],
    ),
    (
        "edge-from-unknown-node",
        variant(BASE, ("{from: summarize, to: END}", "{from: summarise, to: END}")),
        [
            (7, 5, "nodes[0]", "node 'summarize' has no outgoing edge"),
            (13, 12, "edges[1].from", "unknown node 'summarise' (did you mean 'summarize'?)"),
        ],
    ),
    (
        "edge-from-end",
        variant(BASE, ("{from: summarize, to: END}", "{from: END, to: summarize}")),
        [(13, 12, "edges[1].from", "END cannot start an edge")],
    ),
    (
        "no-edge-from-start",
        variant(BASE, ("  - {from: START, to: summarize}\n", "")),
        [
            (7, 5, "nodes[0]", "node 'summarize' is not reachable from START"),
            (12, 3, "edges", "no edge from START"),
        ],
    ),
    (
        "duplicate-node-id",
        variant(
            BASE,
            (
                "    output: summary\n",
                "    output: summary\n  - id: summarize\n    kind: llm\n    prompt: hi\n    output: summary\n",
            ),
        ),
        [(11, 9, "nodes[1].id", "duplicate node id 'summarize' (first used by nodes[0])")],
    ),
    (
        "unreachable-node",
        variant(
            BASE,
            (
                "    output: summary\n",
                "    output: summary\n  - id: extra\n    kind: llm\n    prompt: hi\n    output: summary\n",
            ),
            (
                "  - {from: summarize, to: END}",
                "  - {from: summarize, to: END}\n  - {from: extra, to: END}",
            ),
        ),
        [(11, 5, "nodes[1]", "node 'extra' is not reachable from START")],
    ),
    (
        "two-edges-out-of-one-node",
        variant(
            FLOW,
            (
                "  - {from: rate, to: check}",
                "  - {from: rate, to: check}\n  - {from: rate, to: summarize}",
            ),
        ),
        [(26, 5, "edges[2]", "'rate' already has an edge to 'check'")],
    ),
    (
        "cycle-without-loop",
        variant(FLOW, ("{from: summarize, to: END}", "{from: summarize, to: rate}")),
        [
            (
                26,
                5,
                "edges[2]",
                "nodes rate -> check -> summarize form a cycle that no loop node bounds",
            )
        ],
    ),
    (
        "router-edge-out",
        variant(
            FLOW,
            (
                "  - {from: summarize, to: END}",
                "  - {from: summarize, to: END}\n  - {from: check, to: END}",
            ),
        ),
        [(27, 5, "edges[3]", "'check' is a router node: it chooses where to go")],
    ),
    (
        "router-route-to-unknown",
        variant(FLOW, ("        to: summarize", "        to: sumarize")),
        [
            (
                17,
                13,
                "nodes[1].routes[0].to",
                "unknown node 'sumarize' (did you mean 'summarize'?)",
            ),
            (19, 5, "nodes[2]", "node 'summarize' is not reachable from START"),
        ],
    ),
    (
        "router-missing-default",
        variant(FLOW, ("    default: END\n", "")),
        [(13, 5, "nodes[1].default", "missing required key 'default'")],
    ),
    (
        "router-order-op-on-text",
        variant(FLOW, ("{field: score, op: gte, value: 7}", "{field: text, op: gt, value: 7}")),
        [(16, 33, "nodes[1].routes[0].when.op", "'text' is str, and `gt` compares numbers")],
    ),
    (
        "router-enum-value-not-allowed",
        variant(
            FLOW, ("{field: score, op: gte, value: 7}", "{field: label, op: eq, value: great}")
        ),
        [(16, 45, "nodes[1].routes[0].when.value", "expected one of good, bad")],
    ),
    (
        "router-unknown-op",
        variant(FLOW, ("op: gte", "op: bigger")),
        [(16, 34, "nodes[1].routes[0].when.op", "Input should be 'eq'")],
    ),
    (
        "condition-empty-takes-no-value",
        variant(
            FLOW, ("{field: score, op: gte, value: 7}", "{field: summary, op: empty, value: 1}")
        ),
        [(16, 50, "nodes[1].routes[0].when.value", "`empty` takes no value")],
    ),
    (
        "condition-in-needs-list",
        variant(FLOW, ("{field: score, op: gte, value: 7}", "{field: label, op: in, value: good}")),
        [(16, 45, "nodes[1].routes[0].when.value", "`in` needs a list of values")],
    ),
    (
        "condition-unknown-field",
        variant(FLOW, ("{field: score, op: gte, value: 7}", "{field: scor, op: gte, value: 7}")),
        [
            (
                16,
                23,
                "nodes[1].routes[0].when.field",
                "'scor' is not a state field (did you mean 'score'?)",
            )
        ],
    ),
    (
        "read-before-write",
        variant(FLOW, ('prompt: "Rate: {text}"', 'prompt: "Rate: {summary}"')),
        [(11, 13, "nodes[0].prompt", "'summary' is read before any node writes it")],
    ),
    # --- loops --------------------------------------------------------------------------------
    (
        "loop-max-iterations-zero",
        variant(LOOP, ("max_iterations: 3", "max_iterations: 0")),
        [(20, 21, "nodes[2].max_iterations", "greater than or equal to 1")],
    ),
    (
        "loop-missing-max-iterations",
        variant(LOOP, ("    max_iterations: 3\n", "")),
        [(16, 5, "nodes[2].max_iterations", "missing required key 'max_iterations'")],
    ),
    (
        "loop-body-unknown",
        variant(LOOP, ("body: write", "body: writ")),
        [(18, 11, "nodes[2].body", "unknown node 'writ' (did you mean 'write'?)")],
    ),
    (
        "loop-own-body",
        variant(LOOP, ("body: write", "body: again")),
        [(18, 11, "nodes[2].body", "a loop cannot be its own body")],
    ),
    (
        "loop-body-never-leads-back",
        variant(
            LOOP,
            ("body: write", "body: final"),
            (
                "    exit: END",
                "    exit: END\n  - id: final\n    kind: llm\n    prompt: hi\n    output: draft",
            ),
            (
                "  - {from: review, to: again}",
                "  - {from: review, to: again}\n  - {from: final, to: END}",
            ),
        ),
        [(18, 11, "nodes[2].body", "the body 'final' never leads back to loop 'again'")],
    ),
    (
        "loop-while-on-unknown-field",
        variant(LOOP, ("{field: score, op: lt, value: 7}", "{field: grade, op: lt, value: 7}")),
        [(19, 20, "nodes[2].while.field", "'grade' is not a state field")],
    ),
    # --- parallel -----------------------------------------------------------------------------
    (
        "parallel-one-branch",
        variant(PARALLEL, ("branches: [pros, cons]", "branches: [pros]")),
        [(11, 15, "nodes[0].branches", "at least 2 items")],
    ),
    (
        "parallel-join-unknown",
        variant(PARALLEL, ("join: weigh", "join: weight")),
        [(12, 11, "nodes[0].join", "unknown node 'weight' (did you mean 'weigh'?)")],
    ),
    (
        "parallel-branch-skips-join",
        variant(PARALLEL, ("{from: cons, to: weigh}", "{from: cons, to: END}")),
        [
            (11, 22, "nodes[0].branches[1]", "branch 'cons' never reaches the join 'weigh'"),
            (
                11,
                22,
                "nodes[0].branches[1]",
                "branch 'cons' can reach END without passing through the join",
            ),
            (23, 13, "nodes[3].prompt", "'cons' is read before any node writes it"),
        ],
    ),
    (
        "parallel-branches-write-same-field",
        variant(PARALLEL, ("    output: cons", "    output: pros")),
        [(11, 22, "nodes[0].branches[1]", "branches 'pros' and 'cons' both write 'pros'")],
    ),
    # --- tools --------------------------------------------------------------------------------
    (
        "tool-unknown",
        variant(TOOLS, ("tool: calculator", "tool: abacus")),
        [(10, 11, "nodes[0].tool", "unknown tool 'abacus'")],
    ),
    (
        "calculator-code",
        variant(TOOLS, ('"price * 2"', "\"__import__('os')\"")),
        [(11, 24, "nodes[0].args.expression", "the only functions are abs, min, max and round")],
    ),
    (
        "calculator-attribute",
        variant(TOOLS, ('"price * 2"', '"price.__class__"')),
        [(11, 24, "nodes[0].args.expression", "only state field names")],
    ),
    (
        "calculator-reads-unknown-field",
        variant(TOOLS, ('"price * 2"', '"prize * 2"')),
        [
            (
                11,
                24,
                "nodes[0].args.expression",
                "'prize' is not a state field (did you mean 'price'?)",
            )
        ],
    ),
    (
        "calculator-reads-text",
        variant(
            TOOLS,
            ('"price * 2"', '"note * 2"'),
            ("  saved: {type: str}", "  saved: {type: str}\n  note: {type: str, required: true}"),
        ),
        [
            (
                12,
                24,
                "nodes[0].args.expression",
                "the calculator tool reads int or float, but 'note' is str",
            )
        ],
    ),
    (
        "json-path-source-is-a-number",
        variant(
            TOOLS,
            (
                'tool: calculator\n    args: {expression: "price * 2"}',
                "tool: json_path\n    args: {source: price, path: $.a}",
            ),
        ),
        [
            (
                11,
                20,
                "nodes[0].args.source",
                "the json_path tool reads str or list or dict or object, but 'price' is float",
            )
        ],
    ),
    (
        "calculator-output-to-text",
        variant(TOOLS, ("    output: total", "    output: saved")),
        [
            (
                12,
                13,
                "nodes[0].output",
                "the calculator tool writes int or float, but state field 'saved' is str",
            )
        ],
    ),
    (
        "file-write-absolute-path",
        variant(TOOLS, ('"out/total.txt"', '"/etc/passwd"')),
        [(16, 18, "nodes[1].args.path", "relative to the workspace folder, not absolute")],
    ),
    (
        "file-write-parent-dir",
        variant(TOOLS, ('"out/total.txt"', '"../secrets.txt"')),
        [(16, 18, "nodes[1].args.path", "'..' is not allowed")],
    ),
    (
        "tool-missing-args",
        variant(TOOLS, ('    args: {expression: "price * 2"}\n', "")),
        [(8, 5, "nodes[0].args", "missing required key 'args'")],
    ),
    (
        "http-url-not-http",
        variant(
            TOOLS,
            (
                'tool: calculator\n    args: {expression: "price * 2"}',
                "tool: http_request\n    args: {url: 'file:///etc/passwd'}",
            ),
            ("output: total", "output: saved"),
        ),
        [(11, 17, "nodes[0].args.url", "must start with http:// or https://")],
    ),
    (
        "http-header-secret",
        variant(
            TOOLS,
            (
                'tool: calculator\n    args: {expression: "price * 2"}',
                "tool: http_request\n    args: {url: 'https://x.test', headers: {Authorization: 'Bearer sk-abc123'}}",
            ),
            ("output: total", "output: saved"),
        ),
        [(11, 60, "nodes[0].args.headers.Authorization", "looks like a credential")],
    ),
    # --- approval, agent, memory, schedules --------------------------------------------------
    (
        "approval-reject-unknown",
        variant(
            BASE,
            (
                '    kind: llm\n    prompt: "Sum: {text}"\n    output: summary',
                '    kind: approval\n    message: "OK? {text}"\n    on_reject: redo',
            ),
        ),
        [(10, 16, "nodes[0].on_reject", "unknown node 'redo'")],
    ),
    (
        "approval-message-unknown-field",
        variant(
            BASE,
            (
                '    kind: llm\n    prompt: "Sum: {text}"\n    output: summary',
                '    kind: approval\n    message: "OK? {draft}"',
            ),
        ),
        [(9, 14, "nodes[0].message", "'draft' is not a state field")],
    ),
    (
        "agent-input-unknown-field",
        variant(
            BASE,
            (
                '    kind: llm\n    prompt: "Sum: {text}"',
                '    kind: agent\n    agent: remote-summarizer\n    inputs: {text: "{body}"}',
            ),
        ),
        [(10, 20, "nodes[0].inputs.text", "'body' is not a state field")],
    ),
    (
        "agent-name-invalid",
        variant(
            BASE,
            (
                '    kind: llm\n    prompt: "Sum: {text}"',
                "    kind: agent\n    agent: remote summarizer",
            ),
        ),
        [(9, 12, "nodes[0].agent", "'remote summarizer' is not a valid agent name")],
    ),
    (
        "memory-key-undeclared",
        variant(
            BASE,
            (
                "    output: summary",
                "    output: summary\n    memory: {write: [{key: last, field: summary}]}",
            ),
        ),
        [(11, 28, "nodes[0].memory.write[0].key", "memory key 'last' is not declared")],
    ),
    (
        "memory-type-mismatch",
        variant(
            BASE,
            (
                "    output: summary",
                "    output: summary\n    memory: {write: [{key: last, field: summary}]}",
            ),
            ("edges:", "memory:\n  keys:\n    last: {type: int}\nedges:"),
        ),
        [
            (
                11,
                41,
                "nodes[0].memory.write[0].field",
                "memory key 'last' is int but state field 'summary' is str",
            )
        ],
    ),
    (
        "schedule-bad-cron",
        BASE + "schedules:\n  - cron: '61 * * * *'\n    inputs: {text: hi}\n",
        [(15, 11, "schedules[0].cron", "invalid cron expression '61 * * * *'")],
    ),
    (
        "schedule-cron-wrong-field-count",
        BASE + "schedules:\n  - cron: '* * *'\n    inputs: {text: hi}\n",
        [(15, 11, "schedules[0].cron", "a cron expression has 5 fields")],
    ),
    (
        "schedule-missing-required-input",
        BASE + "schedules:\n  - cron: '0 8 * * *'\n",
        [(15, 5, "schedules[0]", "does not give required input 'text'")],
    ),
    (
        "schedule-unknown-input",
        BASE + "schedules:\n  - cron: '0 8 * * *'\n    inputs: {text: hi, txt: hi}\n",
        [(16, 24, "schedules[0].inputs.txt", "'txt' is not a state field")],
    ),
    (
        "schedule-unknown-catch-up",
        BASE + "schedules:\n  - cron: '0 8 * * *'\n    inputs: {text: hi}\n    catch_up: every\n",
        [(17, 15, "schedules[0].catch_up", "'none', 'latest' or 'all'")],
    ),
    (
        "schedule-catch-up-bound-too-large",
        BASE
        + "schedules:\n  - cron: '0 8 * * *'\n    inputs: {text: hi}\n"
        + "    catch_up: all\n    max_catch_up: 1000\n",
        [(18, 19, "schedules[0].max_catch_up", "less than or equal to 100")],
    ),
    (
        "schedule-catch-up-bound-without-all",
        BASE
        + "schedules:\n  - cron: '0 8 * * *'\n    inputs: {text: hi}\n"
        + "    catch_up: latest\n    max_catch_up: 5\n",
        [(15, 5, "schedules[0]", "max_catch_up only applies with catch_up: all")],
    ),
    # --- YAML itself --------------------------------------------------------------------------
    (
        "yaml-duplicate-key",
        variant(BASE, ("name: demo", "name: demo\nname: other")),
        [(3, 1, "name", "duplicate key 'name' (first at line 2)")],
    ),
    (
        "yaml-syntax-error",
        variant(BASE, ("    output: summary", "    output: summary\n   bad: [unclosed")),
        [(11, 4, "", "YAML syntax error")],
    ),
    (
        "yaml-not-a-mapping",
        "- just\n- a list\n",
        [(1, 1, "", "a workflow config is a mapping")],
    ),
    (
        "yaml-empty",
        "# nothing here\n",
        [(None, None, "", "the config is empty")],
    ),
    (
        "yaml-two-documents",
        BASE + "---\nname: second\n",
        [(14, 1, "", "expected a single document")],
    ),
]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_invalid_config_reports_place_and_reason(text: str, expected: list[tuple]) -> None:
    issues = issues_of(text)
    assert [(i.line, i.column, i.path) for i in issues] == [e[:3] for e in expected], "\n".join(
        map(str, issues)
    )
    for issue, (_, _, _, fragment) in zip(issues, expected, strict=True):
        assert fragment in issue.message
        assert issue.file == "wf.yaml"

"""Loading configs: sources, the error type and its text, every issue at once, YAML details."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.config import (
    ConfigError,
    ConfigIssue,
    LLMNode,
    WorkflowConfig,
    config_from_data,
    load_config,
    validate_config,
    validate_text,
)
from tests.unit.config.samples import BASE, FLOW, issues_of, variant

MANY_PROBLEMS = """\
schema_version: 1
name: Bad Name
state:
  text: {type: string, required: true}
  score: {type: int, default: high}
  summary: {type: str}
llm:
  api_key_env: sk-proj-abcdef1234567890
nodes:
  - id: summarize
    kind: llm
    prompt: "Sum {text!r}"
    output: summary
  - id: summarize
    kind: llm
    prompt: "Again {summary}"
    output: summry
  - id: gate
    kind: router
    routes:
      - when: {field: summary, op: gt, value: 7}
        to: nowhere
    default: END
  - id: fetch
    kind: tool
    tool: http_fetch
edges:
  - {from: START, to: summarize}
  - {from: summarize, to: gate}
  - {from: ghost, to: END}
schedules:
  - cron: "61 * * * *"
"""


def test_every_problem_is_reported_at_once() -> None:
    issues = issues_of(MANY_PROBLEMS)
    found = {(issue.line, issue.path) for issue in issues}
    assert found == {
        (2, "name"),
        (4, "state.text.type"),
        (5, "state.score.default"),
        (8, "llm.api_key_env"),
        (12, "nodes[0].prompt"),
        (14, "nodes[1].id"),
        (17, "nodes[1].output"),
        (21, "nodes[2].routes[0].when.op"),
        (22, "nodes[2].routes[0].to"),
        (26, "nodes[3].tool"),
        (30, "edges[2].from"),
        (32, "schedules[0].cron"),
    }
    # In file order, each once.
    assert [issue.line for issue in issues] == sorted(issue.line for issue in issues)
    assert len(set(issues)) == len(issues)


def test_error_text_is_one_line_per_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MANY_PROBLEMS, filename="flows/bad.yaml")
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.issues)
    assert lines[0] == (
        "flows/bad.yaml:2:7: name: 'Bad Name' is not a valid name: use lowercase letters, "
        "digits, '-' and '_' (e.g. summarize-and-translate)"
    )
    assert all(line.startswith("flows/bad.yaml:") for line in lines)


def test_a_literal_key_is_never_repeated_in_messages() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MANY_PROBLEMS)
    assert "sk-proj-abcdef1234567890" not in str(caught.value)
    issue = next(i for i in caught.value.issues if i.path == "llm.api_key_env")
    assert "NAME of an environment variable" in issue.message


def test_load_from_path_and_path_text(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_config(path).name == "demo"
    assert load_config(str(path)).name == "demo"
    assert load_config(BASE).name == "demo"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml")
    assert (
        str(caught.value)
        == f"{tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory"
    )
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe")
    with pytest.raises(
        ConfigError, match=r"binary.yaml:1:7: the file is not UTF-8 text \(byte 7 is 0xff\)"
    ):
        load_config(binary)


def test_errors_inside_the_file_carry_its_name(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(variant(BASE, ("output: summary", "output: nope")), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.issues == [
        ConfigIssue(
            str(path),
            10,
            13,
            "nodes[0].output",
            "'nope' is not a state field: declare it under state",
        )
    ]


def test_validate_text_returns_issues_without_raising() -> None:
    assert validate_text(BASE) == []
    issues = validate_text(variant(BASE, ("kind: llm", "kind: nope")), "editor")
    assert [(i.file, i.line, i.path) for i in issues] == [("editor", 8, "nodes[0].kind")]


def test_json_text_loads_too() -> None:
    import json

    import yaml

    text = json.dumps(yaml.safe_load(BASE), indent=2)
    assert load_config(text) == load_config(BASE)


def test_data_without_text_has_paths_but_no_lines() -> None:
    import yaml

    data = yaml.safe_load(variant(BASE, ("output: summary", "output: nope")))
    with pytest.raises(ConfigError) as caught:
        config_from_data(data)
    [issue] = caught.value.issues
    assert (issue.line, issue.column, issue.path) == (None, None, "nodes[0].output")
    assert (
        str(issue) == "<data>: nodes[0].output: 'nope' is not a state field: declare it under state"
    )


def test_validate_config_checks_a_config_built_in_code() -> None:
    config = load_config(BASE)
    broken = config.model_copy(
        update={"nodes": [LLMNode(id="summarize", kind="llm", prompt="{nope}", output="summary")]}
    )
    assert validate_config(config) == []
    [issue] = validate_config(broken)
    assert issue.path == "nodes[0].prompt"
    assert "'nope' is not a state field" in issue.message


def test_anchors_and_merge_keys_work() -> None:
    text = variant(
        BASE,
        ("name: demo", "name: demo\nx-defaults: &small {max_tokens: 32}"),
        ("    output: summary", "    output: summary\n    llm: {<<: *small, temperature: 0.1}"),
    )
    # Unknown top-level keys are refused even when they only hold anchors.
    assert [(i.line, i.path) for i in issues_of(text)] == [(3, "x-defaults")]
    text = variant(
        BASE,
        ("name: demo", "name: demo\nllm: &small {max_tokens: 32}"),
        ("    output: summary", "    output: summary\n    llm: {<<: *small, temperature: 0.1}"),
    )
    node = load_config(text).nodes[0]
    assert (node.llm.max_tokens, node.llm.temperature) == (32, 0.1)


def test_unquoted_dates_stay_text_and_custom_tags_are_refused() -> None:
    config = load_config(variant(BASE, ("name: demo", "name: demo\ndescription: 2024-05-01")))
    assert config.description == "2024-05-01"
    issues = issues_of(
        variant(BASE, ("name: demo", "name: demo\ndescription: !!python/name:os.system x"))
    )
    assert [(i.line, i.message) for i in issues] == [
        (3, "unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system'")
    ]


def test_duplicate_keys_deep_inside_are_found() -> None:
    issues = issues_of(
        variant(BASE, ("    output: summary", "    output: summary\n    output: summary"))
    )
    assert [(i.line, i.column, i.path, i.message) for i in issues] == [
        (11, 5, "nodes[0].output", "duplicate key 'output' (first at line 10)")
    ]


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    issues = issues_of("\n".join(lines) + "\n")
    assert [(i.line, i.message) for i in issues] == [(1, "the config has more than 50000 values")]


def test_oversized_text_is_refused() -> None:
    issues = issues_of("# " + "x" * 1_000_001)
    assert issues[0].message == "the config is larger than 1000000 characters"


def test_llm_overrides_merge_over_defaults() -> None:
    config = load_config(
        variant(
            BASE,
            ("name: demo", "name: demo\nllm: {provider: openai, model: m1, temperature: 0.7}"),
            ("    output: summary", "    output: summary\n    llm: {model: m2}"),
        )
    )
    merged = config.effective_llm(config.nodes[0])
    assert (merged.provider, merged.model, merged.temperature) == ("openai", "m2", 0.7)


def test_structured_output_schema_comes_from_state_types() -> None:
    config = load_config(FLOW)
    rate, _, summarize = config.nodes
    assert config.structured_output_schema(rate) == {
        "type": "object",
        "properties": {
            "score": {"type": "integer"},
            "label": {"type": "string", "enum": ["good", "bad"]},
        },
        "required": ["score", "label"],
        "additionalProperties": False,
    }
    assert config.structured_output_schema(summarize) is None
    only_score = rate.model_copy(update={"outputs": None, "output": "score"})
    assert config.structured_output_schema(only_score) == {
        "type": "object",
        "properties": {"score": {"type": "integer"}},
        "required": ["score"],
        "additionalProperties": False,
    }


def test_switching_provider_does_not_inherit_the_endpoint() -> None:
    config = load_config(
        variant(
            BASE,
            (
                "name: demo",
                "name: demo\nllm: {provider: openai, model: m1, base_url: 'http://h/v1', api_key_env: K, temperature: 0.3}",
            ),
            ("    output: summary", "    output: summary\n    llm: {provider: local}"),
        )
    )
    merged = config.effective_llm(config.nodes[0])
    assert merged.model_dump(exclude_none=True) == {"provider": "local", "temperature": 0.3}


def test_models_are_importable_for_code_that_builds_configs() -> None:
    config = WorkflowConfig.model_validate(
        {
            "schema_version": 1,
            "name": "built",
            "state": {"t": {"type": "str"}},
            "nodes": [{"id": "a", "kind": "llm", "prompt": "hi", "output": "t"}],
            "edges": [{"from": "START", "to": "a"}, {"from": "a", "to": "END"}],
        }
    )
    assert validate_config(config) == []


def test_error_pickles_and_plain_text_gets_a_hint() -> None:
    import pickle

    issues = issues_of("workflow.txt")
    assert issues[0].message.endswith("; to load a file, pass a Path")
    error = ConfigError(issues)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.issues == error.issues and str(copy) == str(error)


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("OPENAI_API_KEY", False),
        ("SK_API_KEY", False),
        ("MY_TOKEN_2", False),
        ("ANTHROPIC_API_KEY", False),
        ("sk-proj-abc123", True),
        ("sk-ant-api03-xyz", True),
        ("AKIAIOSFODNN7EXAMPLE", True),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", True),
        ("Bearer abc", True),
    ],
)
def test_api_key_env_takes_names_and_refuses_keys(value: str, secret: bool) -> None:
    text = variant(
        BASE, ("name: demo", f"name: demo\nllm: {{provider: openai, api_key_env: '{value}'}}")
    )
    if not secret:
        assert load_config(text).llm.api_key_env == value
        return
    issues = issues_of(text)
    assert [(i.line, i.path) for i in issues] == [(3, "llm.api_key_env")]
    assert value not in str(ConfigError(issues))

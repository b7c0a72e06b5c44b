"""Prompt templates read state fields only; hostile templates and values stay harmless."""

from __future__ import annotations

import pytest

from configurable_agents.config.templates import (
    TemplateError,
    parse_template,
    render_template,
    render_value,
    template_fields,
)

STATE = {
    "topic": "owls",
    "article": {"title": "Night birds", "meta": {"words": 120}},
    "tags": ["a", "b"],
    "count": 3,
    "ratio": 0.5,
    "done": False,
    "empty": None,
}


def test_renders_fields_and_dotted_paths() -> None:
    text = render_template("About {topic}: {article.title} ({article.meta.words} words)", STATE)
    assert text == "About owls: Night birds (120 words)"


def test_data_values_read_as_json_and_null_as_empty() -> None:
    assert (
        render_template("{tags}|{count}|{ratio}|{done}|{empty}|", STATE)
        == '["a", "b"]|3|0.5|false||'
    )
    assert render_template("{article.meta}", STATE) == '{"words": 120}'


def test_double_braces_are_literal() -> None:
    assert render_template("{{topic}} is {topic} {{", STATE) == "{topic} is owls {"
    assert render_template("a }} b", STATE) == "a } b"


def test_values_with_braces_are_inserted_verbatim() -> None:
    state = {"text": "{topic} {__class__} {x!r} {{y}}", "topic": "owls"}
    assert render_template("Say: {text}", state) == "Say: {topic} {__class__} {x!r} {{y}}"


def test_template_fields_lists_top_level_names() -> None:
    assert template_fields("{topic} {article.title} {article.meta.words} {{not}}") == {
        "topic",
        "article",
    }
    assert template_fields("no fields") == set()


@pytest.mark.parametrize(
    ("template", "position", "fragment"),
    [
        ("{__class__}", 1, "names starting with '_' are not allowed"),
        ("x {a.__dict__}", 3, "names starting with '_' are not allowed"),
        ("{topic._private}", 1, "names starting with '_'"),
        ("{x!r}", 1, "conversions such as '!r' are not allowed"),
        ("{x:>10}", 1, "format specs such as ':>10' are not allowed"),
        ("ab{x:{y}}", 3, "nested braces are not allowed"),
        ("{x[0]}", 1, "indexing such as '[0]' (use dotted names"),
        ("{x.y()}", 1, "calls are not allowed"),
        ("{}", 1, "empty reference"),
        ("{ }", 1, "empty reference"),
        ("{0}", 1, "invalid reference {0}"),
        ("{a b}", 1, "invalid reference {a b}"),
        ("{a..b}", 1, "invalid reference"),
        ("hello {topic", 7, "'{' is never closed"),
        ("hello }", 7, "single '}' with no matching '{'"),
    ],
)
def test_bad_templates_say_where_and_what(template: str, position: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    assert caught.value.position == position
    assert fragment in caught.value.reason
    assert str(caught.value).startswith(f"at character {position}: ")


def test_missing_field_names_it() -> None:
    with pytest.raises(TemplateError) as caught:
        render_template("Hi {name}", STATE)
    assert str(caught.value) == "at character 4: 'name' is not a field of the state"


def test_dotted_path_into_text_or_missing_key() -> None:
    with pytest.raises(TemplateError, match="'topic' is str, so 'title' cannot be read"):
        render_template("{topic.title}", STATE)
    with pytest.raises(TemplateError, match="'article' has no key 'author'"):
        render_template("{article.author}", STATE)
    with pytest.raises(TemplateError, match="'tags' is list, so 'upper' cannot be read"):
        render_template("{tags.upper}", STATE)


def test_python_objects_are_never_traversed() -> None:
    class Secretive:
        title = "attribute"

        def __str__(self) -> str:  # pragma: no cover - must never be called
            raise AssertionError("str() of a state object was called")

    state = {"obj": Secretive(), "holder": {"inner": Secretive()}}
    with pytest.raises(TemplateError, match="'obj' is Secretive, so 'title' cannot be read"):
        render_template("{obj.title}", state)
    with pytest.raises(TemplateError, match="cannot be written into a template"):
        render_template("{obj}", state)
    with pytest.raises(TemplateError, match="'holder': it holds a value that is not JSON data"):
        render_template("{holder}", state)


def test_no_environment_or_globals_reach() -> None:
    for template in ("{os.environ}", "{environ.HOME}", "{globals}"):
        with pytest.raises(TemplateError, match="is not a field of the state"):
            render_template(template, STATE)


def test_a_non_text_template_is_an_error() -> None:
    with pytest.raises(TemplateError, match="a template must be text"):
        parse_template(["{x}"])  # type: ignore[arg-type]


def test_render_value_keeps_the_type_of_a_lone_reference() -> None:
    assert render_value("{tags}", STATE) == ["a", "b"]
    assert render_value("{article.meta.words}", STATE) == 120
    assert render_value("n={count}", STATE) == "n=3"

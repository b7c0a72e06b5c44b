"""The gallery: templates found by name, matched against requests, adopted with the
requested loop bound."""

from __future__ import annotations

from configurable_agents.builder import Gallery, interpret
from configurable_agents.builder.gallery import adopt, templates_from_database
from configurable_agents.config import config_from_data
from configurable_agents.release import seed_examples


def test_the_gallery_holds_every_example(gallery: Gallery) -> None:
    assert {"summarize", "summarize-and-translate", "write-and-review"} <= set(gallery.names)


def test_templates_are_found_by_name_number_or_words(gallery: Gallery) -> None:
    assert gallery.find("write-and-review").name == "write-and-review"  # type: ignore[union-attr]
    assert gallery.find("write and review").name == "write-and-review"  # type: ignore[union-attr]
    assert gallery.find("1").name == gallery.names[0]  # type: ignore[union-attr]
    assert gallery.find("zzz qqq") is None


def test_a_request_the_template_covers_adopts_it_with_the_requested_bound(gallery: Gallery) -> None:
    plan = interpret(
        "Write a short paragraph about a topic, review it, and revise it, at most 5 rounds"
    )
    best = gallery.match(plan)[0]
    assert best.template.name == "write-and-review"

    exact = gallery.match(interpret("Summarize a text, then translate the summary to French"))[0]
    assert exact.adoptable and exact.template.name == "summarize-and-translate"

    data = adopt(
        gallery.find("write-and-review"),
        interpret("Write about a topic and review it, at most 5 rounds"),
    )  # type: ignore[arg-type]
    loop = next(node for node in config_from_data(data).nodes if node.kind == "loop")
    assert loop.max_iterations == 5  # type: ignore[union-attr]


def test_a_different_request_is_only_suggested(gallery: Gallery) -> None:
    plan = interpret("Summarize a text, then translate the summary to Spanish")
    best = gallery.match(plan)[0]
    assert best.template.name == "summarize-and-translate"
    assert not best.adoptable  # Spanish is not in the template
    assert 0.5 <= best.score < 1


def test_the_gallery_is_read_from_the_examples_the_release_stored(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        seed_examples(session)
        session.commit()
    stored = templates_from_database(session_factory)
    assert {t.name for t in stored} == set(Gallery.load().names)
    assert all(t.workflow_id is not None for t in stored)

"""A template rendered once for many readers gives each the text it would have read alone."""

from __future__ import annotations

from typing import Any

import pytest

from amends.delivery.templates import (
    InvalidTemplate,
    Rendered,
    default_template,
    render,
    render_many,
    sample_context,
)

TEMPLATES = [
    # An organisation's: plain slots, tests and a filter on the same values.
    ("Sorry {{ customer_name }}", "{{ greeting }}\n{% if code %}Code: {{ code }}{% endif %}",
     "<p>{{ customer_name }}</p>{% if code %}<b>{{ code }}</b>{% else %}none{% endif %}"),
    ("{{ customer_name|upper }}", "{{ code|replace('-', '') }}", None),
    ("Hi", "{% set shout %}{{ customer_name }}{% endset %}{{ shout|upper }}", None),
    ("Hi", "{% macro hello(who) %}Hello {{ who }}{% endmacro %}{{ hello(customer_name) }}",
     "{% filter upper %}{{ customer_name }}{% endfilter %}"),
    ("Hi", "{% for c in code %}{{ c }}.{% endfor %}", "{{ code ~ '!' }}"),
    ("Hi", "{% if customer_name == 'Zoë' %}Bonjour{% endif %} {{ customer_name }}", None),
    ("{{ nope }}", "{{ code }}", None),  # does not render, for every reader
]


def _readers() -> list[dict[str, Any]]:
    readers = []
    for n, name in enumerate(["Ann <admin> & \"co\"", "Zoë", "", "Bob's", "{{ code }}"]):
        context = sample_context("fr")
        context.update(customer_name=name, greeting=f"Bonjour {name}",
                       code="" if n == 2 else f"7KQ4M-{n}", page_url=f"https://x.example/c/{n}",
                       case_reference=f"C-{n}")
        readers.append(context)
    return readers


def _alone(subject: str, text: str, html: str | None,
           context: dict[str, Any]) -> Rendered | str:
    try:
        return render(subject, text, html, context)
    except InvalidTemplate as problem:
        return problem.detail


@pytest.mark.parametrize("template", [*TEMPLATES, default_template("gesture", "email", "fr"),
                                      default_template("gesture", "sms", "de")])
def test_each_reader_reads_what_the_template_renders_for_them_alone(
        template: tuple[str, str, str | None]) -> None:
    readers = _readers()
    together = [result.detail if isinstance(result, InvalidTemplate) else result
                for result in render_many(*template, readers)]
    assert together == [_alone(*template, context) for context in readers]

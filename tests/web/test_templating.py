"""Pages render in one language per request: the translations given to `render` (the coupon
page passes its customer's) win over the console's, in `{% trans %}` blocks and `_()` alike."""

from __future__ import annotations

import io

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations
from jinja2 import ChoiceLoader, DictLoader
from starlette.requests import Request

from amends.web import templating


def _request(headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": raw, "app": None})


def _german() -> Translations:
    catalog = Catalog(locale="de", domain="console")
    catalog.add("Cases", "Fälle")
    catalog.add("Hello %(name)s", "Hallo %(name)s")
    catalog.add(("%(count)s case", "%(count)s cases"), ("%(count)s Fall", "%(count)s Fälle"))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled, domain="console")


def test_a_page_given_translations_speaks_them_in_trans_blocks_and_underscore() -> None:
    source = ("{% trans %}Cases{% endtrans %}|{{ _('Hello %(name)s', name=who) }}|"
              "{% trans count=n %}{{ count }} case{% pluralize %}{{ count }} cases"
              "{% endtrans %}")
    original = templating.templates.env.loader
    assert original is not None
    templating.templates.env.loader = ChoiceLoader([DictLoader({"t.html": source}), original])
    try:
        page = templating.render(_request({"Accept-Language": "fr"}), "t.html",
                                 {"who": "<Zoé>", "n": 2}, translations=_german())
        english = templating.render(_request(), "t.html", {"who": "Al", "n": 1})
    finally:
        templating.templates.env.loader = original
    assert page.body.decode() == "Fälle|Hallo &lt;Zoé&gt;|2 Fälle"
    assert english.body.decode() == "Cases|Hello Al|1 case"

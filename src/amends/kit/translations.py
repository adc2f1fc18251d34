"""gettext catalogues, read from the `.po` files under `amends/locale/` (compiled in memory:
no generated `.mo` file is kept in the repository).

Two domains: `console` (the staff's pages, English and French) and `customer` (what a customer
reads on the coupon page and in a wallet pass: every shipped locale). A locale without a
catalogue of its own falls back along `kit.locale.fallback_chain` (`fr-CA` -> `fr`), and
English is the source text itself.
"""

from __future__ import annotations

import io
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from amends.kit.locale import fallback_chain

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAINS = ("console", "customer")


def catalogue_path(domain: str, tag: str) -> Path:
    return LOCALE_DIR / tag.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=64)
def _compiled(domain: str, tag: str) -> bytes | None:
    path = catalogue_path(domain, tag)
    if not path.is_file():
        return None
    with path.open("rb") as source:
        catalog = read_po(source, locale=tag.replace("-", "_"), domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    return compiled.getvalue()


@lru_cache(maxsize=256)
def translations(domain: str, tag: str | None, default: str = "en") -> NullTranslations:
    """The catalogue for `tag`, the more general ones behind it (`fr-CA` reads `fr-CA`, then
    `fr`), and the English source text last. Shared and read-only: do not add fallbacks."""
    chain = [Translations(fp=io.BytesIO(found), domain=domain)
             for step in fallback_chain(tag, default)
             if (found := _compiled(domain, step)) is not None]
    if not chain:
        return NullTranslations()
    for earlier, later in pairwise(chain):
        earlier.add_fallback(later)
    return chain[0]


def available(domain: str) -> tuple[str, ...]:
    """The locales with a catalogue in `domain`, and English."""
    found = {path.parent.parent.name.replace("_", "-")
             for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{domain}.po")}
    return tuple(sorted(found | {"en"}))

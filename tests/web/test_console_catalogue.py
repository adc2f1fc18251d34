"""The console's catalogues stay complete: the messages extracted from the templates and the
Python today (as `pybabel extract -F babel-console.cfg` reads them) are exactly the ones the
French catalogue translates, none left empty or fuzzy, none obsolete; the English catalogue
(the source text itself) lists the same messages. The README says how to update them."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from amends.kit.translations import catalogue_path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "babel-console.cfg"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}

Key = str | tuple[str, ...]


def _key(message_id: str | tuple[str, ...] | list[str]) -> Key:
    return message_id if isinstance(message_id, str) else tuple(message_id)


def _extracted() -> set[Key]:
    with MAPPING.open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, filename=str(MAPPING))
    found: set[Key] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS):
        found.add(_key(message))
    return found


def _catalogue(tag: str) -> Catalog:
    with catalogue_path("console", tag).open("rb") as source:
        return read_po(source, locale=tag, domain="console")


def _problems(tag: str, *, translated: bool) -> list[str]:
    extracted = _extracted()
    catalogue = _catalogue(tag)
    held = {_key(m.id): m for m in catalogue if m.id}
    problems = [f"missing from {tag}: {key!r}" for key in sorted(extracted - set(held), key=str)]
    problems += [f"obsolete in {tag}: {key!r}" for key in sorted(set(held) - extracted, key=str)]
    problems += [f"obsolete in {tag}: {key!r}" for key in sorted(map(_key, catalogue.obsolete),
                                                              key=str)]
    for key, message in sorted(held.items(), key=lambda item: str(item[0])):
        if message.fuzzy:
            problems.append(f"fuzzy in {tag}: {key!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if translated and not all(strings):
            problems.append(f"untranslated in {tag}: {key!r}")
        problems += [f"{tag} {key!r}: {error}" for error in message.check(catalogue)]
    return problems


def test_the_french_catalogue_translates_every_console_message_and_nothing_else() -> None:
    problems = _problems("fr", translated=True)
    assert not problems, "\n".join(problems)


def test_the_english_catalogue_lists_the_same_messages() -> None:
    problems = _problems("en", translated=False)
    assert not problems, "\n".join(problems)


def test_extraction_reads_templates_views_and_the_tables_of_labels() -> None:
    extracted = _extracted()
    assert "Cases" in extracted  # base.html
    assert "Preferences saved." in extracted  # users/views.py
    assert "Late delivery" in extracted  # web/labels.py, marked with N_
    assert ("%(count)s case", "%(count)s cases") in extracted  # a plural in a template
    assert "A gesture for you" not in " ".join(map(str, extracted))  # the coupon page's own

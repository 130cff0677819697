"""Keeping the Dutch and English catalogues complete.

``python -m audit.catalogs`` extracts every translatable string from the code and templates,
merges it into both catalogues (English strings translate to themselves), compiles the .mo
files that ship in the package and lists Dutch strings still missing. The tests use
``extract`` and ``load`` to fail on any string without a translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from audit.config import ROOT

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("nl", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def extract() -> Catalog:
    """Every translatable string in audit/ and templates/."""
    catalog = Catalog(project="rule-audit", fuzzy=False)
    method_map = [("audit/**.py", "python"), ("templates/**.html", "jinja2")]
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        if filename.startswith("audit/catalogs"):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def load(language: str) -> Catalog:
    with open(po_path(language), "rb") as handle:
        return read_po(handle, locale=language)


def missing(language: str, template: Catalog | None = None) -> list[str]:
    """Strings in the code that have no (or only a fuzzy) translation in the catalogue."""
    template = template or extract()
    catalog = load(language)
    result = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        text = found.string if found else None
        if found is None or found.fuzzy or not (all(text) if isinstance(text, tuple) else text):
            result.append(message.id if isinstance(message.id, str) else message.id[0])
    return result


def update() -> dict[str, list[str]]:
    template = extract()
    report = {}
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = (
            load(language) if path.exists() else Catalog(locale=language, project="rule-audit")
        )
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        for message in catalog:
            if language == "en" and message.id and not message.string:
                message.string = message.id  # English is the source language
        catalog.obsolete.clear()
        with open(path, "wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=True)
        with open(path.with_suffix(".mo"), "wb") as handle:
            write_mo(handle, catalog)
        report[language] = missing(language, template)
    return report


if __name__ == "__main__":
    report = update()
    for language, strings in report.items():
        for text in strings:
            print(f"{language}: missing: {text}")
    sys.exit(1 if any(report.values()) else 0)

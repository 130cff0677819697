"""The register's columns in Excel, shared by the export, the import and the template, so an
exported Register sheet imports again unchanged.

The columns are the rule's fields with a workbook column (audit/domain/fields.py): a column's
header is its field's label in the workbook's language, the same words the form and the history
use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from audit.domain import fields


@dataclass(frozen=True)
class Column:
    key: str  # the column's own key ("category"); the field's is ``field.key`` ("category_id")
    field: fields.Field

    @property
    def width(self) -> int:
        return self.field.width

    @property
    def importable(self) -> bool:
        return self.field.editable  # False: computed by the app, shown but ignored on import

    def header(self, lang: str) -> str:
        """The label in ``lang``; translating needs an app context (outside one: English)."""
        with force_locale(lang):
            return str(self.field.label)

    @property
    def en(self) -> str:
        return self.header("en")

    @property
    def nl(self) -> str:
        return self.header("nl")


# Columns the Register sheet adds after the field table's: figures of the app (how many
# colleagues' reports stand behind the rule), written for the reader and skipped by the import
# without a word, so an exported report imports again as it is.
REPORTED = _l("Reported by colleagues")
# Which teams try without the rule, and until when (docs/design.md, "Experiments").
SUSPENDED = _l("Suspended by an experiment")
DERIVED = (REPORTED, SUSPENDED)


def derived_headers() -> set[str]:
    """The derived columns' headers in English and Dutch, as ``normalise_header`` folds them."""
    found = set()
    for label in DERIVED:
        for lang in ("en", "nl"):
            with force_locale(lang):
                found.add(normalise_header(str(label)))
    return found


def columns() -> tuple[Column, ...]:
    """The columns of the field table as it is now, in its order."""
    return tuple(Column(f.column_key, f) for f in fields.rule_spec().columns)


def headers(lang: str) -> list[str]:
    """Every column's header in one language, rendered once."""
    with force_locale(lang):
        return [str(f.label) for f in fields.rule_spec().columns]


def by_key() -> dict[str, Column]:
    return {c.key: c for c in columns()}


def normalise_header(text: object) -> str:
    """Headers match whatever their case and spacing."""
    return " ".join(str(text or "").split()).casefold()


def header_keys() -> dict[str, str]:
    """Every accepted header text -> column key: the label in English and Dutch, and the
    headers older exports wrote (``Field.headers``)."""
    found: dict[str, str] = {}
    for column in columns():
        for name in (column.en, column.nl, *column.field.headers):
            found.setdefault(normalise_header(name), column.key)
    return found


def __getattr__(name: str) -> Any:
    # ``COLUMNS``, ``BY_KEY`` and ``HEADER_KEYS`` follow the field table when asked for.
    if name == "COLUMNS":
        return columns()
    if name == "BY_KEY":
        return by_key()
    if name == "HEADER_KEYS":
        return header_keys()
    raise AttributeError(name)

"""The import template: the register's columns, drop-down lists, and a sheet explaining them."""

from __future__ import annotations

from typing import IO

from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from sqlite_utils import Database

from audit import categories, origins
from audit.vocabulary import IMPACTS, STATUSES, VALUES
from audit.xlsx_columns import COLUMNS

ROWS_WITH_LISTS = 2000
HEADER_FILL = PatternFill("solid", start_color="DDE7E1", end_color="DDE7E1")


def _explanations() -> dict[str, str]:
    return {
        "code": _(
            "Optional. An existing code updates that rule; a new one creates it; empty gets"
            " the next free code."
        ),
        "title": _("Required. The rule in a few words."),
        "description": _("What the rule asks of staff."),
        "category": _(
            "A category of your organisation, in Dutch or English. A new name creates the category."
        ),
        "protocol": _("The protocol the rule stands in. A new name creates the protocol."),
        "teams": _(
            "Team names, separated by commas or semicolons. Empty (with no locations): the"
            " whole organisation."
        ),
        "locations": _("Location names, separated by commas or semicolons."),
        "perceived_origin": _("Where the team believes the rule comes from."),
        "verified_origin": _("Where tracing found it comes from. Empty: not traced yet."),
        "source_reference": _("The source, such as Wkkgz art. 9."),
        "evidence_note": _("How the origin was verified."),
        "minutes_per_week": _(
            "Staff time across its scope: a whole number, 0 or more. Empty: unknown."
        ),
        "relation_impact": _("The effect on the relation with the client."),
        "values_touched": _("Values the rule touches, separated by commas."),
        "status": _("Empty: active."),
        "owner": _("Who answers for the rule: a user name or free text."),
        "introduced_on": _("A date cell, or a date written as 2019-03-12 or 12-03-2019."),
        "review_due": _("A date cell, or a date written as 2019-03-12 or 12-03-2019."),
        "self_invented": _("Filled in by Regelaudit from the verified origin; ignored on import."),
        "myth": _("Filled in by Regelaudit; ignored on import."),
        "verified_by": _("Filled in by Regelaudit; ignored on import."),
        "verified_on": _("Filled in by Regelaudit; ignored on import."),
    }


def write_template(db: Database, out: str | IO[bytes], lang: str = "en") -> None:
    with force_locale(lang):
        wb = Workbook()
        ws = wb.active
        ws.title = _("Rules")
        explain = wb.create_sheet(_("Explanation"))
        lists = wb.create_sheet(_("Lists"))

        ws.append([c.header(lang) for c in COLUMNS])
        for index, column in enumerate(COLUMNS, 1):
            cell = ws.cell(row=1, column=index)
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = "A2"

        # Drop-down lists read their values from the hidden Lists sheet: a list typed into the
        # rule itself is limited to 255 characters, too short for the categories.
        choices = {
            "category": [
                c["name_en"] if lang == "en" else c["name_nl"]
                for c in categories.list_categories(db)
            ],
            "perceived_origin": [origins.label(k) for k in origins.ORIGINS],
            "verified_origin": [origins.label(k) for k in origins.ORIGINS],
            "relation_impact": [str(v) for v in IMPACTS.values()],
            "status": [str(v) for v in STATUSES.values()],
        }
        keys = [c.key for c in COLUMNS]
        for list_index, (key, values) in enumerate(choices.items(), 1):
            letter = get_column_letter(list_index)
            lists.cell(
                row=1,
                column=list_index,
                value=next(c.header(lang) for c in COLUMNS if c.key == key),
            )
            for row, value in enumerate(values, 2):
                lists.cell(row=row, column=list_index, value=value)
            source = f"{quote_sheetname(lists.title)}!${letter}$2:${letter}${len(values) + 1}"
            validation = DataValidation(type="list", formula1=source, allow_blank=True)
            validation.error = _("Choose a value from the list.")
            validation.errorTitle = _("Unknown value")
            validation.showErrorMessage = key != "category"  # a new category name is allowed
            column = get_column_letter(keys.index(key) + 1)
            validation.add(f"{column}2:{column}{ROWS_WITH_LISTS}")
            ws.add_data_validation(validation)
        lists.sheet_state = "hidden"

        explain.append([_("Column"), _("Required"), _("Meaning"), _("Allowed values")])
        for cell in explain[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        allowed = {
            "perceived_origin": ", ".join(choices["perceived_origin"]),
            "verified_origin": ", ".join(choices["verified_origin"]),
            "relation_impact": ", ".join(choices["relation_impact"]),
            "status": ", ".join(choices["status"]),
            "values_touched": ", ".join(str(v) for v in VALUES.values()),
            "category": ", ".join(choices["category"]),
        }
        texts = _explanations()
        for column in COLUMNS:
            explain.append(
                [
                    column.header(lang),
                    _("yes") if column.key == "title" else "",
                    texts[column.key],
                    allowed.get(column.key, ""),
                ]
            )
        explain.append([])
        explain.append(
            [
                _(
                    "Headers may be in English or Dutch, in any order and any case. Other"
                    " columns are ignored and reported. Values match on their English or"
                    " Dutch name."
                )
            ]
        )
        for letter, width in zip("ABCD", (26, 10, 70, 70), strict=True):
            explain.column_dimensions[letter].width = width
        for row in explain.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        wb.save(out)

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

from audit.domain import categories, fields
from audit.xlsx.columns import headers

ROWS_WITH_LISTS = 2000
HEADER_FILL = PatternFill("solid", start_color="DDE7E1", end_color="DDE7E1")


def write_template(db: Database, out: str | IO[bytes], lang: str = "en") -> None:
    with force_locale(lang):
        wb = Workbook()
        ws = wb.active
        ws.title = _("Rules")
        explain = wb.create_sheet(_("Explanation"))
        lists = wb.create_sheet(_("Lists"))

        columns = fields.rule_spec().columns
        names = headers(lang)
        header_of = {f.column_key: name for f, name in zip(columns, names, strict=True)}
        ws.append(names)
        for index, column in enumerate(columns, 1):
            cell = ws.cell(row=1, column=index)
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = "A2"

        # Drop-down lists read their values from the hidden Lists sheet: a list typed into the
        # rule itself is limited to 255 characters, too short for the categories.
        # A choice field gets a list of its labels; a field of categories the organisation's own.
        choices = {
            f.column_key: [str(label) for label in f.choices.values()]
            for f in columns
            if f.kind == fields.CHOICE and f.editable
        }
        if "category" in header_of:
            choices = {
                "category": [
                    c["name_en"] if lang == "en" else c["name_nl"]
                    for c in categories.list_categories(db)
                ],
                **choices,
            }
        keys = [f.column_key for f in columns]
        for list_index, (key, values) in enumerate(choices.items(), 1):
            letter = get_column_letter(list_index)
            lists.cell(row=1, column=list_index, value=header_of[key])
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
        allowed = {key: ", ".join(values) for key, values in choices.items()}
        allowed.update(
            (f.column_key, ", ".join(str(v) for v in f.choices.values()))
            for f in columns
            if f.kind == fields.CHOICES
        )
        for f in columns:
            explain.append(
                [
                    header_of[f.column_key],
                    _("yes") if f.required and f.kind != fields.CHOICE else "",
                    str(f.explanation or ""),
                    allowed.get(f.column_key, ""),
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

"""The import template: the register's columns, drop-down lists, and a sheet explaining them.

Written with xlsxwriter (constant_memory mode, rows in order) like the report; category names
are typed by users, so every text goes in with ``write_string``.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import IO

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlite_utils import Database
from xlsxwriter.utility import quote_sheetname, xl_col_to_name
from xlsxwriter.workbook import Workbook

from audit.domain import categories, fields
from audit.xlsx.columns import headers
from audit.xlsx.export import A4, HEADER_FILL, sheet_title, text

ROWS_WITH_LISTS = 2000


def write_template(db: Database, out: str | IO[bytes], lang: str = "en") -> None:
    with force_locale(lang):
        wb = Workbook(out, {"constant_memory": True, "strings_to_formulas": False})
        header = wb.add_format({"bold": True, "bg_color": HEADER_FILL})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        taken: set[str] = set()
        titles = []
        for name in (_("Rules"), _("Explanation"), _("Lists")):
            titles.append(sheet_title(name, taken))
            taken.add(titles[-1])
        ws = wb.add_worksheet(titles[0])
        explain = wb.add_worksheet(titles[1])
        lists = wb.add_worksheet(titles[2])
        for sheet in (ws, explain):
            sheet.set_paper(A4)
            sheet.set_landscape()
            sheet.fit_to_pages(1, 0)
            sheet.repeat_rows(0)

        columns = fields.rule_spec().columns
        names = headers(lang)
        header_of = {f.column_key: name for f, name in zip(columns, names, strict=True)}
        for index, (column, name) in enumerate(zip(columns, names, strict=True)):
            ws.set_column(index, index, column.width)
            ws.write_string(0, index, name, header)
        ws.freeze_panes(1, 0)

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
        for list_index, (key, values) in enumerate(choices.items()):
            letter = xl_col_to_name(list_index)
            source = f"={quote_sheetname(titles[2])}!${letter}$2:${letter}${len(values) + 1}"
            column = keys.index(key)
            ws.data_validation(
                1,
                column,
                ROWS_WITH_LISTS - 1,
                column,
                {
                    "validate": "list",
                    "source": source,
                    "ignore_blank": True,
                    "error_title": _("Unknown value"),
                    "error_message": _("Choose a value from the list."),
                    # A new category name is allowed.
                    "show_error": key != "category",
                },
            )
        # The Lists sheet row by row: row 1 the headers, then each list's n-th value.
        for list_index, key in enumerate(choices):
            lists.write_string(0, list_index, header_of[key])
        for row, values in enumerate(zip_longest(*choices.values()), 1):
            for list_index, value in enumerate(values):
                if value is not None:
                    lists.write_string(row, list_index, text(value))
        lists.hide()

        for index, label in enumerate(
            [_("Column"), _("Required"), _("Meaning"), _("Allowed values")]
        ):
            explain.write_string(0, index, label, header)
        allowed = {key: ", ".join(values) for key, values in choices.items()}
        allowed.update(
            (f.column_key, ", ".join(str(v) for v in f.choices.values()))
            for f in columns
            if f.kind == fields.CHOICES
        )
        row = 1
        for f in columns:
            values = [
                header_of[f.column_key],
                _("yes") if f.required and f.kind != fields.CHOICE else "",
                str(f.explanation or ""),
                allowed.get(f.column_key, ""),
            ]
            for index, value in enumerate(values):
                explain.write_string(row, index, text(value), wrap)
            row += 1
        explain.write_string(
            row + 1,
            0,
            _(
                "Headers may be in English or Dutch, in any order and any case. Other"
                " columns are ignored and reported. Values match on their English or"
                " Dutch name."
            ),
            wrap,
        )
        for index, width in enumerate((26, 10, 70, 70)):
            explain.set_column(index, index, width)
        wb.close()

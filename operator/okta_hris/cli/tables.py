"""Listings for people and for scripts: tables that fit the terminal, values that cannot break it.

Every value in the directory came from Okta, and Okta accepts almost anything in a profile:
escape sequences, bidirectional overrides, rich markup, megabytes. Tables therefore hold
``rich.text.Text`` (never parsed as markup) of cleaned text, and JSON and CSV escape or drop
what a terminal would act on.

Columns are chosen as ``kubectl get`` does: each has a priority, the table shows the columns
that fit the terminal in that order (the rest are named under the table), and ``-o wide`` shows
them all, however wide that makes the lines. Values that are read as a whole (e-mail addresses,
ids, codes, times) are never wrapped or cut; only free text wraps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

# What a terminal would act on rather than print: C0 and C1 controls (ESC and CSI start escape
# sequences), and the bidirectional overrides and isolates that reorder what follows.
# A lone surrogate (which JSON allows Okta to send) cannot even be written out as UTF-8.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_LINE_BREAKS = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
# In CSV a cell may hold lines (quoted) and tabs; nothing else a terminal would act on.
_UNPRINTABLE_IN_CSV = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# What makes a spreadsheet read a cell as a formula (=HYPERLINK(...), +, -, @, and a tab or
# CR before them): such a cell gets a leading ' (OWASP's CSV injection advice). A phone number
# or a negative count (+44 20 7946 0018, -5) is kept as it is: digits, spaces and ( ) . - call
# no function and reach no other program.
_CSV_FORMULA = re.compile(r"[=@\t\r]|[+-](?![0-9 ().-]*$)")
# JSON escapes C0 itself; these it leaves as they are with ensure_ascii=False.
_JSON_ESCAPED = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)

# Free text longer than this is cut in tables (JSON and CSV keep every character): a profile
# value of a megabyte must not turn one row into a thousand lines.
FREE_TEXT_LIMIT = 200
# A wrapping column is given at least this much room before a lower-priority column is.
_WRAP_WIDTH = 16
# Each column costs its padding (one space each side) and one border; the table one more border.
_COLUMN_OVERHEAD = 3
_TABLE_OVERHEAD = 1


def clean(text: str) -> str:
    """``text`` as one line that prints as itself: breaks become spaces, controls are dropped."""
    return _UNPRINTABLE.sub("", _LINE_BREAKS.sub(" ", text))


def clean_csv(text: str) -> str:
    """A CSV cell: line breaks kept (the cell is quoted), controls dropped, and a cell that a
    spreadsheet would run as a formula prefixed with ' so that it shows as text."""
    if _CSV_FORMULA.match(text):
        text = "'" + text
    return _UNPRINTABLE_IN_CSV.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


def dump_json(rows: Any) -> str:
    """Indented JSON, non-ASCII kept readable, and nothing in it a terminal would act on."""
    text = json.dumps(rows, indent=2, ensure_ascii=False, default=json_value)
    return _JSON_ESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def cell(value: object) -> str:
    """A value as table text: lists joined, times in UTC, booleans as yes/no, cleaned."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, tuple | list):
        return clean(", ".join(str(v) for v in value)).strip()
    return clean(str(value)).strip()


@dataclass(frozen=True)
class Column:
    """A column of a table: ``priority`` 0 is always shown; higher numbers give way first."""

    name: str
    priority: int = 0
    header: str | None = None  # when shorter than the name (the key in JSON and CSV) helps
    wrap: bool = False  # free text; everything else is shown whole, on one line
    justify: Literal["left", "right"] = "left"  # right for counts

    @property
    def title(self) -> str:
        return self.header or self.name


def terminal_width(console: Console) -> int:
    # Read at each listing: the shared Console is made at import, before a test (or a
    # wrapper script) may set COLUMNS; rich would otherwise keep the width it saw then.
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return console.width


def _text(value: str, column: Column) -> str:
    if column.wrap and len(value) > FREE_TEXT_LIMIT:
        return value[: FREE_TEXT_LIMIT - 1] + "…"
    return value


def print_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    wide: bool = False,
) -> None:
    """Print ``rows`` (cells already made with ``cell``) under ``title``, fitting the terminal."""
    rows = [
        [_text(value, column) for value, column in zip(row, columns, strict=True)] for row in rows
    ]
    natural = [
        max([cell_len(column.title), *(cell_len(row[index]) for row in rows)])
        for index, column in enumerate(columns)
    ]
    # What a column needs at least: free text wraps down to a reasonable width, the rest not.
    needed = [
        min(width, max(_WRAP_WIDTH, cell_len(column.title))) if column.wrap else width
        for width, column in zip(natural, columns, strict=True)
    ]
    width = terminal_width(console)
    shown = _fitting(columns, needed, width) if not wide else set(range(len(columns)))
    indexes = [index for index in range(len(columns)) if index in shown]
    hidden = [column.title for index, column in enumerate(columns) if index not in shown]

    def table_width(widths: Sequence[int]) -> int:
        return _TABLE_OVERHEAD + sum(widths[index] + _COLUMN_OVERHEAD for index in indexes)

    # The table's width is always given, so rich never sizes it by a width of its own (the
    # shared Console may have fixed one at import). Free text wraps to fit the terminal; the
    # table is wider than the terminal only when asked (-o wide) or when even the columns that
    # are always shown do not fit: then lines run long, as kubectl's do, and no value is cut.
    fitted = table_width(natural)
    if not wide:
        fitted = min(fitted, max(width, table_width(needed)))
    table = Table(
        title=Text(clean(title)),
        title_justify="left",
        title_style="",
        width=fitted,
        caption=Text(f"not shown: {', '.join(hidden)} (-o wide shows every column)")
        if hidden
        else None,
        caption_justify="left",
        caption_style="dim",
    )
    for index in indexes:
        column = columns[index]
        table.add_column(
            column.title,
            justify=column.justify,
            no_wrap=not column.wrap,
            # Wrapping text is folded rather than cut should a word be wider than the column.
            overflow="fold",
            min_width=None if column.wrap else natural[index],
        )
    for row in rows:
        table.add_row(*(Text(row[index]) for index in indexes))
    console.print(table)


def _fitting(columns: Sequence[Column], needed: Sequence[int], width: int) -> set[int]:
    """The columns to show: priority 0 always, then by priority (then order) while they fit."""
    shown = {index for index, column in enumerate(columns) if column.priority == 0}
    used = _TABLE_OVERHEAD + sum(needed[index] + _COLUMN_OVERHEAD for index in shown)
    optional = sorted(
        (index for index, column in enumerate(columns) if column.priority > 0),
        key=lambda index: (columns[index].priority, index),
    )
    for index in optional:
        cost = needed[index] + _COLUMN_OVERHEAD
        if used + cost <= width:
            shown.add(index)
            used += cost
    return shown
